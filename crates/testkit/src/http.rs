//! An HTTP client for the REST API of a gateway under test: requests with a key, JSON both
//! ways, and polling until a message reaches a status. One client for the binary crate's
//! in-process gateway and for the API crate's router served on port 0.

use std::time::Duration;

use serde_json::Value;

/// A client bound to one API base URL and one key, so tests write `api.call("GET", path, None)`
/// and get `(status, JSON)` back.
#[derive(Clone, Debug)]
pub struct Api {
    /// `http://127.0.0.1:PORT` of the API.
    pub base: String,
    /// The key [`Api::call`] sends (usually an admin key).
    pub key: String,
    /// The underlying client.
    pub http: reqwest::Client,
}

impl Api {
    /// A client for `base` that sends `key`.
    pub fn new(base: String, key: String) -> Self {
        Self {
            base,
            key,
            http: reqwest::Client::new(),
        }
    }

    /// A request with the admin key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.key.clone(), method, path, body).await
    }

    /// A request with any key (`""` for none).
    pub async fn call_as(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "DELETE" => self.http.delete(url),
            "PUT" => self.http.put(url),
            m => panic!("method {m}"),
        };
        if !key.is_empty() {
            req = req.bearer_auth(key);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    /// Sends one message and returns its id.
    pub async fn send(&self, body: Value) -> String {
        let (s, v) = self.call("POST", "/v1/messages", Some(body)).await;
        assert_eq!(s, 202, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Polls a message until `pred` holds (10 s at most) and returns it.
    pub async fn wait_for(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, m) = self.call("GET", &format!("/v1/messages/{id}"), None).await;
            if pred(&m) {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; last: {m}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the message has status `status`.
    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        self.wait_for(id, |m| m["status"] == status).await
    }

    /// Polls `GET /v1/connectors` until every session of the first connector is bound (10 s
    /// at most); returns those sessions.
    pub async fn wait_sessions_bound(&self) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, list) = self.call("GET", "/v1/connectors", None).await;
            let sessions = list[0]["details"]["sessions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !sessions.is_empty() && sessions.iter().all(|s| s["state"] == "bound") {
                return sessions;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never bound: {list}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
