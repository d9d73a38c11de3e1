//! Webhooks: signed, durable, retried for days; a slow or dead endpoint holds only the delivery
//! slots of its own POSTs, each for at most the timeout.
//!
//! Two loops run in the gateway. [`fan_out`] reads the outbox (the `events` table) after its
//! cursor, matches each event against subscriptions and per-message `callback_url`s, and queues
//! one delivery per target, moving the cursor in the same commit. [`deliver`] claims due
//! deliveries with a lease, POSTs them concurrently with a timeout each, and records the result;
//! failures retry with backoff until the retry horizon (3 days) passes.
//!
//! Body: `{"id", "event", "created_at", "data"}`. Header `Smsgate-Signature: t=<unix>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>" keyed with the subscription secret>` (SPEC.md § Webhooks).

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::Notify;

use crate::backoff::Backoff;
use crate::clock::{Clock, rfc3339};
use crate::keys::random_id;
use crate::message::Message;
use crate::store::{Delivery, DeliveryResult, OutboxEvent, Store, Webhook};

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Smsgate-Signature";

/// Retries stop this long after the event (SPEC: at least 24 h).
pub const RETRY_HORIZON: Duration = Duration::from_secs(3 * 24 * 3600);

/// The header value for `body` signed with `secret` at Unix second `t`.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header against `body`, for receivers written in Rust (and our tests):
/// the HMAC must match in constant time and `t` must lie within `tolerance_s` of `now_s`.
pub fn verify(secret: &str, header: &str, body: &str, now_s: i64, tolerance_s: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now_s - t).abs() > tolerance_s {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&v1).is_ok()
}

/// Whether a subscription pattern (`message.status`, `alert.*`, `*`) covers an event name.
pub fn pattern_matches(pattern: &str, event: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event.starts_with(prefix),
        None => pattern == event,
    }
}

/// The `data` of a `message.status` event: the message as the API shows it, with the status the
/// event moved to.
pub fn message_status_data(status: &str, detail: Option<&str>, m: &Message) -> serde_json::Value {
    json!({
        "id": m.id.to_string(),
        "status": status,
        "to": m.to,
        "from": m.from,
        "segments": m.segments,
        "encoding": m.encoding,
        "connector": m.connector,
        "error_code": m.error_code,
        "error_message": m.error_message,
        "detail": detail,
        "created_at": rfc3339(m.created_at),
    })
}

fn owner_of(ev: &OutboxEvent) -> Option<&str> {
    match &ev.message {
        Some((_, _, m)) => m.api_key_id.as_deref(),
        None => ev
            .data
            .as_ref()
            .and_then(|d| d.get("api_key_id"))
            .and_then(|v| v.as_str()),
    }
}

/// The deliveries one outbox event turns into: one per matching subscription (a subscription
/// of a non-admin key only sees that key's messages) plus the message's own callback URL.
///
/// `callback_secret` gives the signing secret of a key's per-message callbacks (the key's
/// secret hash).
pub fn deliveries_for(
    ev: &OutboxEvent,
    hooks: &[Webhook],
    callback_secret: &dyn Fn(Option<&str>) -> Option<String>,
    now: i64,
) -> Vec<Delivery> {
    let data = match &ev.message {
        Some((status, detail, m)) => message_status_data(status.as_str(), detail.as_deref(), m),
        None => ev.data.clone().unwrap_or(serde_json::Value::Null),
    };
    let id = format!("evt_{}", ev.seq);
    let body = json!({"id": id, "event": ev.event, "created_at": rfc3339(ev.at), "data": data})
        .to_string();
    let owner = owner_of(ev);
    let mut out: Vec<Delivery> = hooks
        .iter()
        .filter(|h| h.api_key_id.is_none() || h.api_key_id.as_deref() == owner)
        .filter(|h| h.events.iter().any(|p| pattern_matches(p, &ev.event)))
        .map(|h| Delivery {
            id: random_id("whd_", 10),
            webhook_id: Some(h.id.clone()),
            url: h.url.clone(),
            secret: h.secret.clone(),
            body: body.clone(),
            attempts: 0,
            created_at: now,
        })
        .collect();
    if let Some((_, _, m)) = &ev.message
        && let Some(url) = &m.callback_url
        && let Some(secret) = callback_secret(m.api_key_id.as_deref())
    {
        out.push(Delivery {
            id: random_id("whd_", 10),
            webhook_id: None,
            url: url.clone(),
            secret,
            body,
            attempts: 0,
            created_at: now,
        });
    }
    out
}

/// Settings of the webhook loops.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Timeout of one POST.
    pub timeout: Duration,
    /// How many POSTs run at once.
    pub concurrency: usize,
    /// Retry schedule.
    pub backoff: Backoff,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            concurrency: 32,
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(3600)),
        }
    }
}

/// Moves outbox events into webhook deliveries until `shutdown` resolves. Wakes on `notify`
/// (new events) or every 500 ms.
pub async fn fan_out(
    store: Arc<dyn Store>,
    clock: Clock,
    notify: Arc<Notify>,
    deliver_notify: Arc<Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let n = match fan_out_once(&*store, &clock).await {
            Ok(n) => n,
            // The gateway is stopping and the store went first: nothing left to fan out now;
            // the outbox cursor resumes after the restart.
            Err(crate::store::StoreError::Closed) => return,
            Err(e) => {
                tracing::error!(error = %e, "webhook fan-out failed; retrying");
                0
            }
        };
        if n > 0 {
            deliver_notify.notify_one();
            continue;
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// One fan-out step; returns how many events it consumed.
pub async fn fan_out_once(store: &dyn Store, clock: &Clock) -> crate::store::StoreResult<usize> {
    let events = store.outbox_after_cursor(500).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(0);
    };
    let hooks = store.list_webhooks(None).await?;
    let needs_keys = events
        .iter()
        .any(|e| matches!(&e.message, Some((_, _, m)) if m.callback_url.is_some()));
    let keys = if needs_keys {
        store.list_api_keys().await?
    } else {
        Vec::new()
    };
    // A message without an owning key (SMPP server, IoT) signs with the gateway's first admin
    // key hash; with no key at all there is nothing to sign with and the callback is skipped.
    let secret_of = |key_id: Option<&str>| {
        keys.iter()
            .find(|k| Some(k.id.as_str()) == key_id || (key_id.is_none() && k.admin))
            .map(|k| k.secret_hash.clone())
    };
    let now = clock.now_ms();
    let deliveries: Vec<Delivery> = events
        .iter()
        .flat_map(|ev| deliveries_for(ev, &hooks, &secret_of, now))
        .collect();
    store.enqueue_deliveries(deliveries, last, now).await?;
    Ok(events.len())
}

/// POSTs due deliveries until `shutdown` resolves, then finishes the POSTs in flight.
///
/// A pipeline rather than claim-post-record rounds: up to `concurrency` POSTs are in flight at
/// any time, more are claimed as soon as half the slots are free, and results are recorded in
/// batches by a background task while new POSTs run. So a slow or dead endpoint only holds its
/// own slots (never a whole round), and the store sees a few large writes instead of two per
/// handful of deliveries.
pub async fn deliver(
    store: Arc<dyn Store>,
    clock: Clock,
    config: WebhookConfig,
    notify: Arc<Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .user_agent(concat!("smsgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    tokio::pin!(shutdown);
    let slots = config.concurrency.max(1);
    let lease = (config.timeout.as_millis() as i64) * 3;
    let mut in_flight = FuturesUnordered::new();
    let mut results: Vec<DeliveryResult> = Vec::new();
    let mut recording: Option<tokio::task::JoinHandle<()>> = None;
    // Nothing was due at the last claim: wait for a signal or the poll interval.
    let mut drained = false;
    let mut stopping = false;
    loop {
        if !stopping && !drained && in_flight.len() <= slots / 2 {
            let want = (slots - in_flight.len()) as u32;
            match store.claim_deliveries(clock.now_ms(), want, lease).await {
                Ok(claimed) => {
                    drained = claimed.is_empty();
                    for d in claimed {
                        in_flight.push(post_one(&client, &clock, &config, d));
                    }
                }
                Err(crate::store::StoreError::Closed) => stopping = true,
                Err(e) => {
                    tracing::error!(error = %e, "claiming webhook deliveries failed");
                    drained = true;
                }
            }
        }
        let writer_free = recording.as_ref().is_none_or(|h| h.is_finished());
        if !results.is_empty() && writer_free && (results.len() >= 256 || in_flight.len() < slots) {
            let batch = std::mem::take(&mut results);
            let (store, now) = (store.clone(), clock.now_ms());
            recording = Some(tokio::spawn(async move {
                if let Err(e) = store.finish_deliveries(batch, now).await {
                    tracing::error!(error = %e, "recording webhook results failed; they will be retried");
                }
            }));
        }
        if stopping && in_flight.is_empty() {
            if let Some(h) = recording.take() {
                let _ = h.await;
            }
            if !results.is_empty() {
                let batch = std::mem::take(&mut results);
                if let Err(e) = store.finish_deliveries(batch, clock.now_ms()).await {
                    tracing::error!(error = %e, "recording webhook results failed; they will be retried");
                }
            }
            return;
        }
        tokio::select! {
            Some(r) = in_flight.next(), if !in_flight.is_empty() => results.push(r),
            _ = &mut shutdown, if !stopping => stopping = true,
            _ = notify.notified(), if drained => drained = false,
            // Re-check: a due retry, or a recording that finished with results waiting.
            _ = tokio::time::sleep(Duration::from_millis(if results.is_empty() { 1000 } else { 5 })) => {
                drained = false;
            }
        }
    }
}

async fn post_one(
    client: &reqwest::Client,
    clock: &Clock,
    config: &WebhookConfig,
    d: Delivery,
) -> DeliveryResult {
    let now = clock.now_ms();
    let signature = sign(&d.secret, now / 1000, &d.body);
    let res = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(d.body.clone())
        .send()
        .await;
    let error = match res {
        Ok(r) if r.status().is_success() => {
            tracing::debug!(url = %d.url, delivery = %d.id, "webhook delivered");
            return DeliveryResult::Done { id: d.id };
        }
        Ok(r) => format!("HTTP {}", r.status().as_u16()),
        Err(e) => format!("{e}"),
    };
    tracing::info!(url = %d.url, delivery = %d.id, attempts = d.attempts + 1, %error, "webhook failed");
    if now - d.created_at > RETRY_HORIZON.as_millis() as i64 {
        return DeliveryResult::GaveUp { id: d.id, error };
    }
    let retry_at = now + config.backoff.delay(d.attempts).as_millis() as i64;
    DeliveryResult::Retry {
        id: d.id,
        retry_at,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_body_and_time() {
        let header = sign("s3cret", 1_700_000_000, "{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify("s3cret", &header, "{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify("other", &header, "{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify("s3cret", &header, "{\"a\":2}", 1_700_000_010, 300));
        assert!(!verify("s3cret", &header, "{\"a\":1}", 1_700_001_000, 300));
        assert!(!verify(
            "s3cret",
            "garbage",
            "{\"a\":1}",
            1_700_000_000,
            300
        ));
    }

    #[test]
    fn patterns_match_exact_names_and_prefixes() {
        assert!(pattern_matches("message.status", "message.status"));
        assert!(!pattern_matches("message.status", "message.inbound"));
        assert!(pattern_matches("alert.*", "alert.raised"));
        assert!(!pattern_matches("alert.*", "message.status"));
        assert!(pattern_matches("*", "device.telemetry"));
    }
}
