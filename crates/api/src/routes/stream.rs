//! `GET /v1/events/stream`: the durable event log (the `events` table, which is also the
//! webhooks' outbox) as server-sent events, so the dashboard and scripts (`curl -N`,
//! `smsgate tail`) see what happens as it happens without polling the API or running a
//! webhook receiver.
//!
//! Each event is one SSE event: `id:` its position in the log, `event:` its name
//! (`message.status`, `alert.raised`, …), `data:` the JSON a webhook POST of it carries
//! (`{"id": "evt_<seq>", "event", "created_at", "data"}`), so one parser serves both. A client
//! that reconnects with `Last-Event-ID` (browsers' `EventSource` does it by itself) or
//! `?since=<seq>` gets exactly the events after that position, from the log, so nothing is
//! missed while it was away (an id beyond the log, as after a restore from a backup, resumes
//! at the newest event); without either the stream starts after the newest event. The
//! stream opens with a frame of only `id: <start>` (no event is dispatched for it), so even a
//! client that saw no event yet resumes from where it started.
//!
//! What a key sees is what it could read through the API: its own tenant's events (an admin
//! key every tenant's), and only the kinds its scopes cover (`message.inbound` needs
//! `inbound:read`, the other `message.*` and the opt-out events `messages:read`, `alert.*`,
//! `device.*` and `command.*` need `iot`; anything else is for admin keys). `inbound.routed`
//! events are never sent: they carry the secrets of the inbound rules' webhooks.
//!
//! Each stream polls the log every [`POLL_INTERVAL`] (one `MAX(seq)` query while nothing is
//! new) instead of waiting on `Signals::events`, which wakes a single waiter and belongs to
//! the webhook pipeline; a `: keepalive` comment goes out every [`KEEPALIVE_INTERVAL`] so
//! proxies and clients can tell a quiet stream from a dead one. Streams end when the gateway
//! stops ([`crate::AppState::close_streams`]), so they do not hold its shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::Deserialize;
use serde_json::json;
use smsgate_core::clock::rfc3339;
use smsgate_core::message::Status;
use smsgate_core::store::{OutboxEvent, Store, StoreResult};
use smsgate_core::webhook::{message_status_data, pattern_matches};
use tokio::sync::watch;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::QueryParams;

/// How often a stream with nothing left to send looks for new events: fast enough that a
/// status change shows within a quarter of a second, and one cheap query while idle.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long a stream stays silent before it sends a `: keepalive` comment: below the idle
/// timeouts of common proxies (60 s), so a quiet stream is not cut.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// How many log positions one read looks at.
const PAGE: u32 = 256;

/// How long a stream waits after a failed read of the log before it tries again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The scopes that let a key see some kind of event; a key with none of them has nothing
/// to stream.
const READ_SCOPES: [&str; 3] = ["messages:read", "inbound:read", "iot"];

/// Query parameters of `GET /v1/events/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Comma-separated event names or prefix patterns (`message.status,alert.*`); every event
    /// the key may see when absent.
    pub events: Option<String>,
    /// Start after this position (an event's `id`); `Last-Event-ID` wins when both are given.
    /// Without either the stream starts after the newest event.
    pub since: Option<i64>,
}

/// Server-sent events from the durable event log, filtered by the key's tenant and scopes
/// and by `events`, resumable with `Last-Event-ID` or `since` (see the module docs).
#[utoipa::path(get, path = "/v1/events/stream", tag = "events",
    params(StreamParams,
        ("Last-Event-ID" = Option<i64>, Header,
            description = "Resume after this event id (sent by EventSource on reconnect)")),
    responses(
        (status = 200, description = "`text/event-stream`: `id: <seq>`, `event: <name>`, \
            `data: {\"id\", \"event\", \"created_at\", \"data\"}` per event; `: keepalive` \
            comments every 15 s", content_type = "text/event-stream", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    QueryParams(p): QueryParams<StreamParams>,
) -> ApiResult<impl IntoResponse> {
    if !READ_SCOPES.iter().any(|s| caller.0.has_scope(s)) {
        return Err(ApiError::forbidden(
            "this API key sees no events: it needs one of the scopes messages:read, \
             inbound:read or iot",
        ));
    }
    let filter = Filter::new(caller, p.events.as_deref())?;
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_last_event_id",
                        "Last-Event-ID must be the id of an event (a number)",
                    )
                })?,
        ),
        None => p.since,
    };
    let pos = match resume {
        Some(n) if n < 0 => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "since must be the id of an event (0 or more)",
            ));
        }
        // An id beyond the log (a store restored from a backup, another gateway's id) would
        // skip the events that fill the gap: resume at the newest instead.
        Some(n) => n.min(newest_seq(state.store.as_ref()).await?),
        None => newest_seq(state.store.as_ref()).await?,
    };
    tracing::debug!(key = %filter.caller.0.id, pos, "event stream opened");
    let tail = Tail {
        store: Arc::clone(&state.store),
        filter,
        pos,
        // An `id:` alone: no event, but the client's last event id becomes the start, so a
        // reconnect before any event (a gateway restart) resumes there and misses nothing.
        ready: VecDeque::from([Event::default().id(pos.to_string())]),
        closing: state.closing(),
    };
    let events = futures::stream::unfold(tail, Tail::next);
    let sse = Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(KEEPALIVE_INTERVAL)
            .text("keepalive"),
    );
    // nginx buffers responses unless told not to; a buffered stream is no stream.
    Ok(([("x-accel-buffering", "no")], sse))
}

/// Which events one stream sends: the key's tenant and scopes, and the requested patterns.
struct Filter {
    caller: Caller,
    /// Empty: every event the key may see.
    patterns: Vec<String>,
}

impl Filter {
    /// The filter for `caller` and the `events` parameter (400 `invalid_query` for an empty
    /// or malformed pattern, so a typo is not an endless silent stream).
    fn new(caller: Caller, events: Option<&str>) -> Result<Self, ApiError> {
        let mut patterns = Vec::new();
        for p in events.into_iter().flat_map(|e| e.split(',')) {
            let p = p.trim();
            let body = p.strip_suffix('*').unwrap_or(p);
            let valid = !p.is_empty()
                && body
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c));
            if !valid {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "events: '{p}' is not an event name or pattern (message.status, \
                         alert.*, *), comma-separated"
                    ),
                ));
            }
            patterns.push(p.to_owned());
        }
        Ok(Self { caller, patterns })
    }

    /// Whether an event of this name may pass (scope and patterns; the tenant needs the
    /// event itself).
    fn wants_name(&self, event: &str) -> bool {
        scope_of(event).is_some_and(|s| self.caller.0.has_scope(s))
            && (self.patterns.is_empty() || self.patterns.iter().any(|p| pattern_matches(p, event)))
    }

    /// Whether the stream sends `ev`.
    fn passes(&self, ev: &OutboxEvent) -> bool {
        self.wants_name(&ev.event) && self.caller.may_see(tenant_of(ev))
    }

    /// The status filter for [`Store::outbox_after`]: a stream that sends no
    /// `message.status` event need not read them (the store still returns those of messages
    /// with a callback URL, which [`Filter::passes`] then drops).
    fn statuses(&self) -> Option<&'static [Status]> {
        const NONE: &[Status] = &[];
        (!self.wants_name("message.status")).then_some(NONE)
    }
}

/// The scope a key needs to see an event of this name; `None` for events no stream sends.
fn scope_of(event: &str) -> Option<&'static str> {
    if event == smsgate_core::compliance::ROUTED_EVENT {
        // Carries the rule's webhook URL and secret: for its webhook only.
        return None;
    }
    let prefix = event.split('.').next().unwrap_or(event);
    Some(match (prefix, event) {
        (_, "message.inbound") => "inbound:read",
        ("message" | "optout" | "consent", _) => "messages:read",
        ("alert" | "device" | "command", _) => "iot",
        _ => "admin",
    })
}

/// The tenant an event belongs to, as the webhook pipeline decides it: its message's, or
/// the `tenant` in its data; `None` (admin keys only) when it names none.
fn tenant_of(ev: &OutboxEvent) -> Option<&str> {
    match &ev.message {
        Some((_, _, m)) => m.tenant.as_deref(),
        None => ev.data.as_ref()?.get("tenant")?.as_str(),
    }
}

/// One event as SSE: the webhook body as data, so a script can parse both the same way.
fn to_sse(ev: &OutboxEvent) -> Event {
    let data = match &ev.message {
        Some((status, detail, m)) => message_status_data(status.as_str(), detail.as_deref(), m),
        None => ev.data.clone().unwrap_or(serde_json::Value::Null),
    };
    let body = json!({
        "id": format!("evt_{}", ev.seq),
        "event": ev.event,
        "created_at": rfc3339(ev.at),
        "data": data,
    });
    Event::default()
        .id(ev.seq.to_string())
        .event(&ev.event)
        .data(body.to_string())
}

/// The state of one open stream: where in the log it is and what it has read but not sent.
struct Tail {
    store: Arc<dyn Store>,
    filter: Filter,
    /// Every event up to here has been sent or left out.
    pos: i64,
    /// Events read and not yet sent, oldest first.
    ready: VecDeque<Event>,
    /// Becomes true when the gateway stops.
    closing: watch::Receiver<bool>,
}

impl Tail {
    /// The next event to send, reading and waiting as needed; `None` ends the stream (the
    /// gateway is stopping).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some((Ok(e), self));
            }
            if *self.closing.borrow() {
                return None;
            }
            let wait = match self
                .store
                .outbox_after(self.pos, PAGE, self.filter.statuses())
                .await
            {
                Ok(page) => {
                    self.pos = page.scanned_to;
                    for ev in page.events.iter().filter(|e| self.filter.passes(e)) {
                        // Names come from our own code; one with a line break would break
                        // the framing (and panic in `Event::event`), so it is left out.
                        if !ev.event.contains(['\n', '\r']) {
                            self.ready.push_back(to_sse(ev));
                        }
                    }
                    if !self.ready.is_empty() || !page.at_end {
                        continue;
                    }
                    POLL_INTERVAL
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream: reading the event log failed");
                    RETRY_AFTER_ERROR
                }
            };
            let closing = self.closing.wait_for(|c| *c);
            if tokio::time::timeout(wait, closing).await.is_ok() {
                // Stopping (or the state is gone, which only happens when stopping too).
                return None;
            }
        }
    }
}

/// The newest position of the event log, read through [`Store::outbox_after`] (the `Store`
/// trait has no direct question for it): a page tells the newest position exactly when the
/// newest lies within it, and otherwise whether it is before or beyond the page. Starting
/// at the webhook cursor, which is at or a little behind the newest event, one read is
/// usually enough; a cursor far behind costs a gallop forward and a bisection, each read
/// returning at most `PROBE` rows (fewer: message status events are filtered out in SQL).
async fn newest_seq(store: &dyn Store) -> StoreResult<i64> {
    const PROBE: u32 = 64;
    // The newest is at least `lo` (the cursor never passes a committed event) and, once
    // known, at most `hi`.
    let mut lo = store.webhook_cursor().await?;
    let mut hi: Option<i64> = None;
    let mut step: i64 = 0;
    loop {
        if hi == Some(lo) {
            return Ok(lo);
        }
        let x = match hi {
            Some(h) => lo + (h - lo) / 2,
            None => lo.saturating_add(step),
        };
        let page = store.outbox_after(x, PROBE, Some(&[])).await?;
        match (page.at_end, page.scanned_to > x) {
            // The newest lies in (x, x + PROBE]: the page says where.
            (true, true) => return Ok(page.scanned_to),
            // Nothing after x.
            (true, false) => hi = Some(x),
            // The newest is beyond the page.
            (false, _) => {
                lo = x.saturating_add(i64::from(PROBE) + 1);
                step = (step.max(i64::from(PROBE))).saturating_mul(2);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_kind_needs_the_scope_of_its_api() {
        assert_eq!(scope_of("message.status"), Some("messages:read"));
        assert_eq!(scope_of("message.inbound"), Some("inbound:read"));
        assert_eq!(scope_of("optout.created"), Some("messages:read"));
        assert_eq!(scope_of("alert.raised"), Some("iot"));
        assert_eq!(scope_of("device.telemetry"), Some("iot"));
        assert_eq!(scope_of("command.replied"), Some("iot"));
        assert_eq!(scope_of("something.new"), Some("admin"));
        assert_eq!(scope_of("inbound.routed"), None);
    }
}
