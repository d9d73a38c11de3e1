//! The Twilio-compatible Messages API under `/2010-04-01/Accounts/{AccountSid}/`: an
//! application written against Twilio (its SDKs included) switches by changing the base URL.
//!
//! - Auth: HTTP Basic with the key's Account SID (`AC…`, see `smsgate_core::twilio`) as the user
//!   and the API key as the password; the SID in the path must be the same.
//! - `POST Messages.json` (form: `To`, `From`, `Body`, `StatusCallback`, `ValidityPeriod`,
//!   `SendAt` with `ScheduleType=fixed`) goes through the same intake as `POST /v1/messages`
//!   and answers 201 with Twilio's Message resource.
//! - `GET Messages/{Sid}.json`, `GET Messages.json` (`To`, `From`, `DateSent`, `DateSent<`,
//!   `DateSent>`, `PageSize`, `PageToken`, Twilio's page fields), `POST Messages/{Sid}.json`
//!   with `Status=canceled`.
//! - Errors are Twilio's body `{"code", "message", "more_info", "status"}` with its codes for
//!   the cases that exist here (21211 bad `To`, 21602 no body, 21617 too long, 21610 opted
//!   out, 20003 authentication, 20404 not found, 20429 queue full, …).
//! - `StatusCallback` is stored as a `twilio+` callback URL: the webhook pipeline POSTs
//!   Twilio's form fields to it signed with `X-Twilio-Signature`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use smsgate_core::clock::parse_rfc3339;
use smsgate_core::message::{Message, MessageId, Status};
use smsgate_core::store::{ApiKey, MessageQuery};
use smsgate_core::twilio::{self, API_VERSION};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::messages::{admit_quota, tenants, to_request};

/// `[[twilio.messaging_services]]`: what a `MessagingServiceSid` stands for here — a pool of
/// senders. A message names the service instead of a `From`; each recipient keeps getting the
/// same sender of the pool (Twilio's "sticky sender").
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingService {
    /// `MG` + 32 hex, as applications have it in their config.
    pub sid: String,
    /// The numbers or sender ids to send from.
    pub senders: Vec<String>,
}

impl MessagingService {
    /// Checks the SID's shape and that there is a sender.
    pub fn validate(&self) -> Result<(), String> {
        let hex = self.sid.strip_prefix("MG").unwrap_or("");
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("sid '{}' is not MG + 32 hex digits", self.sid));
        }
        if self.senders.is_empty() {
            return Err(format!("{} has no senders", self.sid));
        }
        Ok(())
    }

    /// The recipient's sender: the same one every time.
    fn sender_for(&self, to: &str) -> &str {
        use sha2::Digest;
        let h = sha2::Sha256::digest(to.trim_start_matches('+').as_bytes());
        let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
        &self.senders[(n % self.senders.len() as u64) as usize]
    }
}

/// A Twilio error answer.
#[derive(Debug)]
pub struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl TwilioError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(sid: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource /Messages/{sid}.json was not found"),
        )
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"smsgate\""),
            );
        }
        r
    }
}

/// The API's own errors in Twilio's terms.
impl From<ApiError> for TwilioError {
    fn from(e: ApiError) -> Self {
        let code = match e.code {
            "invalid_number" => 21211,
            "invalid_sender" => 21212,
            "sender_not_allowed" => 21606,
            "empty_text" => 21602,
            "text_too_long" => 21617,
            "opted_out" => 21610,
            "no_consent" => 21610,
            "invalid_callback_url" => 21609,
            "invalid_validity" => 21623,
            "invalid_send_at" => 35111,
            "unauthorized" => 20003,
            "forbidden" => 20003,
            "rate_limited" | "queue_full" | "quota_exceeded" => 20429,
            "not_found" => 20404,
            "store_unavailable" => 20500,
            _ => 21000,
        };
        // Twilio answers 400 for every refused message, 401/403/404/429/5xx as HTTP does.
        let status = match e.status {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            s => s,
        };
        Self::new(status, code, e.message)
    }
}

type TwilioResult<T> = Result<T, TwilioError>;

/// The caller of a Twilio route: an API key presented by HTTP Basic.
pub struct TwilioCaller {
    key: ApiKey,
    sid: String,
}

impl FromRequestParts<Arc<AppState>> for TwilioCaller {
    type Rejection = TwilioError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| TwilioError::new(StatusCode::UNAUTHORIZED, 20003, m);
        let basic = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                unauthorized(
                    "Authenticate: HTTP Basic with your Account SID and API key is required",
                )
            })?;
        let (user, secret) = basic
            .split_once(':')
            .ok_or_else(|| unauthorized("Authenticate: user:password expected"))?;
        let key = crate::auth::verify(state, secret).await?;
        let sid = twilio::account_sid(&key.id);
        if user != sid {
            tracing::info!(key = %key.id, "twilio: Basic user is not the key's Account SID");
            return Err(unauthorized(
                "Authenticate: the user name must be this API key's Account SID (see `smsgate \
                 keys list`)",
            ));
        }
        Ok(Self { key, sid })
    }
}

impl TwilioCaller {
    fn check_account(&self, account: &str) -> TwilioResult<Caller> {
        if account != self.sid {
            return Err(TwilioError::new(
                StatusCode::FORBIDDEN,
                20003,
                format!("Account {account} is not the account of this API key"),
            ));
        }
        Ok(Caller(self.key.clone()))
    }
}

/// Form or query pairs.
fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn rfc2822(ms: i64) -> Value {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => {
            let z = ts.to_zoned(jiff::tz::TimeZone::UTC);
            jiff::fmt::rfc2822::to_string(&z).map_or(Value::Null, Value::String)
        }
        Err(_) => Value::Null,
    }
}

/// Twilio's Message resource of `m`.
fn resource(account: &str, m: &Message, now: i64) -> Value {
    resource_with(account, m, now, None)
}

/// [`resource`], naming the Messaging Service the message was sent through.
fn resource_with(account: &str, m: &Message, now: i64, service: Option<&str>) -> Value {
    let service_sid = service.map_or(Value::Null, |s| Value::String(s.to_owned()));
    let sid = twilio::message_sid(m.id);
    let sent = !matches!(
        m.status,
        Status::Queued | Status::Sending | Status::Canceled
    );
    json!({
        "account_sid": account,
        "api_version": API_VERSION,
        "body": m.text,
        "date_created": rfc2822(m.created_at),
        "date_sent": if sent { rfc2822(m.updated_at) } else { Value::Null },
        "date_updated": rfc2822(m.updated_at),
        "direction": "outbound-api",
        "error_code": twilio::error_code(m.status),
        "error_message": m.error_message,
        "from": m.from,
        "messaging_service_sid": service_sid,
        "num_media": "0",
        "num_segments": m.segments.to_string(),
        "price": Value::Null,
        "price_unit": "USD",
        "sid": sid,
        "status": twilio::status_name(m.status, m.send_at, now),
        "subresource_uris": {
            "media": format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}/Media.json"),
        },
        "to": m.to,
        "uri": format!("/{API_VERSION}/Accounts/{account}/Messages/{sid}.json"),
    })
}

/// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: send one SMS.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Path(account): Path<String>,
    caller: TwilioCaller,
    body: Bytes,
) -> TwilioResult<Response> {
    let c = caller.check_account(&account)?;
    c.require("messages:send")?;
    let p = pairs(&body);
    let to = param(&p, "To")
        .ok_or_else(|| TwilioError::bad(21604, "A 'To' phone number is required."))?;
    let text = param(&p, "Body").unwrap_or_default();
    if text.is_empty() {
        return Err(TwilioError::bad(21602, "Message body is required."));
    }
    if text.chars().count() > 1600 {
        return Err(TwilioError::bad(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    let service = match param(&p, "MessagingServiceSid") {
        Some(sid) => Some(
            state
                .messaging_services
                .iter()
                .find(|m| m.sid == sid)
                .ok_or_else(|| {
                    TwilioError::bad(
                        21701,
                        format!(
                            "The Messaging Service Sid {sid} is invalid (not in \
                             [[twilio.messaging_services]])."
                        ),
                    )
                })?,
        ),
        None => None,
    };
    // From wins over the service, as with Twilio.
    let from = param(&p, "From")
        .map(str::to_owned)
        .or_else(|| service.map(|s| s.sender_for(to).to_owned()));
    if from.is_none() {
        return Err(TwilioError::bad(
            21603,
            "A 'From' phone number or MessagingServiceSid is required.",
        ));
    }
    let validity = match param(&p, "ValidityPeriod") {
        Some(v) => match v.parse::<u32>() {
            Ok(s) if s >= 1 => Some(format!("{s}s")),
            _ => {
                return Err(TwilioError::bad(
                    21623,
                    format!("ValidityPeriod '{v}' is not a number of seconds"),
                ));
            }
        },
        None => None,
    };
    let send_at = match (param(&p, "SendAt"), param(&p, "ScheduleType")) {
        (Some(at), Some("fixed")) => Some(at.to_owned()),
        (Some(_), _) => {
            return Err(TwilioError::bad(35118, "SendAt needs ScheduleType=fixed"));
        }
        (None, _) => None,
    };
    let callback = param(&p, "StatusCallback").map(str::to_owned);
    let all = tenants(&state).await?;
    let tenant = all.get(c.tenant());
    if let Some(url) = &callback
        && !c.0.admin
    {
        let nets = tenant.map_or(&[][..], |t| &t.allow_networks);
        crate::routes::check_outbound_url(&state, url, Some(nets))?;
    }
    let m = crate::dto::SendMessage {
        to: to.to_owned(),
        text: text.to_owned(),
        from,
        callback_url: callback.map(|u| format!("{}{u}", twilio::CALLBACK_PREFIX)),
        callback_statuses: None,
        validity,
        send_at,
        priority: None,
        idempotency_key: None,
        encoding: None,
        binary: None,
        udh: None,
        port: None,
        data_coding: None,
        message_class: None,
    };
    let req = to_request(m, &c, tenant).map_err(ApiError::from)?;
    admit_quota(&state, tenant, 1).await?;
    let a = state.intake.send(req).await.map_err(ApiError::from)?;
    state.tenants.accepted(c.tenant(), 1);
    let (m, _) = state
        .store
        .message(a.id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| TwilioError::not_found(&twilio::message_sid(a.id)))?;
    let now = state.clock.now_ms();
    let mut body = resource_with(&account, &m, now, service.map(|s| s.sid.as_str()));
    // The status the send was accepted with (Twilio answers `queued` or `scheduled`), not
    // one the dispatcher may already have moved it to before the read above.
    body["status"] = json!(twilio::status_name(a.status, m.send_at, now));
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

fn sid_of(file: &str) -> TwilioResult<(String, MessageId)> {
    let sid = file.strip_suffix(".json").unwrap_or(file);
    let id = twilio::parse_message_sid(sid).ok_or_else(|| TwilioError::not_found(sid))?;
    Ok((sid.to_owned(), id))
}

async fn visible(state: &AppState, c: &Caller, sid: &str, id: MessageId) -> TwilioResult<Message> {
    match state.store.message(id).await.map_err(ApiError::from)? {
        Some((m, _)) if c.may_see(m.tenant.as_deref()) => Ok(m),
        _ => Err(TwilioError::not_found(sid)),
    }
}

/// `GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`.
pub async fn fetch(
    State(state): State<Arc<AppState>>,
    Path((account, file)): Path<(String, String)>,
    caller: TwilioCaller,
) -> TwilioResult<Response> {
    let c = caller.check_account(&account)?;
    c.require("messages:read")?;
    let (sid, id) = sid_of(&file)?;
    let m = visible(&state, &c, &sid, id).await?;
    Ok(axum::Json(resource(&account, &m, state.clock.now_ms())).into_response())
}

/// `POST /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`: `Status=canceled` cancels a
/// message still waiting.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path((account, file)): Path<(String, String)>,
    caller: TwilioCaller,
    body: Bytes,
) -> TwilioResult<Response> {
    let c = caller.check_account(&account)?;
    c.require("messages:send")?;
    let (sid, id) = sid_of(&file)?;
    visible(&state, &c, &sid, id).await?;
    let p = pairs(&body);
    let now = state.clock.now_ms();
    match (param(&p, "Status"), param(&p, "Body")) {
        (Some("canceled"), _) => {}
        // Redaction: the text is blanked where it is kept.
        (None, Some("")) => {
            state
                .store
                .redact_message(id)
                .await
                .map_err(ApiError::from)?;
            let m = visible(&state, &c, &sid, id).await?;
            return Ok(axum::Json(resource(&account, &m, now)).into_response());
        }
        _ => {
            return Err(TwilioError::bad(
                21000,
                "change Status=canceled, or redact with Body= (empty)",
            ));
        }
    }
    let m = state
        .store
        .cancel(id, now)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| TwilioError::not_found(&sid))?;
    state.signals.events.notify_one();
    if m.status != Status::Canceled {
        return Err(TwilioError::bad(
            30409,
            format!(
                "Message {sid} cannot be canceled: it is already {}",
                twilio::status_name(m.status, m.send_at, now)
            ),
        ));
    }
    Ok(axum::Json(resource(&account, &m, now)).into_response())
}

/// `DELETE /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`: removes a message that no
/// longer waits (204), as Twilio does; one still queued or in flight is 409 (cancel it first).
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path((account, file)): Path<(String, String)>,
    caller: TwilioCaller,
) -> TwilioResult<Response> {
    let c = caller.check_account(&account)?;
    c.require("messages:send")?;
    let (sid, id) = sid_of(&file)?;
    visible(&state, &c, &sid, id).await?;
    match state
        .store
        .delete_message(id)
        .await
        .map_err(ApiError::from)?
    {
        Some(true) => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(false) => Err(TwilioError::new(
            StatusCode::CONFLICT,
            20009,
            format!("Cannot delete message {sid}: it is still queued or being sent"),
        )),
        None => Err(TwilioError::not_found(&sid)),
    }
}

/// A `DateSent` filter's day: `YYYY-MM-DD` as the Unix ms of its start (UTC).
fn day(s: &str) -> TwilioResult<i64> {
    parse_rfc3339(&format!("{s}T00:00:00Z"))
        .map_err(|_| TwilioError::bad(20001, format!("DateSent '{s}' is not YYYY-MM-DD")))
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// `GET /2010-04-01/Accounts/{AccountSid}/Messages.json`: newest first, Twilio's paging.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(account): Path<String>,
    caller: TwilioCaller,
    RawQuery(query): RawQuery,
) -> TwilioResult<Response> {
    let c = caller.check_account(&account)?;
    c.require("messages:read")?;
    let p = pairs(query.as_deref().unwrap_or("").as_bytes());
    let page_size: u32 = match param(&p, "PageSize") {
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| TwilioError::bad(20001, "PageSize must be 1 to 1000"))?,
        None => 50,
    };
    let page: u32 = param(&p, "Page").and_then(|s| s.parse().ok()).unwrap_or(0);
    let to = match param(&p, "To") {
        Some(t) => Some(
            smsgate_core::number::Msisdn::parse(t)
                .map(|m| m.as_str().to_owned())
                .map_err(|_| {
                    TwilioError::bad(
                        21211,
                        format!("The 'To' number {t} is not a valid phone number."),
                    )
                })?,
        ),
        None => None,
    };
    let from = param(&p, "From").map(str::to_owned);
    // Created on the day (`DateSent=`), after (`DateSent>=`, written `DateSent>`) or before.
    let (mut since, mut until) = (None, None);
    if let Some(d) = param(&p, "DateSent") {
        since = Some(day(d)?);
        until = Some(day(d)? + DAY_MS);
    }
    if let Some(d) = param(&p, "DateSent>") {
        since = Some(day(d)?);
    }
    if let Some(d) = param(&p, "DateSent<") {
        until = Some(day(d)? + DAY_MS);
    }
    let mut before = match param(&p, "PageToken") {
        Some(t) => Some(
            t.strip_prefix("PA")
                .and_then(twilio::parse_message_sid)
                .ok_or_else(|| TwilioError::bad(20001, "PageToken is not one this API gave out"))?,
        ),
        None => None,
    };
    let mut out: Vec<Message> = Vec::new();
    let mut exhausted = false;
    // From and an upper date bound are filtered here: a few more reads at most.
    for _ in 0..20 {
        let q = MessageQuery {
            tenant: c.tenant_filter(),
            status: None,
            to: to.clone(),
            since,
            before,
            limit: page_size,
        };
        let rows = state
            .store
            .list_messages(&q)
            .await
            .map_err(ApiError::from)?;
        let n = rows.len();
        before = rows.last().map(|m| m.id);
        for m in rows {
            let from_ok = from.as_deref().is_none_or(|f| {
                m.from.as_deref().map(|x| x.trim_start_matches('+'))
                    == Some(f.trim_start_matches('+'))
            });
            if from_ok && until.is_none_or(|u| m.created_at < u) && out.len() < page_size as usize {
                out.push(m);
            }
        }
        if (n as u32) < page_size {
            exhausted = true;
            break;
        }
        if out.len() >= page_size as usize {
            break;
        }
    }
    let now = state.clock.now_ms();
    let base = format!("/{API_VERSION}/Accounts/{account}/Messages.json");
    let mut filters = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &p {
        if !matches!(k.as_str(), "Page" | "PageToken" | "PageSize") {
            filters.append_pair(k, v);
        }
    }
    filters.append_pair("PageSize", &page_size.to_string());
    let filters = filters.finish();
    let next = (!exhausted && out.len() == page_size as usize)
        .then(|| out.last())
        .flatten()
        .map(|m| {
            format!(
                "{base}?{filters}&Page={}&PageToken=PA{}",
                page + 1,
                twilio::message_sid(m.id)
            )
        });
    let current = format!("{base}?{}", query.as_deref().unwrap_or(""));
    let messages: Vec<Value> = out.iter().map(|m| resource(&account, m, now)).collect();
    let start = u64::from(page) * u64::from(page_size);
    Ok(axum::Json(json!({
        "end": start + (messages.len() as u64).saturating_sub(1),
        "first_page_uri": format!("{base}?{filters}&Page=0"),
        "messages": messages,
        "next_page_uri": next,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": Value::Null,
        "start": start,
        "uri": current,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_get_twilios_codes() {
        let e: TwilioError = ApiError::bad_request("invalid_number", "x").into();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, 21211));
        let e: TwilioError =
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "opted_out", "x").into();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, 21610));
        let e: TwilioError = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "queue_full", "x").into();
        assert_eq!(e.code, 20429);
    }

    #[test]
    fn dates_are_rfc_2822_in_utc() {
        assert_eq!(
            rfc2822(1_700_000_000_000),
            Value::String("Tue, 14 Nov 2023 22:13:20 +0000".into())
        );
    }
}
