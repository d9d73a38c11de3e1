//! `type = "http"`: a carrier or aggregator reached over HTTP instead of SMPP. A preset speaks
//! a known API (`twilio`: a Twilio-compatible Messages API; `kannel`: a Kannel smsbox's
//! `sendsms`), `generic` takes a request template. Delivery reports come back to
//! `/v1/upstreams/{connector}/dlr` (Twilio's `StatusCallback`, Kannel's `dlr-url`, or the
//! generic template's fields) and are reported like any connector's.
//!
//! Errors are classified by HTTP status and body: 2xx accepted (the provider's id read from
//! the answer), 400/404/422 permanent, 401/403 unavailable (wrong credentials: another
//! connector may take the message), 429 throttled, 5xx and connection failures temporary, a
//! timeout after the request went out ambiguous. `max_tps` paces submits, `concurrency` caps
//! them in flight. Credentials never reach a log line or `/v1/connectors`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use smsgate_core::connector::{
    Connector, ConnectorEvent, ConnectorEvents, ConnectorInfo, ConnectorState, HttpDlr,
    OutboundSms, Receipt, ReceiptState, SubmitError, SubmitErrorKind, SubmitOutcome,
};
use smsgate_smpp::pacer::Pacer;
use tokio::sync::Semaphore;

/// Which API the provider speaks.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// A Twilio-compatible Messages API (Twilio itself, or another smsgate).
    Twilio,
    /// A Kannel smsbox (`/cgi-bin/sendsms`).
    Kannel,
    /// A request template.
    Generic,
}

/// The settings of an `http` connector.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// `twilio`, `kannel` or `generic`.
    pub preset: Preset,
    /// `twilio`: the API's base URL (`https://api.twilio.com`); `kannel`: the smsbox
    /// (`http://127.0.0.1:13013`); `generic`: the request URL (a template).
    pub url: String,
    /// `twilio`: the Account SID (Basic user).
    #[serde(default)]
    pub account_sid: Option<String>,
    /// `twilio`: the auth token or API key (Basic password).
    #[serde(default)]
    pub auth_token: Option<String>,
    /// `twilio`: the token `StatusCallback`s are signed with, checked when set.
    #[serde(default)]
    pub callback_token: Option<String>,
    /// `kannel`: the `sendsms-user`.
    #[serde(default)]
    pub username: Option<String>,
    /// `kannel`: its password.
    #[serde(default)]
    pub password: Option<String>,
    /// Sender when the message names none.
    #[serde(default)]
    pub from: Option<String>,
    /// This gateway's public base URL as the provider reaches it (`https://sms.example.com`);
    /// receipts are asked for at `{dlr_base}/v1/upstreams/{name}/dlr`. None: no receipts.
    #[serde(default)]
    pub dlr_base: Option<String>,
    /// A secret put in the receipt URL (`?token=…`) and required on every report: without
    /// it anyone who can reach the gateway could post a report (Twilio's are also checked by
    /// signature when `callback_token` is set).
    #[serde(default)]
    pub dlr_token: Option<String>,
    /// `generic`: `POST` (default) or `GET`.
    #[serde(default)]
    pub method: Option<String>,
    /// `generic`: headers, values are templates (`Authorization = "Bearer …"`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `generic`: the body template (`{{to}}`, `{{from}}`, `{{text}}`, `{{id}}`,
    /// `{{dlr_url}}`, filters `urlencode`, `tojson`).
    #[serde(default)]
    pub body: Option<String>,
    /// `generic`: the body's content type. Default `application/json`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// `generic`: where the provider's id is in a JSON answer (a JSON pointer, `/id`); none:
    /// the gateway's message id is the id (put `{{id}}` in the request).
    #[serde(default)]
    pub id_pointer: Option<String>,
    /// `generic`: the report's field holding the id. Default `id`.
    #[serde(default)]
    pub dlr_id: Option<String>,
    /// `generic`: the report's field holding the status. Default `status`.
    #[serde(default)]
    pub dlr_status: Option<String>,
    /// `generic`: status values meaning delivered. Default `["delivered"]`.
    #[serde(default)]
    pub delivered: Vec<String>,
    /// `generic`: status values meaning not delivered. Default `["undelivered", "failed"]`.
    #[serde(default)]
    pub failed: Vec<String>,
    /// Submits per second (default unpaced).
    #[serde(default)]
    pub max_tps: Option<u32>,
    /// Requests in flight at once. Default 8.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Time for one request. Default `"15s"`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_concurrency() -> usize {
    8
}
fn default_timeout() -> Duration {
    Duration::from_secs(15)
}

impl HttpSettings {
    /// Checks what each preset needs.
    pub fn validate(&self) -> Result<(), String> {
        let url = if self.preset == Preset::Generic {
            self.url.replace("{{", "").replace("}}", "")
        } else {
            self.url.clone()
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("url '{}' is not an http(s) URL", self.url));
        }
        match self.preset {
            Preset::Twilio if self.account_sid.is_none() || self.auth_token.is_none() => {
                return Err("preset twilio needs account_sid and auth_token".into());
            }
            Preset::Kannel if self.username.is_none() || self.password.is_none() => {
                return Err("preset kannel needs username and password".into());
            }
            Preset::Generic if self.body.is_none() && self.method.as_deref() != Some("GET") => {
                return Err("preset generic needs a body template (or method = \"GET\")".into());
            }
            _ => {}
        }
        if let Some(m) = &self.method
            && !matches!(m.as_str(), "GET" | "POST")
        {
            return Err(format!("method '{m}': use GET or POST"));
        }
        if self.concurrency == 0 {
            return Err("concurrency must be at least 1".into());
        }
        if let Some(b) = &self.body {
            template_env()
                .template_from_str(b)
                .map_err(|e| format!("body template: {e}"))?;
        }
        Ok(())
    }
}

fn template_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(10_000));
    env.add_filter("urlencode", |s: String| -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    });
    // A value as a JSON literal: `"text": {{text|tojson}}` quotes and escapes it.
    env.add_filter("tojson", |v: minijinja::Value| -> String {
        serde_json::to_string(&v).unwrap_or_else(|_| "null".into())
    });
    env
}

/// A running HTTP upstream.
pub struct HttpConnector {
    name: String,
    s: HttpSettings,
    client: reqwest::Client,
    events: ConnectorEvents,
    slots: Arc<Semaphore>,
    pacer: Option<Pacer>,
    submitted: AtomicU64,
    failed: AtomicU64,
    receipts: AtomicU64,
    in_flight: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl HttpConnector {
    /// Builds the connector (one HTTP client, rustls).
    pub fn new(name: &str, s: HttpSettings, events: ConnectorEvents) -> Result<Self, String> {
        s.validate()?;
        let client = reqwest::Client::builder()
            .timeout(s.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.to_owned(),
            slots: Arc::new(Semaphore::new(s.concurrency)),
            pacer: s.max_tps.filter(|t| *t > 0).map(Pacer::new),
            s,
            client,
            events,
            submitted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        })
    }

    /// Where the provider sends reports: `{dlr_base}/v1/upstreams/{name}/dlr`, with the
    /// `token` when one is set (so always a `?` in it then).
    fn dlr_url(&self) -> Option<String> {
        self.s.dlr_base.as_ref().map(|b| {
            let mut u = format!(
                "{}/v1/upstreams/{}/dlr",
                b.trim_end_matches('/'),
                form_urlencoded::byte_serialize(self.name.as_bytes()).collect::<String>()
            );
            if let Some(t) = &self.s.dlr_token {
                u.push_str("?token=");
                u.extend(form_urlencoded::byte_serialize(t.as_bytes()));
            }
            u
        })
    }

    fn request(&self, sms: &OutboundSms) -> Result<reqwest::RequestBuilder, SubmitError> {
        let from = sms.from.clone().or_else(|| self.s.from.clone());
        let base = self.s.url.trim_end_matches('/');
        match self.s.preset {
            Preset::Twilio => {
                let sid = self.s.account_sid.as_deref().unwrap_or_default();
                let mut form = vec![("To", sms.to.clone()), ("Body", sms.text.clone())];
                if let Some(f) = from {
                    form.push(("From", f));
                }
                if let Some(u) = self.dlr_url() {
                    form.push(("StatusCallback", u));
                }
                Ok(self
                    .client
                    .post(format!("{base}/2010-04-01/Accounts/{sid}/Messages.json"))
                    .basic_auth(sid, self.s.auth_token.as_deref())
                    .form(&form))
            }
            Preset::Kannel => {
                let mut q: Vec<(&str, String)> = vec![
                    ("username", self.s.username.clone().unwrap_or_default()),
                    ("password", self.s.password.clone().unwrap_or_default()),
                    ("to", sms.to.clone()),
                    ("text", sms.text.clone()),
                    ("charset", "UTF-8".into()),
                ];
                if sms.encoding == "ucs2" {
                    q.push(("coding", "2".into()));
                }
                if let Some(f) = from {
                    q.push(("from", f));
                }
                if let Some(u) = self.dlr_url() {
                    // Kannel fills %d (the report type); the id is ours, Kannel's own is
                    // never told to the client.
                    q.push(("dlr-mask", "27".into()));
                    let sep = if u.contains('?') { '&' } else { '?' };
                    q.push(("dlr-url", format!("{u}{sep}id={}&type=%d&smsc=%i", sms.id)));
                }
                Ok(self.client.get(format!("{base}/cgi-bin/sendsms")).query(&q))
            }
            Preset::Generic => {
                let env = template_env();
                let ctx = minijinja::context! {
                    to => &sms.to, from => from, text => &sms.text, id => sms.id.to_string(),
                    encoding => &sms.encoding, segments => sms.segments,
                    dlr_url => self.dlr_url(),
                };
                let render = |t: &str| {
                    env.render_str(t, &ctx).map_err(|e| {
                        SubmitError::new(SubmitErrorKind::Permanent, "http_template", e.to_string())
                    })
                };
                let url = render(&self.s.url)?;
                let mut b = match self.s.method.as_deref() {
                    Some("GET") => self.client.get(url),
                    _ => self.client.post(url),
                };
                for (k, v) in &self.s.headers {
                    b = b.header(k, render(v)?);
                }
                if let Some(body) = &self.s.body {
                    b = b
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            self.s.content_type.as_deref().unwrap_or("application/json"),
                        )
                        .body(render(body)?);
                }
                Ok(b)
            }
        }
    }

    /// The provider's id in a successful answer.
    fn remote_id(&self, sms: &OutboundSms, body: &str) -> Result<String, SubmitError> {
        let pointer = match self.s.preset {
            Preset::Twilio => Some("/sid"),
            Preset::Kannel => None,
            Preset::Generic => self.s.id_pointer.as_deref(),
        };
        match pointer {
            None => Ok(sms.id.to_string()),
            Some(p) => serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v.pointer(p).and_then(|x| match x {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                })
                .ok_or_else(|| {
                    SubmitError::new(
                        SubmitErrorKind::Ambiguous,
                        "http_no_id",
                        format!("accepted, but the answer has no id at {p}"),
                    )
                }),
        }
    }
}

/// What an answer means, by status and body.
pub fn classify(preset: Preset, status: u16, body: &str) -> Result<(), SubmitError> {
    let short: String = body.chars().take(200).collect();
    let code = match preset {
        Preset::Twilio => serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["code"].as_u64())
            .map_or_else(|| format!("http_{status}"), |c| format!("twilio_{c}")),
        _ => format!("http_{status}"),
    };
    // Kannel answers 202 for accepted and queued alike; anything else is a refusal.
    if (200..300).contains(&status) {
        if preset == Preset::Kannel && !(body.starts_with("0:") || body.starts_with("3:")) {
            return Err(SubmitError::new(SubmitErrorKind::Temporary, code, short));
        }
        return Ok(());
    }
    let kind = match status {
        401 | 403 => SubmitErrorKind::Unavailable,
        429 => SubmitErrorKind::Throttled,
        400..=499 => SubmitErrorKind::Permanent,
        _ => SubmitErrorKind::Temporary,
    };
    Err(SubmitError::new(kind, code, short))
}

#[async_trait]
impl Connector for HttpConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn info(&self) -> ConnectorInfo {
        let last_error = self
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ConnectorInfo {
            name: self.name.clone(),
            kind: "http".into(),
            state: ConnectorState::Bound,
            submitted: self.submitted.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            receipts: self.receipts.load(Ordering::Relaxed),
            inbound: 0,
            in_flight: self.in_flight.load(Ordering::Relaxed),
            details: serde_json::json!({
                "preset": format!("{:?}", self.s.preset).to_lowercase(),
                "url": redact(&self.s.url),
                "receipts_at": self.dlr_url(),
                "last_error": last_error,
            }),
        }
    }

    fn capacity(&self) -> usize {
        self.s.concurrency
    }

    fn share_rate(&self, nodes: u32) {
        if let Some(p) = &self.pacer {
            p.share(nodes);
        }
    }

    async fn submit(&self, sms: &OutboundSms) -> SubmitOutcome {
        let _slot = self.slots.acquire().await;
        if let Some(p) = &self.pacer {
            p.wait().await;
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let outcome = self.send(sms).await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match &outcome {
            SubmitOutcome::Accepted { .. } => {
                self.submitted.fetch_add(1, Ordering::Relaxed);
            }
            SubmitOutcome::Rejected(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(connector = %self.name, message = %sms.id, code = %e.code, error = %e.message, "http upstream refused the submit");
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(format!("{}: {}", e.code, e.message));
            }
        }
        outcome
    }

    fn http_dlr(&self) -> Option<&dyn HttpDlr> {
        Some(self)
    }
}

impl HttpConnector {
    async fn send(&self, sms: &OutboundSms) -> SubmitOutcome {
        if sms.binary.is_some() {
            // An HTTP API takes text: sending the hex as text would alter the message.
            return SubmitOutcome::Rejected(SubmitError::new(
                SubmitErrorKind::Permanent,
                "binary_unsupported",
                format!(
                    "connector '{}' (http, {:?}) cannot carry binary SMS; route binary \
                     messages to an SMPP or modem connector",
                    self.name, self.s.preset
                ),
            ));
        }
        let req = match self.request(sms) {
            Ok(r) => r,
            Err(e) => return SubmitOutcome::Rejected(e),
        };
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                // Never the URL with its query (a Kannel password): the kind only.
                let kind = if e.is_timeout() {
                    SubmitErrorKind::Ambiguous
                } else if e.is_connect() {
                    SubmitErrorKind::Unavailable
                } else {
                    SubmitErrorKind::Temporary
                };
                let what = if e.is_timeout() {
                    "no answer in time"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                return SubmitOutcome::Rejected(SubmitError::new(kind, "http_io", what));
            }
        };
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        if let Err(e) = classify(self.s.preset, status, &body) {
            return SubmitOutcome::Rejected(e);
        }
        match self.remote_id(sms, &body) {
            Ok(id) => SubmitOutcome::Accepted {
                remote_ids: vec![id],
            },
            Err(e) => SubmitOutcome::Rejected(e),
        }
    }

    /// The report's id and state, from the request's fields.
    fn read_report(
        &self,
        f: &BTreeMap<String, String>,
    ) -> Result<Option<(String, ReceiptState, Option<String>)>, String> {
        match self.s.preset {
            Preset::Twilio => {
                let id = f.get("MessageSid").ok_or("no MessageSid")?.clone();
                let state = match f.get("MessageStatus").map(String::as_str) {
                    Some("delivered") => ReceiptState::Delivered,
                    Some("undelivered" | "failed") => ReceiptState::Undelivered,
                    Some(_) => return Ok(None),
                    None => return Err("no MessageStatus".into()),
                };
                Ok(Some((id, state, f.get("ErrorCode").cloned())))
            }
            Preset::Kannel => {
                let id = f.get("id").ok_or("no id")?.clone();
                let state = match f.get("type").map(String::as_str) {
                    Some("1") => ReceiptState::Delivered,
                    Some("2" | "16") => ReceiptState::Undelivered,
                    Some(_) => return Ok(None),
                    None => return Err("no type".into()),
                };
                Ok(Some((id, state, None)))
            }
            Preset::Generic => {
                let id_field = self.s.dlr_id.as_deref().unwrap_or("id");
                let status_field = self.s.dlr_status.as_deref().unwrap_or("status");
                let id = f
                    .get(id_field)
                    .ok_or_else(|| format!("no {id_field}"))?
                    .clone();
                let status = f
                    .get(status_field)
                    .ok_or_else(|| format!("no {status_field}"))?;
                let is = |list: &[String], default: &[&str]| {
                    if list.is_empty() {
                        default.contains(&status.as_str())
                    } else {
                        list.iter().any(|v| v == status)
                    }
                };
                if is(&self.s.delivered, &["delivered"]) {
                    Ok(Some((id, ReceiptState::Delivered, None)))
                } else if is(&self.s.failed, &["undelivered", "failed"]) {
                    Ok(Some((id, ReceiptState::Undelivered, None)))
                } else {
                    Ok(None)
                }
            }
        }
    }
}

#[async_trait]
impl HttpDlr for HttpConnector {
    async fn report(
        &self,
        query: &BTreeMap<String, String>,
        form: &BTreeMap<String, String>,
        signature: Option<&str>,
    ) -> Result<(), String> {
        if let Some(t) = &self.s.dlr_token {
            let given = query.get("token").map(String::as_bytes).unwrap_or_default();
            if !bool::from(subtle::ConstantTimeEq::ct_eq(given, t.as_bytes())) {
                return Err("the report's token is missing or wrong".into());
            }
        }
        if let (Preset::Twilio, Some(token), Some(url)) =
            (self.s.preset, &self.s.callback_token, self.dlr_url())
        {
            let body = smsgate_core::twilio::form(
                &form
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect::<Vec<_>>(),
            );
            // Signed over the URL we gave as the StatusCallback.
            let expected = smsgate_core::twilio::signature(token, &url, &body);
            if signature != Some(expected.as_str()) {
                return Err("X-Twilio-Signature does not match".into());
            }
        }
        let mut fields = query.clone();
        fields.extend(form.iter().map(|(k, v)| (k.clone(), v.clone())));
        let Some((remote_id, state, error_code)) = self.read_report(&fields)? else {
            return Ok(());
        };
        self.receipts.fetch_add(1, Ordering::Relaxed);
        let receipt = Receipt {
            connector: self.name.clone(),
            remote_id,
            state,
            error_code,
        };
        if self
            .events
            .report_durably(ConnectorEvent::Receipt(receipt))
            .await
        {
            Ok(())
        } else {
            Err("the gateway could not store the report; send it again".into())
        }
    }
}

use smsgate_core::outbound::redact_url as redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status_and_body() {
        assert!(classify(Preset::Twilio, 201, "{}").is_ok());
        let e = classify(Preset::Twilio, 400, r#"{"code": 21211, "message": "bad"}"#).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (SubmitErrorKind::Permanent, "twilio_21211")
        );
        assert_eq!(
            classify(Preset::Twilio, 429, "").unwrap_err().kind,
            SubmitErrorKind::Throttled
        );
        assert_eq!(
            classify(Preset::Generic, 503, "").unwrap_err().kind,
            SubmitErrorKind::Temporary
        );
        assert_eq!(
            classify(Preset::Kannel, 403, "Authorization failed for sendsms")
                .unwrap_err()
                .kind,
            SubmitErrorKind::Unavailable
        );
        assert!(classify(Preset::Kannel, 202, "0: Accepted for delivery").is_ok());
        assert!(classify(Preset::Kannel, 202, "3: Queued for later delivery").is_ok());
    }

    #[test]
    fn credentials_stay_out_of_the_status_view() {
        assert_eq!(
            redact("https://u:p@api.example.com/x"),
            "https://***@api.example.com/x"
        );
        assert_eq!(
            redact("http://h/cgi-bin/sendsms?password=p"),
            "http://h/cgi-bin/sendsms"
        );
    }
}
