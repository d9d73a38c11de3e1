//! The `system` endpoints: connectors, SMPP server sessions, queue stats, `/healthz` and
//! `/readyz`, what operators and orchestrators poll to see whether the gateway is working.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use smsgate_core::connector::ConnectorInfo;
use smsgate_core::store::QueueStats;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};

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
    caller.require_admin()?;
    let sessions = state
        .smpp_sessions
        .as_ref()
        .map(|s| s.sessions())
        .unwrap_or_default();
    Ok(Json(serde_json::json!({ "sessions": sessions })))
}

/// The northbound channels that keep a link to an outside system (the MQTT bridge, …): each
/// one's state (`connected`, `connecting`, `down`, `standby` on a node that does not lead),
/// its last error and what it moved since start. Any key; an empty list when none is
/// configured.
#[utoipa::path(get, path = "/v1/channels", tag = "system",
    responses((status = 200, description = "Channels and their links", body = serde_json::Value),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_channels(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Json<serde_json::Value> {
    let channels: Vec<_> = state.channels.iter().map(|c| c.status()).collect();
    Json(serde_json::json!({ "channels": channels }))
}

/// The gateway nodes sharing this store: each one's beat, what it holds (messages claimed and
/// not yet recorded, the `leader` lease) and the messages it took over from dead nodes; which
/// one this answer came from. Admin keys only.
#[utoipa::path(get, path = "/v1/nodes", tag = "system",
    responses((status = 200, description = "Nodes", body = serde_json::Value),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_nodes(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require_admin()?;
    let nodes = live_nodes(&state).await?;
    Ok(Json(serde_json::json!({
        "this_node": state.store.node_id(),
        "node_timeout_ms": state.node_timeout.as_millis() as u64,
        "nodes": nodes,
    })))
}

/// The nodes the store lists, each marked live when its beat is within `node_timeout`.
pub(crate) async fn live_nodes(
    state: &AppState,
) -> smsgate_core::store::StoreResult<Vec<smsgate_core::cluster::NodeInfo>> {
    let now = state.clock.now_ms();
    let timeout = state.node_timeout.as_millis() as i64;
    let mut nodes = state.store.list_nodes().await?;
    for n in &mut nodes {
        n.live = n.heartbeat_at >= now - timeout;
    }
    Ok(nodes)
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

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the store answers and at least one connector is bound.
#[utoipa::path(get, path = "/readyz", tag = "system", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let store_ok = state.cached_stats().await.is_ok();
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
