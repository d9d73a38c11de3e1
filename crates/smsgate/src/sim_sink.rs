//! `smsgate sim sink`: a counting HTTP receiver, the "application" end of a benchmark. It
//! answers every request `200 OK` at once (any method, any path: smsgate's webhook POSTs and
//! Kannel's `dlr-url` GETs alike) and counts them, so two gateways can be measured against the
//! same far end. `GET /_count` reads the counters, `POST /_reset` zeroes them.
//!
//! Besides all requests it counts the *final* ones, those that report a message's outcome: a
//! JSON body with `"status":"delivered"` (or `undelivered`, `failed`, `expired`), or a Kannel
//! `dlr-url` whose query has `s=1`, `s=2` or `s=16` (the `%d` DLR type: delivered, undelivered,
//! rejected by the SMSC). So a run with every status webhook still tells when each message is
//! done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::routing::{any, get, post};
use clap::Args;
use serde_json::json;

/// Options of `smsgate sim sink`.
#[derive(Args, Debug, Clone)]
pub struct SinkArgs {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8099")]
    pub listen: SocketAddr,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    finals: AtomicU64,
    /// Unix ms of the first and the last counted request, and of the last final one (0: none
    /// yet).
    first_ms: AtomicI64,
    last_ms: AtomicI64,
    last_final_ms: AtomicI64,
}

/// Whether a request reports a message's outcome (see the module docs).
fn is_final(query: Option<&str>, body: &[u8]) -> bool {
    const STATUSES: [&[u8]; 4] = [
        b"\"status\":\"delivered\"",
        b"\"status\":\"undelivered\"",
        b"\"status\":\"failed\"",
        b"\"status\":\"expired\"",
    ];
    let dlr = query.is_some_and(|q| q.split('&').any(|kv| matches!(kv, "s=1" | "s=2" | "s=16")));
    dlr || STATUSES
        .iter()
        .any(|s| body.windows(s.len()).any(|w| w == *s))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn count(
    State(c): State<Arc<Counters>>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> &'static str {
    let now = now_ms();
    let _ = c
        .first_ms
        .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    c.last_ms.fetch_max(now, Ordering::Relaxed);
    c.requests.fetch_add(1, Ordering::Relaxed);
    if is_final(uri.query(), &body) {
        c.last_final_ms.fetch_max(now, Ordering::Relaxed);
        c.finals.fetch_add(1, Ordering::Relaxed);
    }
    "ok"
}

async fn read(State(c): State<Arc<Counters>>) -> String {
    json!({
        "requests": c.requests.load(Ordering::Relaxed),
        "finals": c.finals.load(Ordering::Relaxed),
        "last_final_ms": c.last_final_ms.load(Ordering::Relaxed),
        "first_ms": c.first_ms.load(Ordering::Relaxed),
        "last_ms": c.last_ms.load(Ordering::Relaxed),
    })
    .to_string()
}

async fn reset(State(c): State<Arc<Counters>>) -> &'static str {
    c.requests.store(0, Ordering::Relaxed);
    c.finals.store(0, Ordering::Relaxed);
    c.last_final_ms.store(0, Ordering::Relaxed);
    c.first_ms.store(0, Ordering::Relaxed);
    c.last_ms.store(0, Ordering::Relaxed);
    "reset"
}

/// Serves until `shutdown` resolves; prints the bound address first.
pub async fn run(
    args: SinkArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("SINK http://{}", listener.local_addr()?);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    serve(listener, shutdown).await
}

/// Serves on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let app = Router::new()
        .route("/_count", get(read))
        .route("/_reset", post(reset))
        .fallback(any(count))
        .with_state(counters);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("sink server")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_every_request_whatever_its_method_and_path() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let base = format!("http://{addr}");
        let counts = || async {
            let text = http
                .get(format!("{base}/_count"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };
        http.post(format!("{base}/hook"))
            .body("{}")
            .send()
            .await
            .unwrap();
        let r = http
            .get(format!("{base}/dlr?id=1&s=8"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        http.get(format!("{base}/dlr?id=1&s=1"))
            .send()
            .await
            .unwrap();
        let hook = r#"{"data":{"status":"delivered"}}"#;
        http.post(format!("{base}/hook"))
            .body(hook)
            .send()
            .await
            .unwrap();
        let v = counts().await;
        assert_eq!(v["requests"], 4, "{v}");
        assert_eq!(v["finals"], 2, "a DLR type 1 and a delivered status: {v}");
        assert!(v["first_ms"].as_i64().unwrap() > 0);
        http.post(format!("{base}/_reset")).send().await.unwrap();
        let v = counts().await;
        assert_eq!(
            (&v["requests"], &v["finals"]),
            (&json!(0), &json!(0)),
            "{v}"
        );
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
