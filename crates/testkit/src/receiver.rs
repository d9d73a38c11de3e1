//! A webhook receiver: the far end of the gateway's webhook deliveries, so tests can assert
//! what was POSTed, how it was signed, and what happens when the endpoint fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// One webhook POST as received, kept so a test can check the body and its signature.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The `Smsgate-Signature` header (empty when missing).
    pub signature: String,
    /// The raw body, exactly as signed.
    pub body: String,
}

/// A local HTTP server on 127.0.0.1:0 that records webhook POSTs to `/hook` and answers
/// `status` (200 by default): the endpoint every webhook test points a subscription at.
pub struct Receiver {
    /// The URL to subscribe (`http://127.0.0.1:PORT/hook`).
    pub url: String,
    /// Every POST so far, oldest first.
    pub hits: Arc<Mutex<Vec<Hit>>>,
    /// The status the next POSTs get; set it to 500 to make the endpoint fail.
    pub status: Arc<Mutex<u16>>,
    /// How long the next POSTs wait before the answer; set it beyond the sender's timeout to
    /// make the endpoint hang.
    pub delay: Arc<Mutex<Duration>>,
}

impl Receiver {
    /// Starts the server on a free port; it runs until the test's runtime ends.
    pub async fn start() -> Self {
        use axum::routing::post;
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let delay: Arc<Mutex<Duration>> = Arc::default();
        let (h, s, d) = (Arc::clone(&hits), Arc::clone(&status), Arc::clone(&delay));
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: axum::http::HeaderMap, body: String| {
                let (h, s, d) = (Arc::clone(&h), Arc::clone(&s), Arc::clone(&d));
                async move {
                    let wait = *d.lock().unwrap();
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
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
        Self {
            url,
            hits,
            status,
            delay,
        }
    }

    /// Waits until a hit's JSON body satisfies `pred` (10 s at most) and returns it.
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
