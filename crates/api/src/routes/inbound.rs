//! `GET /v1/inbound` and `POST /v1/sim/inbound`: the received (mobile-originated) messages, and
//! the simulator's way to make one, which lands in the same table.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use smsgate_core::store::InboundQuery;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{InboundView, Page, SimInbound};
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
    caller: Caller,
    QueryParams(p): QueryParams<InboundParams>,
) -> ApiResult<Json<Page<InboundView>>> {
    caller.require("inbound:read")?;
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
            tenant: caller.tenant_filter(),
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

/// Play a phone: deliver an inbound SMS through the simulated network (only while the
/// simulator connector is configured, and for admin keys).
#[utoipa::path(post, path = "/v1/sim/inbound", tag = "simulator", request_body = SimInbound,
    responses((status = 202, description = "Stored as an inbound message"),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 404, description = "No simulator configured", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sim_inbound(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<SimInbound>,
) -> ApiResult<StatusCode> {
    // Any sender can be played here, an on-call contact's `ACK` included: admins only.
    if !caller.0.admin {
        return Err(ApiError::forbidden(
            "only admin keys may inject inbound SMS through the simulator (any sender could be faked)",
        ));
    }
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
