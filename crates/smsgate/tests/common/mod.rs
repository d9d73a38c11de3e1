//! Shared helpers of the gateway's integration tests: a gateway on port 0 in a temp dir, an
//! HTTP client, and a webhook receiver that records what it gets.

#![allow(dead_code)]

pub mod interop;
pub mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use smsgate::config::{Config, ConnectorConfig};
use smsgate::gateway::Gateway;

/// A gateway under test with its temp dir and admin key.
pub struct TestGateway {
    pub gw: Gateway,
    pub key: String,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// A config with one simulator connector of the given settings.
pub fn config(dir: &std::path::Path, sim: Value) -> Config {
    let mut c = Config::default();
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c.store.url = format!("sqlite://{}/smsgate.db", dir.display());
    c.dispatcher.retry_base = Duration::from_millis(100);
    c.dispatcher.retry_cap = Duration::from_millis(400);
    let Value::Object(settings) = sim else {
        panic!("sim settings must be an object")
    };
    c.connectors = vec![ConnectorConfig {
        name: "sim".into(),
        kind: "simulator".into(),
        settings,
    }];
    c
}

impl TestGateway {
    /// Starts a gateway with a simulator (`sim` settings merged over a 100 ms delivery delay).
    pub async fn start(sim: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = json!({"delivery_delay": "100ms"});
        for (k, v) in sim.as_object().unwrap() {
            settings[k] = v.clone();
        }
        Self::start_with(config(dir.path(), settings), dir).await
    }

    /// Starts a gateway from a prepared config.
    pub async fn start_with(config: Config, dir: tempfile::TempDir) -> Self {
        let gw = Gateway::start(config).await.unwrap();
        let key = gw
            .first_admin_key
            .clone()
            .expect("fresh store creates an admin key");
        let base = format!("http://{}", gw.addr);
        Self {
            gw,
            key,
            base,
            http: reqwest::Client::new(),
            dir,
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

/// One webhook POST as received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub signature: String,
    pub body: String,
}

/// A local HTTP server that records webhook POSTs; answers `status` (200 by default).
pub struct Receiver {
    pub url: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub status: Arc<Mutex<u16>>,
}

impl Receiver {
    pub async fn start() -> Self {
        use axum::routing::post;
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let (h, s) = (Arc::clone(&hits), Arc::clone(&status));
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let (h, s) = (Arc::clone(&h), Arc::clone(&s));
                async move {
                    let signature = headers
                        .get("smsgate-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    h.lock().unwrap().push(Hit { signature, body });
                    let code = *s.lock().unwrap();
                    axum::http::StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, hits, status }
    }

    /// Waits until a hit satisfies `pred` (10 s at most).
    pub async fn wait_for(&self, pred: impl Fn(&Value) -> bool) -> Hit {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(hit) = self
                .hits
                .lock()
                .unwrap()
                .iter()
                .find(|h| serde_json::from_str::<Value>(&h.body).is_ok_and(|v| pred(&v)))
            {
                return hit.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no matching webhook; got {:?}",
                self.hits.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
