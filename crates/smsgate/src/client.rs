//! The HTTP client of the CLI's remote commands: JSON in, JSON out, API errors as sentences.

use anyhow::{Context, bail};
use serde_json::Value;

/// The gateway answered a request with an error: what it said.
#[derive(Debug, thiserror::Error)]
#[error("{message} (HTTP {status})")]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// `code: message` from the error body.
    pub message: String,
}

/// A running gateway's API.
pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
    /// For answers that never end (`/v1/events/stream`): no deadline for the whole answer,
    /// only for connecting and for each read (the stream's keepalives come every 15 s).
    stream_http: reqwest::Client,
}

impl Client {
    /// A client for `base` (`http://127.0.0.1:8080`) with an API key.
    pub fn new(base: &str, key: &str) -> anyhow::Result<Self> {
        if key.is_empty() {
            bail!(
                "no API key: pass --key or set SMSGATE_KEY (serve prints one on first start; `smsgate keys create` makes more)"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let stream_http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(45))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            http,
            stream_http,
        })
    }

    /// The gateway's URL, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET an answer that streams (server-sent events), resuming after `last_event_id`; the
    /// response once its head says 200, a [`Refused`] when the API answered otherwise (so a
    /// caller that reconnects can tell a refusal, which another try will not change, from a
    /// gateway that is away).
    pub async fn stream(
        &self,
        path: &str,
        last_event_id: Option<i64>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut req = self
            .stream_http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.bearer_auth(&self.key).send().await.with_context(|| {
            format!(
                "cannot reach the gateway at {} (is `smsgate serve` running? --url / SMSGATE_URL)",
                self.base
            )
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status().as_u16();
        let body: Value =
            serde_json::from_str(&res.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        Err(Refused {
            status,
            message: error_sentence(&body),
        }
        .into())
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
        let res = req.bearer_auth(&self.key).send().await.with_context(|| {
            format!(
                "cannot reach the gateway at {} (is `smsgate serve` running? --url / SMSGATE_URL)",
                self.base
            )
        })?;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 400 {
            bail!("{} (HTTP {status})", error_sentence(&body));
        }
        Ok((status, body))
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        Ok(self.call(req).await?.1)
    }

    /// PUT JSON (create or replace).
    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let req = self
            .http
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        Ok(self.call(req).await?.1)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .call(self.http.get(format!("{}{path}", self.base)))
            .await?
            .1)
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .call(self.http.delete(format!("{}{path}", self.base)))
            .await?
            .1)
    }
}

/// `code: message` of an API error body (`{"error": {"code", "message"}}`).
fn error_sentence(body: &Value) -> String {
    let code = body["error"]["code"].as_str().unwrap_or("error");
    let msg = body["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    format!("{code}: {msg}")
}
