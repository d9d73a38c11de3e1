//! `GET /v1/events/stream` over a store whose webhook cursor never moves (no pipeline runs
//! here): a stream without `Last-Event-ID` must still start after the newest event however
//! far the cursor lags, and say where in its first frame.

use serde_json::json;

use crate::harness::Server;

/// The `id:` of a new stream's first frame: where it starts.
async fn start_of_a_new_stream(s: &Server) -> i64 {
    let mut res = s
        .api
        .http
        .get(format!("{}/v1/events/stream", s.api.base))
        .bearer_auth(&s.api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.unwrap().unwrap();
    let text = std::str::from_utf8(&first).unwrap();
    text.strip_prefix("id: ")
        .and_then(|t| t.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("first frame {text:?}"))
        .parse()
        .unwrap()
}

/// Appends `n` events at once (they share group commits).
async fn append(s: &Server, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let store = std::sync::Arc::clone(&s.store);
        tasks.spawn(async move {
            store
                .append_event("alert.raised", json!({"id": i, "tenant": "default"}), 1)
                .await
                .unwrap();
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

#[tokio::test]
async fn a_new_stream_starts_at_the_newest_event_however_far_the_webhook_cursor_lags() {
    let s = Server::start().await;
    assert_eq!(s.store.webhook_cursor().await.unwrap(), 0);
    assert_eq!(start_of_a_new_stream(&s).await, 0);
    // Around each probe's edge (64 positions), then far beyond it.
    let mut total = 0;
    for n in [1, 62, 1, 1, 200, 737] {
        append(&s, n).await;
        total += n as i64;
        assert_eq!(
            start_of_a_new_stream(&s).await,
            total,
            "after {total} events"
        );
    }
    assert_eq!(s.store.webhook_cursor().await.unwrap(), 0);
}
