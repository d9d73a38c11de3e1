//! The queue as the API shows it: the `[limits] max_queued` bound answers 429 with
//! `Retry-After`, `/v1/stats` counts messages by status, `/v1/connectors` and the health
//! endpoints report what runs.

use serde_json::{Value, json};
use smsgate_core::intake::IntakeLimits;

use crate::harness::{Options, Server, code, message};

async fn a_full_queue_answers_429_with_retry_after_and_keeps_what_it_accepted() {
    let s = Server::start_with(Options {
        limits: IntakeLimits {
            max_queued: 2,
            ..IntakeLimits::default()
        },
        ..Options::default()
    })
    .await;
    s.send("+4915112345678", "one").await;
    s.send("+4915112345678", "two").await;
    let res = s
        .api
        .http
        .post(format!("{}/v1/messages", s.api.base))
        .bearer_auth(&s.api.key)
        .header("content-type", "application/json")
        .body(json!({"to": "+4915112345678", "text": "three"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "2");
    let v: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(code(&v), "queue_full");
    assert!(message(&v).contains("max_queued"), "{v}");
    assert_eq!(s.store.stats().await.unwrap().waiting, 2);
}

async fn stats_count_the_queue_by_status() {
    let s = Server::start().await;
    let ids = [
        s.send("+4915112345678", "a").await,
        s.send("+4915112345678", "b").await,
        s.send("+4915112345678", "c").await,
    ];
    assert_eq!(
        s.api
            .call("DELETE", &format!("/v1/messages/{}", ids[0]), None)
            .await
            .0,
        200
    );
    let (status, v) = s.api.call("GET", "/v1/stats", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["waiting"], 2, "{v}");
    let by_status: Vec<(String, u64)> = serde_json::from_value(v["by_status"].clone()).unwrap();
    assert!(by_status.contains(&("queued".into(), 2)), "{v}");
    assert!(by_status.contains(&("canceled".into(), 1)), "{v}");
}

async fn connectors_health_and_readiness_report_what_runs() {
    let s = Server::start().await;
    let (status, v) = s.api.call("GET", "/v1/connectors", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v[0]["name"], "sim");
    assert_eq!(v[0]["state"], "bound");
    let (status, v) = s.api.call_as("", "GET", "/healthz", None).await;
    assert_eq!((status, &v), (200, &json!({"status": "ok"})));
    let (status, v) = s.api.call_as("", "GET", "/readyz", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ready"], true);
    assert_eq!(v["connectors_bound"], 1);
}

async fn unauthenticated_metrics_count_the_queue_at_most_once_a_second() {
    let s = Server::start().await;
    let queued = || async {
        let text = s
            .api
            .http
            .get(format!("{}/metrics", s.api.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("smsgate_messages{status=\"queued\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = queued().await;
    s.send("+4915112345678", "counted later").await;
    // Within the second, /metrics answers from the last count: no full count per request.
    assert_eq!(queued().await, before, "served from the cached count");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(queued().await, before + 1, "counted again after a second");
}

smsgate_testkit::both_backends!(
    a_full_queue_answers_429_with_retry_after_and_keeps_what_it_accepted,
    stats_count_the_queue_by_status,
    connectors_health_and_readiness_report_what_runs,
    unauthenticated_metrics_count_the_queue_at_most_once_a_second,
);
