//! `/v1/alerts` (list, get, ack), `/v1/devices/{id}/commands` (send, list, get) and
//! `/v1/devices/{id}/telemetry`: what the IoT engine did and does.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use smsgate_iot::IotError;
use smsgate_iot::engine::CommandRequest;
use smsgate_iot::model::AlertState;
use smsgate_iot::store::{AlertQuery, CommandQuery, TelemetryQuery};
use smsgate_iot::view::{AlertView, CommandView, TelemetryView};
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::Page;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{JsonBody, QueryParams};
use crate::routes::iot_service;

fn limit(l: Option<u32>) -> ApiResult<u32> {
    match l.unwrap_or(50) {
        l @ 1..=500 => Ok(l),
        l => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit {l}: use 1 to 500"),
        )),
    }
}

fn cursor(c: Option<&str>) -> ApiResult<Option<i64>> {
    c.map(|c| {
        c.parse().map_err(|_| {
            ApiError::bad_request("invalid_cursor", "cursor is not one this API gave out")
        })
    })
    .transpose()
}

/// Filters of `GET /v1/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// `open`, `acknowledged` or `resolved`.
    pub state: Option<String>,
    /// Only this device's.
    pub device: Option<String>,
    /// Only this rule's.
    pub rule: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// Alerts, newest first.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, body = Page<AlertView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_alerts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    QueryParams(p): QueryParams<AlertParams>,
) -> ApiResult<Json<Page<AlertView>>> {
    caller.require("iot")?;
    let alert_state = p
        .state
        .as_deref()
        .map(|s| {
            AlertState::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_state",
                    format!("unknown state '{s}': use open, acknowledged or resolved"),
                )
            })
        })
        .transpose()?;
    let q = AlertQuery {
        state: alert_state,
        device_id: p.device,
        rule_id: p.rule,
        owner: caller.tenant_filter(),
        before: cursor(p.cursor.as_deref())?,
        limit: limit(p.limit)?,
    };
    let rows = iot_service(&state)?.store().alerts(&q).await?;
    let next_cursor = (rows.len() as u32 == q.limit)
        .then(|| rows.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows.iter().map(AlertView::from).collect(),
        next_cursor,
    }))
}

/// One alert.
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_alert(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<AlertView>> {
    caller.require("iot")?;
    match iot_service(&state)?.store().alert(id).await? {
        Some(a) if caller.sees(a.owner.as_ref()) => Ok(Json(AlertView::from(&a))),
        _ => Err(ApiError::not_found("alert")),
    }
}

/// Acknowledge an open alert: escalation stops. 409 when it is already acknowledged or
/// resolved.
#[utoipa::path(post, path = "/v1/alerts/{id}/ack", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ack_alert(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<AlertView>> {
    caller.require("iot")?;
    let iot = iot_service(&state)?;
    let stored = iot.store().alert(id).await?;
    let Some(stored) = stored.filter(|a| caller.sees(a.owner.as_ref())) else {
        return Err(ApiError::not_found("alert"));
    };
    if stored.state == AlertState::Resolved {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_resolved",
            format!("alert {id} is resolved"),
        ));
    }
    let by = format!("api:{}", caller.0.id);
    let alert = iot.call(move |e, now| e.ack(id, &by, now)).await?;
    Ok(Json(AlertView::from(&alert)))
}

async fn check_device(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    caller.require("iot")?;
    let (caller, id) = (caller.clone(), id.to_owned());
    iot_service(state)?
        .call(move |e, _| match e.device(&id) {
            Some(d) if caller.sees(d.device.owner.as_ref()) => Ok(()),
            _ => Err(IotError::NotFound(format!("device '{id}'"))),
        })
        .await?;
    Ok(())
}

/// Send a command to a device. 202 once the SMS is queued; follow `state` (`pending → sent →
/// acknowledged | failed | timed_out`) on `GET /v1/devices/{id}/commands/{command_id}` or
/// with `command.*` webhooks.
#[utoipa::path(post, path = "/v1/devices/{id}/commands", tag = "commands",
    params(("id" = String, Path)), request_body = CommandRequest,
    responses((status = 202, body = CommandView), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_command(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CommandRequest>,
) -> ApiResult<impl IntoResponse> {
    check_device(&state, &caller, &id).await?;
    let owner = None; // the device's tenant
    let cmd = iot_service(&state)?
        .call(move |e, now| e.send_command(&id, body, owner, now))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(CommandView::from(&cmd))))
}

/// Paging of device histories.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

/// A device's commands, newest first.
#[utoipa::path(get, path = "/v1/devices/{id}/commands", tag = "commands",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = Page<CommandView>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_commands(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<PageParams>,
) -> ApiResult<Json<Page<CommandView>>> {
    check_device(&state, &caller, &id).await?;
    let q = CommandQuery {
        device_id: Some(id),
        before: cursor(p.cursor.as_deref())?,
        limit: limit(p.limit)?,
    };
    let rows = iot_service(&state)?.store().commands(&q).await?;
    let next_cursor = (rows.len() as u32 == q.limit)
        .then(|| rows.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows.iter().map(CommandView::from).collect(),
        next_cursor,
    }))
}

/// One command of a device, with the device's reply.
#[utoipa::path(get, path = "/v1/devices/{id}/commands/{command_id}", tag = "commands",
    params(("id" = String, Path), ("command_id" = i64, Path)),
    responses((status = 200, body = CommandView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_command(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, command_id)): Path<(String, i64)>,
) -> ApiResult<Json<CommandView>> {
    check_device(&state, &caller, &id).await?;
    match iot_service(&state)?.store().command(command_id).await? {
        Some(c) if c.device_id == id => Ok(Json(CommandView::from(&c))),
        _ => Err(ApiError::not_found("command")),
    }
}

/// A device's telemetry history, newest first: every SMS it sent, parsed (`ok`), kept as
/// text (`unparsed`), not trusted (`suspicious`) or taken as a command reply (`reply`).
#[utoipa::path(get, path = "/v1/devices/{id}/telemetry", tag = "devices",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = Page<TelemetryView>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_telemetry(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<PageParams>,
) -> ApiResult<Json<Page<TelemetryView>>> {
    check_device(&state, &caller, &id).await?;
    let q = TelemetryQuery {
        device_id: id,
        before: cursor(p.cursor.as_deref())?,
        limit: limit(p.limit)?,
    };
    let rows = iot_service(&state)?.store().telemetry(&q).await?;
    let next_cursor = (rows.len() as u32 == q.limit)
        .then(|| rows.last().map(|t| t.received_at.to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows.iter().map(TelemetryView::from).collect(),
        next_cursor,
    }))
}
