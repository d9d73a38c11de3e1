//! Route handlers, grouped by resource.

pub mod admin;
pub mod alerts;
pub mod inbound;
pub mod inbound_rules;
pub mod messages;
pub mod numbers;
pub mod optouts;
pub mod registry;
pub mod routing;
pub mod stream;
pub mod system;
pub mod twilio;
pub mod upstreams;
pub mod webhooks;

use crate::AppState;
use crate::error::ApiError;

/// The IoT engine's handle, or 503 `iot_unavailable` while it is not running.
pub(crate) fn iot_service(state: &AppState) -> Result<&smsgate_iot::task::IotService, ApiError> {
    state.iot.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "iot_unavailable",
            "the IoT engine is not running on this node (several nodes on one database run \
             it on the leader only: see GET /v1/nodes)",
        )
    })
}

/// 422 `url_not_allowed` when what the URL itself says (an IP literal, `localhost`) is outside
/// the reach of a tenant with `tenant_networks` allowed (`None`: an admin's URL, which may
/// reach internal networks but never link-local ones). A host name is checked again at every
/// connection.
pub(crate) fn check_outbound_url(
    state: &AppState,
    url: &str,
    tenant_networks: Option<&[String]>,
) -> Result<(), ApiError> {
    let mut allow = state.allow_networks.clone();
    allow.extend(
        smsgate_core::outbound::parse_networks(tenant_networks.unwrap_or_default())
            .unwrap_or_default(),
    );
    let reach = smsgate_core::outbound::Reach {
        trusted: tenant_networks.is_none(),
        allow,
    };
    reach.check_url(url).map_err(|m| {
        tracing::info!(url, reason = %m, "outbound URL refused");
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "url_not_allowed",
            m,
        )
    })
}

/// [`check_outbound_url`] for what `tenant` (`None`: an admin) makes: within the tenant's
/// `allow_networks`, read from the tenant cache.
pub(crate) async fn check_tenant_url(
    state: &AppState,
    tenant: Option<&str>,
    url: &str,
) -> Result<(), ApiError> {
    let allowed = match tenant {
        Some(t) => Some(
            state
                .tenants
                .get(state.store.as_ref(), t)
                .await?
                .map(|t| t.allow_networks)
                .unwrap_or_default(),
        ),
        None => None,
    };
    check_outbound_url(state, url, allowed.as_deref())
}

/// Records an action in the audit log; a failure to record is logged, not the caller's.
pub(crate) async fn audit(
    state: &AppState,
    caller: &crate::auth::Caller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) {
    let entry = smsgate_core::store::AuditEntry {
        id: 0,
        at: state.clock.now_ms(),
        key_id: Some(caller.0.id.clone()),
        tenant: Some(caller.0.tenant.clone()),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: (!detail.is_null()).then_some(detail),
    };
    tracing::info!(key = %caller.0.id, action, target, "audit");
    if let Err(e) = state.store.append_audit(entry).await {
        tracing::error!(error = %e, action, target, "writing the audit log failed");
    }
}

/// A phone number from a path or body, in E.164; 400 `invalid_number` otherwise.
pub(crate) fn e164(n: &str) -> Result<String, ApiError> {
    smsgate_core::number::Msisdn::parse(n)
        .map(|m| m.as_str().to_owned())
        .map_err(|e| ApiError::bad_request("invalid_number", e.to_string()))
}
