//! The HTTP face of smsgate: REST v1 (SPEC.md § HTTP API), its OpenAPI document, health
//! endpoints and the dashboard, as one axum [`Router`].
//!
//! Handlers validate through `smsgate_core::intake` and answer 202 only after the store has
//! committed; errors are JSON `{"error": {"code", "message"}}` with a 4xx/5xx status.
//!
//! # Layout
//! - [`router`]: the routes, body limit and tracing layer.
//! - `auth`: bearer API keys (hashed lookup, short cache).
//! - `extract`: JSON/query extractors with JSON errors.
//! - `dto`: request/response shapes (also the OpenAPI schemas).
//! - `routes::messages`: send, batch, get, list, cancel, estimate.
//! - `routes::inbound`: received messages, and the simulator's `POST /v1/sim/inbound`.
//! - `routes::webhooks`: event subscriptions.
//! - `routes::stream`: `GET /v1/events/stream`, the event log as server-sent events.
//! - `routes::system`: connectors, SMPP server sessions, channel links, stats, health and
//!   readiness.
//! - `routes::routing`: the route table in force (`GET /v1/routes`).
//! - `routes::registry`: IoT devices, contacts, on-call groups, rules (CRUD).
//! - `routes::alerts`: alerts and acks, device commands, telemetry history.
//! - `routes::admin`: API keys, tenants and the audit log (admin keys only).
//! - `routes::optouts`: the recipients a tenant must not send to.
//! - `routes::inbound_rules`: keyword routing of inbound SMS managed at run time.
//! - `routes::numbers`: export and erasure of what is held about one number.
//! - `tenants`: the tenant list and per-tenant quota gates, cached.
//! - `dashboard`: the single-page web dashboard at `/`.
//! - `routes::twilio`: the Twilio-compatible Messages API under `/2010-04-01/`.
//! - `kannel`: Kannel's `/cgi-bin/sendsms`, served on its own listener (`[kannel]`).

mod auth;
mod dashboard;
pub mod dto;
pub mod error;
mod extract;
pub mod kannel;
mod metrics;
mod routes;
mod session;
mod tenants;

/// A `MessagingServiceSid`'s sender pool (`[[twilio.messaging_services]]`).
pub use routes::twilio::MessagingService;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use smsgate_core::clock::Clock;
use smsgate_core::connector::InboundInjector;
use smsgate_core::intake::Intake;
use smsgate_core::routing::{Connectors, SharedRouter};
use smsgate_core::signals::Signals;
use smsgate_core::store::Store;
use utoipa::OpenApi;

pub use auth::Caller;
pub use routes::admin::{check_tenant, new_key};
pub use routes::webhooks::MAX_WEBHOOKS_PER_TENANT;

/// What the gateway hands the API: every service is running before the router is built, so
/// no handler ever sees a half-wired gateway.
pub struct Services {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Clock,
    /// The one door into the queue (validation, `[limits] max_queued`, commit, wake-ups).
    pub intake: Arc<Intake>,
    /// Wake-ups for the dispatcher and webhook loops.
    pub signals: Signals,
    /// Configured connectors.
    pub connectors: Connectors,
    /// The live route table (for `/v1/routes`).
    pub router: Arc<SharedRouter>,
    /// The simulated network, when configured (enables `/v1/sim/inbound`).
    pub sim: Option<Arc<dyn InboundInjector>>,
    /// The IoT engine (the IoT routes answer 503 without it).
    pub iot: Option<smsgate_iot::task::IotService>,
    /// The SMPP server's bound client sessions, when `[smpp_server]` runs.
    pub smpp_sessions: Option<Arc<dyn smsgate_core::northbound::ClientSessions>>,
    /// The northbound channels that keep a link to an outside system (the MQTT bridge, …),
    /// for `GET /v1/channels` and `/metrics`; empty when none is configured.
    pub channels: Vec<Arc<dyn smsgate_core::northbound::ChannelState>>,
    /// `[webhooks] allow_networks`: internal networks every tenant's webhooks may reach.
    pub allow_networks: Vec<smsgate_core::outbound::Cidr>,
    /// `[cluster] node_timeout`: how old a node's beat may be for `/v1/nodes` to call it live.
    pub node_timeout: std::time::Duration,
    /// The config's `[[inbound_rules]]` (shown first by `GET /v1/inbound-rules`).
    pub inbound_rules: Vec<smsgate_core::inbound_rules::InboundRuleConfig>,
    /// `[[twilio.messaging_services]]`: the sender pools a `MessagingServiceSid` names.
    pub messaging_services: Vec<routes::twilio::MessagingService>,
}

/// Everything handlers share: the [`Services`] and the API's own caches.
pub struct AppState {
    services: Services,
    /// Verified API keys.
    key_cache: auth::KeyCache,
    /// Per-key rate limits.
    rate_limits: auth::RateLimits,
    /// Tenants (sender ids, quotas), re-read every two seconds.
    tenants: tenants::TenantCache,
    /// The last queue count, for the endpoints that need no key (see [`AppState::cached_stats`]).
    stats_cache: tokio::sync::Mutex<Option<(std::time::Instant, smsgate_core::store::QueueStats)>>,
    /// True once the gateway stops: ends the event streams, which would hold the HTTP
    /// listener's drain otherwise (see [`AppState::close_streams`]).
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl AppState {
    /// Shared state for [`router`].
    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(Self {
            services,
            key_cache: auth::KeyCache::default(),
            rate_limits: auth::RateLimits::default(),
            tenants: tenants::TenantCache::default(),
            stats_cache: tokio::sync::Mutex::new(None),
            closing: tokio::sync::watch::channel(false).0,
        })
    }

    /// Ends every open `GET /v1/events/stream` (and refuses none: a new one ends at once).
    /// The gateway calls it when it stops, so a `smsgate tail` or a dashboard left open does
    /// not keep the HTTP listener draining for its 10 s.
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes true when [`AppState::close_streams`] is called.
    pub(crate) fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Queue counts at most a second old, for `/metrics` and `/readyz`: they answer without a
    /// key, so a flood of them must not run a full count each on the pool that authentication
    /// needs. Concurrent callers wait for the one count in progress.
    pub async fn cached_stats(
        &self,
    ) -> smsgate_core::store::StoreResult<smsgate_core::store::QueueStats> {
        let mut cache = self.stats_cache.lock().await;
        if let Some((at, stats)) = cache.as_ref()
            && at.elapsed() < std::time::Duration::from_secs(1)
        {
            return Ok(stats.clone());
        }
        let stats = self.store.stats().await?;
        *cache = Some((std::time::Instant::now(), stats.clone()));
        Ok(stats)
    }
}

/// The OpenAPI document of the REST API, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "smsgate", description = "Self-hosted SMS gateway for IoT and M2M."),
    paths(
        routes::messages::send, routes::messages::send_batch, routes::messages::get_one,
        routes::messages::list, routes::messages::cancel, routes::messages::estimate,
        routes::inbound::list_inbound, routes::webhooks::create_webhook,
        routes::webhooks::list_webhooks, routes::webhooks::delete_webhook,
        routes::stream::stream,
        routes::system::list_connectors, routes::system::stats,
        routes::system::list_smpp_sessions, routes::system::list_nodes,
        routes::system::list_channels, routes::upstreams::dlr,
        session::sign_in, session::current, session::sign_out,
        routes::routing::list_routes,
        routes::inbound::sim_inbound, routes::system::healthz, routes::system::readyz,
        metrics::metrics,
        routes::registry::list_devices, routes::registry::create_device,
        routes::registry::get_device, routes::registry::put_device,
        routes::registry::delete_device, routes::registry::list_contacts,
        routes::registry::create_contact, routes::registry::get_contact,
        routes::registry::put_contact, routes::registry::delete_contact,
        routes::registry::list_groups, routes::registry::create_group,
        routes::registry::get_group, routes::registry::put_group,
        routes::registry::delete_group, routes::registry::list_rules,
        routes::registry::create_rule, routes::registry::get_rule, routes::registry::put_rule,
        routes::registry::delete_rule, routes::alerts::list_alerts, routes::alerts::get_alert,
        routes::alerts::ack_alert, routes::alerts::send_command, routes::alerts::list_commands,
        routes::alerts::get_command, routes::alerts::list_telemetry,
        routes::admin::list_keys, routes::admin::create_key, routes::admin::revoke_key,
        routes::admin::list_tenants, routes::admin::put_tenant, routes::admin::list_audit,
        routes::optouts::list_optouts, routes::optouts::create_optout,
        routes::optouts::delete_optout, routes::optouts::export_optouts,
        routes::optouts::import_optouts, routes::optouts::list_consents,
        routes::optouts::create_consent, routes::optouts::delete_consent,
        routes::numbers::export_number, routes::inbound_rules::create_inbound_rule,
        routes::inbound_rules::list_inbound_rules, routes::inbound_rules::get_inbound_rule,
        routes::inbound_rules::delete_inbound_rule,
        routes::numbers::erase_number,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// What bounds each request: its body size (413 beyond) and how long it may take, reading
/// its body included (408 `request_timeout` beyond: a client that trickles a body holds no
/// handler for longer).
#[derive(Clone, Copy, Debug)]
pub struct HttpOptions {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest time from the request's head to its answer.
    pub request_timeout: std::time::Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The whole HTTP API. `max_body_bytes` caps every request body (413 beyond).
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    router_with(
        state,
        HttpOptions {
            max_body_bytes,
            ..HttpOptions::default()
        },
    )
}

/// [`router`] with every bound chosen.
pub fn router_with(state: Arc<AppState>, options: HttpOptions) -> Router {
    let timeout = options.request_timeout;
    routes(state, options.max_body_bytes)
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                use axum::response::IntoResponse;
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(res) => res,
                    Err(_) => {
                        tracing::info!(?timeout, "request timed out");
                        error::ApiError::new(
                            axum::http::StatusCode::REQUEST_TIMEOUT,
                            "request_timeout",
                            format!("the request took longer than {timeout:?}; send it again"),
                        )
                        .into_response()
                    }
                }
            },
        ))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers on every answer: no MIME sniffing, no framing (clickjacking), no referrer; the
/// dashboard page gets a Content Security Policy that lets only its own inline script run and
/// only talk to this origin.
async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    use axum::http::HeaderValue;
    use axum::http::header;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html && let Ok(v) = HeaderValue::from_str(dashboard::content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

fn routes(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    use routes::{
        admin as ad, alerts as a, inbound as i, messages as m, registry as r, system as s,
        webhooks as w,
    };
    Router::new()
        .route("/v1/messages", post(m::send).get(m::list))
        .route("/v1/messages/batch", post(m::send_batch))
        .route("/v1/messages/estimate", post(m::estimate))
        .route("/v1/messages/{id}", get(m::get_one).delete(m::cancel))
        .route("/v1/inbound", get(i::list_inbound))
        .route(
            "/v1/inbound-rules",
            post(routes::inbound_rules::create_inbound_rule)
                .get(routes::inbound_rules::list_inbound_rules),
        )
        .route(
            "/v1/inbound-rules/{id}",
            get(routes::inbound_rules::get_inbound_rule)
                .delete(routes::inbound_rules::delete_inbound_rule),
        )
        .route(
            "/v1/webhooks",
            post(w::create_webhook).get(w::list_webhooks),
        )
        .route(
            "/v1/webhooks/{id}",
            axum::routing::delete(w::delete_webhook),
        )
        .route("/v1/events/stream", get(routes::stream::stream))
        .route("/v1/connectors", get(s::list_connectors))
        .route("/v1/smpp/sessions", get(s::list_smpp_sessions))
        .route("/v1/channels", get(s::list_channels))
        .route(
            "/v1/session",
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out),
        )
        // Receipts from HTTP upstream providers (no API key; checked by the connector).
        .route(
            "/v1/upstreams/{connector}/dlr",
            get(routes::upstreams::dlr).post(routes::upstreams::dlr),
        )
        // Twilio-compatible Messages API (HTTP Basic with the key's Account SID).
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(routes::twilio::create).get(routes::twilio::list),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{file}",
            get(routes::twilio::fetch)
                .post(routes::twilio::update)
                .delete(routes::twilio::delete),
        )
        .route("/v1/routes", get(routes::routing::list_routes))
        .route("/v1/stats", get(s::stats))
        .route("/v1/nodes", get(s::list_nodes))
        .route("/v1/sim/inbound", post(i::sim_inbound))
        .route("/v1/devices", get(r::list_devices).post(r::create_device))
        .route(
            "/v1/devices/{id}",
            get(r::get_device)
                .put(r::put_device)
                .delete(r::delete_device),
        )
        .route("/v1/devices/{id}/telemetry", get(a::list_telemetry))
        .route(
            "/v1/devices/{id}/commands",
            post(a::send_command).get(a::list_commands),
        )
        .route(
            "/v1/devices/{id}/commands/{command_id}",
            get(a::get_command),
        )
        .route(
            "/v1/contacts",
            get(r::list_contacts).post(r::create_contact),
        )
        .route(
            "/v1/contacts/{id}",
            get(r::get_contact)
                .put(r::put_contact)
                .delete(r::delete_contact),
        )
        .route("/v1/groups", get(r::list_groups).post(r::create_group))
        .route(
            "/v1/groups/{id}",
            get(r::get_group).put(r::put_group).delete(r::delete_group),
        )
        .route("/v1/rules", get(r::list_rules).post(r::create_rule))
        .route(
            "/v1/rules/{id}",
            get(r::get_rule).put(r::put_rule).delete(r::delete_rule),
        )
        .route("/v1/keys", get(ad::list_keys).post(ad::create_key))
        .route("/v1/keys/{id}", axum::routing::delete(ad::revoke_key))
        .route("/v1/tenants", get(ad::list_tenants))
        .route("/v1/tenants/{id}", axum::routing::put(ad::put_tenant))
        .route("/v1/audit", get(ad::list_audit))
        .route(
            "/v1/optouts",
            get(routes::optouts::list_optouts).post(routes::optouts::create_optout),
        )
        .route(
            "/v1/consents",
            get(routes::optouts::list_consents).post(routes::optouts::create_consent),
        )
        .route(
            "/v1/consents/{number}",
            axum::routing::delete(routes::optouts::delete_consent),
        )
        .route(
            "/v1/numbers/{number}",
            axum::routing::delete(routes::numbers::erase_number),
        )
        .route(
            "/v1/numbers/{number}/export",
            get(routes::numbers::export_number),
        )
        .route("/v1/optouts/export", get(routes::optouts::export_optouts))
        .route("/v1/optouts/import", post(routes::optouts::import_optouts))
        .route(
            "/v1/optouts/{number}",
            axum::routing::delete(routes::optouts::delete_optout),
        )
        .route("/v1/alerts", get(a::list_alerts))
        .route("/v1/alerts/{id}", get(a::get_alert))
        .route("/v1/alerts/{id}/ack", post(a::ack_alert))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(s::healthz))
        .route("/readyz", get(s::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(dashboard::page))
        .fallback(|| async { error::ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
