//! Webhooks: signed, durable, retried for days; a slow or dead endpoint holds only its own
//! delivery slots and is paused after failures in a row, so the others go on at full speed.
//!
//! [`run`] (the `pipeline` module) reads the outbox (the `events` table) after its cursor,
//! matches each event against subscriptions and per-message `callback_url`s
//! ([`deliveries_for`], with their status filters), and POSTs from per-endpoint queues in
//! memory (`endpoints`); only failed deliveries are stored, and retried with backoff until the
//! retry horizon (3 days) passes. The cursor moves past an event only when each of its
//! deliveries is made or stored (`tracker`).
//!
//! Body: `{"id", "event", "created_at", "data"}`. Header `Smsgate-Signature: t=<unix>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>" keyed with the subscription secret>` (SPEC.md § Webhooks).

mod endpoints;
mod pipeline;
mod tracker;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::backoff::Backoff;
use crate::clock::rfc3339;
use crate::message::{Message, Status};
use crate::store::{Delivery, OutboxEvent, Webhook};

pub use endpoints::endpoint_of;
pub use pipeline::run;

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

/// Whether a status filter (empty: every status) lets an event with `status` through; events
/// that are not status changes pass every filter.
fn wants_status(filter: &[Status], status: Option<Status>) -> bool {
    match status {
        Some(s) => filter.is_empty() || filter.contains(&s),
        None => true,
    }
}

/// The tenant an event belongs to: its message's, or the `tenant` in its data (inbound SMS,
/// alerts, commands, telemetry); `None` for nobody's (only admin subscriptions get it).
fn tenant_of(ev: &OutboxEvent) -> Option<&str> {
    match &ev.message {
        Some((_, _, m)) => m.tenant.as_deref(),
        None => ev
            .data
            .as_ref()
            .and_then(|d| d.get("tenant"))
            .and_then(|v| v.as_str()),
    }
}

/// Looks up the key that owns a message (by id; `None` for messages without one): its
/// callback signing secret and whether it is an admin key.
pub type CallbackKey<'a> = dyn Fn(Option<&str>) -> Option<(String, bool)> + 'a;

/// The deliveries one outbox event turns into: one per matching subscription (a tenant's
/// subscription only gets that tenant's events, an admin's every event) plus the message's own
/// callback URL.
///
/// `callback_key` gives the signing secret of a key's per-message callbacks (the key's
/// secret hash) and whether it is an admin key (whose callbacks may reach internal addresses).
pub fn deliveries_for(
    ev: &OutboxEvent,
    hooks: &[Webhook],
    callback_key: &CallbackKey<'_>,
    now: i64,
) -> Vec<Delivery> {
    if ev.event == crate::compliance::ROUTED_EVENT {
        return routed_delivery(ev, now).into_iter().collect();
    }
    let tenant = tenant_of(ev);
    let status = ev.message.as_ref().map(|(s, _, _)| *s);
    let targets: Vec<&Webhook> = hooks
        .iter()
        .filter(|h| h.tenant.is_none() || h.tenant.as_deref() == tenant)
        .filter(|h| h.events.iter().any(|p| pattern_matches(p, &ev.event)))
        .filter(|h| wants_status(&h.statuses, status))
        .collect();
    let callback = match &ev.message {
        Some((_, _, m)) if wants_status(&m.callback_statuses, status) => {
            m.callback_url.as_ref().and_then(|url| {
                let (secret, admin) = callback_key(m.api_key_id.as_deref())?;
                let tenant = (!admin).then(|| {
                    m.tenant
                        .clone()
                        .unwrap_or_else(|| crate::store::DEFAULT_TENANT.to_owned())
                });
                Some((url, secret, tenant))
            })
        }
        _ => None,
    };
    // Most events go to nobody (a filter passes only outcomes): no body is built for them.
    if targets.is_empty() && callback.is_none() {
        return Vec::new();
    }
    let data = match &ev.message {
        Some((status, detail, m)) => message_status_data(status.as_str(), detail.as_deref(), m),
        None => ev.data.clone().unwrap_or(serde_json::Value::Null),
    };
    let body = body_of(ev, &data);
    let id = |i: usize| delivery_id(ev, i);
    let mut out: Vec<Delivery> = Vec::with_capacity(targets.len() + 1);
    for h in targets {
        out.push(Delivery {
            id: id(out.len()),
            webhook_id: Some(h.id.clone()),
            url: h.url.clone(),
            secret: h.secret.clone(),
            body: body.clone(),
            attempts: 0,
            created_at: now,
            tenant: h.tenant.clone(),
        });
    }
    if let Some((url, secret, tenant)) = callback {
        // A Twilio StatusCallback gets Twilio's form fields instead of the event JSON; a
        // Kannel dlr-url is a GET of its template filled in for this report.
        let mut url = url.clone();
        let body = match &ev.message {
            Some((status, _, m)) if url.starts_with(crate::twilio::CALLBACK_PREFIX) => {
                crate::twilio::form(&crate::twilio::callback_fields(m, *status))
            }
            Some((status, _, m)) if url.starts_with(crate::kannel::CALLBACK_PREFIX) => {
                let template = &url[crate::kannel::CALLBACK_PREFIX.len()..];
                url = format!(
                    "{}{}",
                    crate::kannel::CALLBACK_PREFIX,
                    crate::kannel::dlr_url(template, m, *status, ev.at)
                );
                String::new()
            }
            _ => body,
        };
        out.push(Delivery {
            id: id(out.len()),
            webhook_id: None,
            url,
            secret,
            body,
            attempts: 0,
            created_at: now,
            tenant,
        });
    }
    out
}

/// The POST body of an event: `{"id", "event", "created_at", "data"}`.
fn body_of(ev: &OutboxEvent, data: &serde_json::Value) -> String {
    json!({"id": format!("evt_{}", ev.seq), "event": ev.event,
        "created_at": rfc3339(ev.at), "data": data})
    .to_string()
}

/// A delivery's id, from the event and the target's place: the same on a redelivery after a
/// crash, so a retry row stored before the crash is not stored twice.
fn delivery_id(ev: &OutboxEvent, target: usize) -> String {
    format!("whd_{}_{target}", ev.seq)
}

/// An inbound rule's webhook: to the URL the event names, signed with its secret, the body's
/// `data` the inbound SMS without them. Only the rule's URL gets it, never a subscription. The
/// rule is the operator's configuration, so it reaches as far as an admin's subscription.
fn routed_delivery(ev: &OutboxEvent, now: i64) -> Option<Delivery> {
    use crate::compliance::{
        ROUTED_EMAIL, ROUTED_FORMAT, ROUTED_SECRET, ROUTED_TENANT, ROUTED_URL,
    };
    let mut data = ev.data.clone()?;
    let map = data.as_object_mut()?;
    // A rule that only mails has no URL: no delivery. The address is not the webhook's business.
    map.remove(ROUTED_EMAIL);
    let url = map.remove(ROUTED_URL)?.as_str()?.to_owned();
    let secret = map.remove(ROUTED_SECRET)?.as_str()?.to_owned();
    // A tenant's rule is delivered under the tenant's network policy, as its subscriptions are.
    let tenant = map
        .remove(ROUTED_TENANT)
        .and_then(|t| t.as_str().map(str::to_owned));
    let format = map
        .remove(ROUTED_FORMAT)
        .and_then(|f| f.as_str().map(str::to_owned));
    // The tenant the answers are sent as: the SMS's own.
    let sms_tenant = data["tenant"]
        .as_str()
        .unwrap_or(crate::store::DEFAULT_TENANT)
        .to_owned();
    let field = |k: &str| data[k].as_str().unwrap_or_default().to_owned();
    let (url, body) = match format.as_deref() {
        Some("twilio") => (
            format!("{}{sms_tenant}+{url}", crate::twilio::INBOUND_PREFIX),
            crate::twilio::form(&crate::twilio::inbound_fields(
                &field("id"),
                &field("from"),
                &field("to"),
                &field("text"),
                &sms_tenant,
            )),
        ),
        Some("kannel") => {
            let at = crate::clock::parse_rfc3339(&field("received_at")).unwrap_or(ev.at);
            let filled = crate::kannel::service_url(
                &url,
                &field("from"),
                &field("to"),
                &field("text"),
                &field("connector"),
                &field("id"),
                at,
            );
            (
                format!("{}{sms_tenant}+{filled}", crate::kannel::SERVICE_PREFIX),
                json!({"phone": field("from"), "ours": field("to")}).to_string(),
            )
        }
        _ => (url, body_of(ev, &data)),
    };
    Some(Delivery {
        id: delivery_id(ev, 0),
        body,
        webhook_id: None,
        url,
        secret,
        attempts: 0,
        created_at: now,
        tenant,
    })
}

/// How a delivery is made, read off its stored URL (the prefix survives a retry from the
/// store, so a retried delivery is made the same way).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Call<'a> {
    /// smsgate's signed JSON POST.
    Json(&'a str),
    /// A Twilio `StatusCallback`: form POST with `X-Twilio-Signature`.
    TwilioStatus(&'a str),
    /// A Kannel `dlr-url`: GET.
    KannelDlr(&'a str),
    /// An inbound SMS in Twilio's format; the TwiML answer is sent back as the tenant.
    TwilioInbound {
        /// The tenant the answers are sent as.
        tenant: &'a str,
        /// Where to POST.
        url: &'a str,
    },
    /// A Kannel sms-service `get-url`; the text answer is sent back as the tenant.
    KannelService {
        /// The tenant the answers are sent as.
        tenant: &'a str,
        /// What to GET.
        url: &'a str,
    },
}

impl<'a> Call<'a> {
    /// Reads a stored delivery URL.
    pub(crate) fn of(url: &'a str) -> Self {
        let split = |rest: &'a str| rest.split_once('+').unwrap_or(("default", rest));
        if let Some(rest) = url.strip_prefix(crate::twilio::INBOUND_PREFIX) {
            let (tenant, url) = split(rest);
            Self::TwilioInbound { tenant, url }
        } else if let Some(rest) = url.strip_prefix(crate::kannel::SERVICE_PREFIX) {
            let (tenant, url) = split(rest);
            Self::KannelService { tenant, url }
        } else if let Some(u) = url.strip_prefix(crate::twilio::CALLBACK_PREFIX) {
            Self::TwilioStatus(u)
        } else if let Some(u) = url.strip_prefix(crate::kannel::CALLBACK_PREFIX) {
            Self::KannelDlr(u)
        } else {
            Self::Json(url)
        }
    }

    /// The URL called.
    pub(crate) fn url(&self) -> &'a str {
        match self {
            Self::Json(u) | Self::TwilioStatus(u) | Self::KannelDlr(u) => u,
            Self::TwilioInbound { url, .. } | Self::KannelService { url, .. } => url,
        }
    }
}

/// Where the answers of inbound webhooks that answer (a TwiML `<Message>`, a Kannel
/// sms-service's text) go: SMS back to the sender through the intake, like a rule's reply.
#[derive(Clone)]
pub struct Answers(pub std::sync::Arc<crate::intake::Intake>);

impl std::fmt::Debug for Answers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answers")
    }
}

/// Settings of the webhook pipeline.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Timeout of one POST.
    pub timeout: Duration,
    /// POSTs in flight in total.
    pub concurrency: usize,
    /// POSTs in flight to one endpoint (`scheme://host:port`): what a slow or dead receiver can
    /// hold at most.
    pub per_endpoint: usize,
    /// Deliveries waiting in memory before the pipeline stops reading the outbox; one endpoint
    /// may hold a quarter of them, further ones are stored for a later retry.
    pub max_buffered: usize,
    /// Retry schedule (also how long a failing endpoint is paused).
    pub backoff: Backoff,
    /// `[webhooks] allow_networks`: internal networks every tenant's deliveries may reach.
    pub allow_networks: Vec<crate::outbound::Cidr>,
    /// Where answers of Twilio- and Kannel-format inbound webhooks are queued; none: they
    /// are ignored.
    pub answers: Option<Answers>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            concurrency: 256,
            per_endpoint: 32,
            max_buffered: 20_000,
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(3600)),
            allow_networks: Vec::new(),
            answers: None,
        }
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
    fn a_routed_sms_goes_to_its_rule_alone_under_the_rules_tenant() {
        use crate::compliance::{ROUTED_EVENT, ROUTED_SECRET, ROUTED_TENANT, ROUTED_URL};
        let ev = |tenant: Option<&str>| {
            let mut data = serde_json::json!({"text": "JOIN", "rule": "ir_1",
                ROUTED_URL: "https://crm.example.com/sms", ROUTED_SECRET: "0123456789abcdef"});
            if let Some(t) = tenant {
                data[ROUTED_TENANT] = serde_json::json!(t);
            }
            OutboxEvent {
                seq: 7,
                event: ROUTED_EVENT.into(),
                at: 0,
                message: None,
                data: Some(data),
            }
        };
        let everyone = [hook("wh_all", None)];
        let d = deliveries_for(&ev(Some("acme")), &everyone, &|_| None, 0);
        assert_eq!(d.len(), 1, "the rule's URL only, no subscription");
        assert_eq!(d[0].url, "https://crm.example.com/sms");
        assert_eq!(
            d[0].tenant.as_deref(),
            Some("acme"),
            "held to acme's policy"
        );
        assert!(!d[0].body.contains("0123456789abcdef") && !d[0].body.contains("webhook_"));
        let d = deliveries_for(&ev(None), &everyone, &|_| None, 0);
        assert_eq!(d[0].tenant, None, "an operator's rule is trusted");
    }

    #[test]
    fn patterns_match_exact_names_and_prefixes() {
        assert!(pattern_matches("message.status", "message.status"));
        assert!(!pattern_matches("message.status", "message.inbound"));
        assert!(pattern_matches("alert.*", "alert.raised"));
        assert!(!pattern_matches("alert.*", "message.status"));
        assert!(pattern_matches("*", "device.telemetry"));
    }

    fn hook(id: &str, tenant: Option<&str>) -> Webhook {
        Webhook {
            id: id.into(),
            api_key_id: None,
            tenant: tenant.map(str::to_owned),
            url: format!("https://h.example.com/{id}"),
            events: vec!["message.inbound".into()],
            statuses: Vec::new(),
            secret: "s".repeat(16),
            created_at: 0,
        }
    }

    #[test]
    fn an_inbound_sms_goes_to_its_tenants_and_the_admins_subscriptions_only() {
        let ev = |tenant: Option<&str>| OutboxEvent {
            seq: 7,
            event: "message.inbound".into(),
            at: 0,
            message: None,
            data: Some(json!({"id": "x", "text": "T=85", "tenant": tenant})),
        };
        let hooks = [
            hook("acme", Some("acme")),
            hook("bolt", Some("bolt")),
            hook("admin", None),
        ];
        let targets = |tenant| -> Vec<String> {
            deliveries_for(&ev(tenant), &hooks, &|_| None, 0)
                .into_iter()
                .filter_map(|d| d.webhook_id)
                .collect()
        };
        // Before tenants, a tenant's subscription never got `message.inbound`, and the text
        // went to every admin subscription; now its own tenant's and the admin's get it.
        assert_eq!(targets(Some("acme")), vec!["acme", "admin"]);
        assert_eq!(
            targets(None),
            vec!["admin"],
            "unassigned inbound: admins only"
        );
        let d = deliveries_for(&ev(Some("acme")), &hooks, &|_| None, 0);
        assert_eq!(
            d[0].tenant.as_deref(),
            Some("acme"),
            "delivered under acme's reach"
        );
        assert_eq!(d[1].tenant, None);
    }
}
