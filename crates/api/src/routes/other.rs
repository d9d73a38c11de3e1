//! `/v1/inbound`, `/v1/webhooks`, `/v1/connectors`, `/v1/sim/inbound`, health and stats.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use smsgate_core::connector::ConnectorInfo;
use smsgate_core::intake::check_url;
use smsgate_core::keys::random_id;
use smsgate_core::store::{InboundQuery, QueueStats, Webhook};
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{CreateWebhook, InboundView, Page, SimInbound, WebhookView};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{JsonBody, QueryParams};

/// Filters of `GET /v1/inbound`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboundParams {
    /// Only messages received at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only messages from this number.
    pub from: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// Received (mobile-originated) messages, newest first.
#[utoipa::path(get, path = "/v1/inbound", tag = "inbound", params(InboundParams),
    responses((status = 200, body = Page<InboundView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_inbound(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    QueryParams(p): QueryParams<InboundParams>,
) -> ApiResult<Json<Page<InboundView>>> {
    let limit = match p.limit.unwrap_or(50) {
        l @ 1..=500 => l,
        l => {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit {l}: use 1 to 500"),
            ));
        }
    };
    let since = p
        .since
        .as_deref()
        .map(|s| {
            smsgate_core::clock::parse_rfc3339(s)
                .map_err(|e| ApiError::bad_request("invalid_since", e))
        })
        .transpose()?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse().map_err(|_| {
                ApiError::bad_request("invalid_cursor", "cursor is not one this API gave out")
            })
        })
        .transpose()?;
    let rows = state
        .store
        .list_inbound(&InboundQuery {
            since,
            before,
            from: p.from,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|m| m.id.to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows.iter().map(InboundView::from).collect(),
        next_cursor,
    }))
}

/// Events a subscription may name.
const KNOWN_EVENTS: &[&str] = &[
    "message.status",
    "message.inbound",
    "alert.raised",
    "alert.acknowledged",
    "alert.escalated",
    "alert.resolved",
    "command.pending",
    "command.sent",
    "command.acknowledged",
    "command.failed",
    "command.timed_out",
    "device.telemetry",
];

fn check_pattern(p: &str) -> Result<(), ApiError> {
    let ok = p == "*"
        || KNOWN_EVENTS.contains(&p)
        || p.strip_suffix('*')
            .is_some_and(|pre| KNOWN_EVENTS.iter().any(|e| e.starts_with(pre)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_event",
            format!(
                "unknown event '{p}'; known: {}, or a prefix with '*'",
                KNOWN_EVENTS.join(", ")
            ),
        ))
    }
}

/// Subscribe a URL to events. The secret is returned only here.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateWebhook>,
) -> ApiResult<impl IntoResponse> {
    check_url(&body.url).map_err(|m| ApiError::bad_request("invalid_url", m))?;
    if body.events.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_event",
            "events is empty: name at least one",
        ));
    }
    for p in &body.events {
        check_pattern(p)?;
    }
    if let Some(s) = &body.secret
        && s.len() < 16
    {
        return Err(ApiError::bad_request(
            "weak_secret",
            "a webhook secret needs at least 16 characters",
        ));
    }
    let secret = body.secret.unwrap_or_else(|| random_id("whsec_", 24));
    let hook = Webhook {
        id: random_id("wh_", 8),
        api_key_id: caller.scope(),
        url: body.url,
        events: body.events,
        secret: secret.clone(),
        created_at: state.clock.now_ms(),
    };
    state.store.create_webhook(hook.clone()).await?;
    let mut view = WebhookView::new(&hook);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// The caller's subscriptions (all of them for an admin key).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookView>)), security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebhookView>>> {
    let scope = caller.scope();
    let hooks = state.store.list_webhooks(scope.as_deref()).await?;
    Ok(Json(hooks.iter().map(WebhookView::new).collect()))
}

/// Remove a subscription.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scope = caller.scope();
    if state.store.delete_webhook(&id, scope.as_deref()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

/// Each connector's state, counters and details.
#[utoipa::path(get, path = "/v1/connectors", tag = "system",
    responses((status = 200, description = "Connectors", body = Vec<serde_json::Value>)),
    security(("bearer" = [])))]
pub async fn list_connectors(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Json<Vec<ConnectorInfo>> {
    Json(state.connectors.all().iter().map(|c| c.info()).collect())
}

/// The client applications bound to the SMPP server (`[smpp_server]`) right now: account,
/// bind type, peer address, TLS, and since when. Admin keys only; an empty list when the
/// server is not configured.
#[utoipa::path(get, path = "/v1/smpp/sessions", tag = "system",
    responses((status = 200, description = "Bound SMPP sessions", body = serde_json::Value),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_smpp_sessions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    if caller.scope().is_some() {
        return Err(ApiError::forbidden(
            "only admin keys may list the SMPP server's sessions",
        ));
    }
    let sessions = state
        .smpp_sessions
        .as_ref()
        .map(|s| s.sessions())
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "sessions": sessions })))
}

/// Queue counts by status, for the dashboard.
#[utoipa::path(get, path = "/v1/stats", tag = "system",
    responses((status = 200, description = "Counts", body = serde_json::Value)),
    security(("bearer" = [])))]
pub async fn stats(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> ApiResult<Json<QueueStats>> {
    Ok(Json(state.store.stats().await?))
}

/// Play a phone: deliver an inbound SMS through the simulated network (only while the
/// simulator connector is configured).
#[utoipa::path(post, path = "/v1/sim/inbound", tag = "simulator", request_body = SimInbound,
    responses((status = 202, description = "Stored as an inbound message"),
        (status = 404, description = "No simulator configured", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sim_inbound(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    JsonBody(body): JsonBody<SimInbound>,
) -> ApiResult<StatusCode> {
    let Some(sim) = &state.sim else {
        return Err(ApiError::not_found(
            "simulator (configure a connector of type \"simulator\")",
        ));
    };
    let from = smsgate_core::number::Msisdn::parse(&body.from)
        .map_err(|e| ApiError::bad_request("invalid_number", e.to_string()))?;
    if body.text.is_empty() {
        return Err(ApiError::bad_request("empty_text", "text is empty"));
    }
    let to = body.to.unwrap_or_else(|| "+10000000000".into());
    if sim.inject_inbound(from.as_str(), &to, &body.text).await {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the gateway is stopping",
        ))
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the store answers and at least one connector is bound.
#[utoipa::path(get, path = "/readyz", tag = "system", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let store_ok = state.store.stats().await.is_ok();
    let bound = state
        .connectors
        .all()
        .iter()
        .filter(|c| c.info().state == smsgate_core::connector::ConnectorState::Bound)
        .count();
    let ready = store_ok && bound > 0;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({"ready": ready, "store": store_ok, "connectors_bound": bound})),
    )
}
