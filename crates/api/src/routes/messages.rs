//! `/v1/messages`: send, batch, get, list, cancel, estimate.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use smsgate_core::clock::parse_rfc3339;
use smsgate_core::intake::{Rejection, SendRequest};
use smsgate_core::message::{MessageId, Status};
use smsgate_core::store::{MessageQuery, Tenant};
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{
    Accepted, BatchAccepted, BatchEntry, EstimateRequest, EstimateView, MessageView, Page,
    SendBatch, SendMessage,
};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use crate::extract::{JsonBody, QueryParams};

/// Most messages in one batch request.
pub const MAX_BATCH: usize = 1000;

pub(crate) fn to_request(
    m: SendMessage,
    caller: &Caller,
    tenant: Option<&Tenant>,
) -> Result<SendRequest, Rejection> {
    m.into_request(caller.0.id.clone(), caller.tenant(), tenant)
}

/// Every tenant as configured (sender ids, quota), shared: a send borrows its tenant from it.
pub(crate) async fn tenants(state: &AppState) -> ApiResult<crate::tenants::TenantMap> {
    Ok(state.tenants.all(state.store.as_ref()).await?)
}

/// 429 `quota_exceeded` when `n` more messages would pass the tenant's queue quota (other
/// tenants are not affected: each has its own count).
pub(crate) async fn admit_quota(
    state: &AppState,
    tenant: Option<&Tenant>,
    n: u64,
) -> ApiResult<()> {
    let Some((t, quota)) = tenant.and_then(|t| Some((t, t.queue_quota?))) else {
        return Ok(());
    };
    state
        .tenants
        .admit(&state.store, &t.id, quota, n, state.clock.now_ms())
        .await?
        .map_err(|full| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                format!(
                    "tenant '{}' has {} messages waiting, its queue quota is {}; retry after \
                     the Retry-After delay",
                    t.id, full.depth, full.max
                ),
            )
        })
}

/// Send one message.
#[utoipa::path(post, path = "/v1/messages", tag = "messages", request_body = SendMessage,
    responses(
        (status = 202, description = "Durably queued (or the earlier message of the same idempotency key)", body = Accepted),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 429, description = "Queue full ([limits] max_queued); see Retry-After", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<SendMessage>,
) -> ApiResult<impl IntoResponse> {
    caller.require("messages:send")?;
    let all = tenants(&state).await?;
    let tenant = all.get(caller.tenant());
    if let Some(url) = &body.callback_url
        && !caller.0.admin
    {
        let nets = tenant.map_or(&[][..], |t| &t.allow_networks);
        crate::routes::check_outbound_url(&state, url, Some(nets))?;
    }
    let req = to_request(body, &caller, tenant).map_err(|r| {
        if r.code == "sender_not_allowed" {
            ApiError::forbidden(r.message)
        } else {
            r.into()
        }
    })?;
    admit_quota(&state, tenant, 1).await?;
    let a = state.intake.send(req).await?;
    if !a.duplicate {
        state.tenants.accepted(caller.tenant(), 1);
    }
    let mut headers = HeaderMap::new();
    if a.duplicate {
        headers.insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    let body = Accepted {
        id: a.id.to_string(),
        status: a.status.as_str().to_owned(),
        segments: a.segments,
        encoding: a.encoding,
    };
    Ok((StatusCode::ACCEPTED, headers, Json(body)))
}

/// Send up to 1,000 messages; each is accepted or rejected on its own.
#[utoipa::path(post, path = "/v1/messages/batch", tag = "messages", request_body = SendBatch,
    responses(
        (status = 202, description = "Valid entries durably queued, invalid ones listed with reasons", body = BatchAccepted),
        (status = 400, description = "Not a batch", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_batch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<SendBatch>,
) -> ApiResult<impl IntoResponse> {
    caller.require("messages:send")?;
    let all = tenants(&state).await?;
    let tenant = all.get(caller.tenant());
    if body.messages.is_empty() {
        return Err(ApiError::bad_request("empty_batch", "messages is empty"));
    }
    if body.messages.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "{} messages in one batch; the limit is {MAX_BATCH}",
                body.messages.len()
            ),
        ));
    }
    let requests = body
        .messages
        .into_iter()
        .map(|raw| {
            serde_json::from_value::<SendMessage>(raw)
                .map_err(|e| Rejection::new("invalid_json", e.to_string()))
                .and_then(|m| to_request(m, &caller, tenant))
        })
        .collect::<Vec<_>>();
    let valid = requests.iter().filter(|r| r.is_ok()).count() as u64;
    admit_quota(&state, tenant, valid).await?;
    let results = state.intake.send_many(requests).await?;
    let fresh = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|a| !a.duplicate))
        .count() as u64;
    state.tenants.accepted(caller.tenant(), fresh);
    let mut accepted = 0;
    let mut entries = Vec::with_capacity(results.len());
    for (index, result) in results.into_iter().enumerate() {
        entries.push(match result {
            Ok(a) => {
                accepted += 1;
                BatchEntry {
                    index,
                    id: Some(a.id.to_string()),
                    status: a.status.as_str().to_owned(),
                    segments: Some(a.segments),
                    encoding: Some(a.encoding),
                    error: None,
                }
            }
            Err(e) => BatchEntry {
                index,
                id: None,
                status: "rejected".into(),
                segments: None,
                encoding: None,
                error: Some(ErrorDetail {
                    code: e.code.into(),
                    message: e.message,
                }),
            },
        });
    }
    let messages = entries;
    let rejected = messages.len() - accepted;
    Ok((
        StatusCode::ACCEPTED,
        Json(BatchAccepted {
            accepted,
            rejected,
            messages,
        }),
    ))
}

fn parse_id(id: &str) -> Result<MessageId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("message"))
}

/// A message with its timeline.
#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageView>> {
    caller.require("messages:read")?;
    let id = parse_id(&id)?;
    match state.store.message(id).await? {
        Some((m, events)) if caller.may_see(m.tenant.as_deref()) => {
            Ok(Json(MessageView::new(&m, Some(&events))))
        }
        _ => Err(ApiError::not_found("message")),
    }
}

/// Filters of `GET /v1/messages`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this status.
    pub status: Option<String>,
    /// Only this destination (E.164).
    pub to: Option<String>,
    /// Only messages created at or after this time (RFC 3339).
    pub since: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        l @ 1..=500 => Ok(l),
        l => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit {l}: use 1 to 500"),
        )),
    }
}

fn parse_cursor(c: Option<&str>) -> Result<Option<MessageId>, ApiError> {
    c.map(|c| {
        c.parse().map_err(|_| {
            ApiError::bad_request("invalid_cursor", "cursor is not one this API gave out")
        })
    })
    .transpose()
}

fn parse_since(s: Option<&str>) -> Result<Option<i64>, ApiError> {
    s.map(|s| parse_rfc3339(s).map_err(|e| ApiError::bad_request("invalid_since", e)))
        .transpose()
}

/// Messages, newest first, with cursor pagination.
#[utoipa::path(get, path = "/v1/messages", tag = "messages", params(ListParams),
    responses((status = 200, body = Page<MessageView>), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    QueryParams(p): QueryParams<ListParams>,
) -> ApiResult<Json<Page<MessageView>>> {
    caller.require("messages:read")?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            s.parse::<Status>()
                .map_err(|e| ApiError::bad_request("invalid_status", e.to_string()))
        })
        .transpose()?;
    let to =
        p.to.as_deref()
            .map(|t| {
                smsgate_core::number::Msisdn::parse(t)
                    .map(|m| m.as_str().to_owned())
                    .map_err(|e| ApiError::bad_request("invalid_number", e.to_string()))
            })
            .transpose()?;
    let limit = page_limit(p.limit)?;
    let q = MessageQuery {
        tenant: caller.tenant_filter(),
        status,
        to,
        since: parse_since(p.since.as_deref())?,
        before: parse_cursor(p.cursor.as_deref())?,
        limit,
    };
    let rows = state.store.list_messages(&q).await?;
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|m| m.id.to_string()))
        .flatten();
    let data = rows.iter().map(|m| MessageView::new(m, None)).collect();
    Ok(Json(Page { data, next_cursor }))
}

/// Cancel a message that is still queued.
#[utoipa::path(delete, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Canceled", body = MessageView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "No longer queued", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageView>> {
    caller.require("messages:send")?;
    let id = parse_id(&id)?;
    match state.store.message(id).await? {
        Some((m, _)) if caller.may_see(m.tenant.as_deref()) => {}
        _ => return Err(ApiError::not_found("message")),
    }
    let m = state
        .store
        .cancel(id, state.clock.now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    state.signals.events.notify_one();
    if m.status != Status::Canceled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_cancelable",
            format!(
                "the message is already {}; only queued messages can be canceled",
                m.status
            ),
        ));
    }
    Ok(Json(MessageView::new(&m, None)))
}

/// How a text would be sent: encoding, parts, room left in the last part.
#[utoipa::path(post, path = "/v1/messages/estimate", tag = "messages", request_body = EstimateRequest,
    responses((status = 200, body = EstimateView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn estimate(
    _caller: Caller,
    JsonBody(body): JsonBody<EstimateRequest>,
) -> ApiResult<Json<EstimateView>> {
    let forced = match body.encoding.as_deref() {
        None | Some("auto") => None,
        Some(e) => Some(e.parse::<smsgate_core::sms::Encoding>().map_err(|_| {
            ApiError::bad_request(
                "invalid_encoding",
                format!("unknown encoding '{e}': use gsm7 or ucs2"),
            )
        })?),
    };
    let est = smsgate_core::sms::estimate(&body.text, forced)
        .map_err(|e| ApiError::bad_request("unencodable_text", e.to_string()))?;
    Ok(Json(EstimateView {
        encoding: est.encoding.as_str().to_owned(),
        segments: est.segments,
        characters: est.characters,
        remaining_in_last_segment: est.remaining_in_last_segment,
    }))
}
