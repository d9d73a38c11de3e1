//! `POST /v1/messages/batch`: each entry is accepted or rejected on its own, in its position;
//! an empty, oversized or unaffordable batch is refused whole.

use serde_json::{Value, json};
use smsgate_core::intake::IntakeLimits;

use crate::harness::{Options, Server, code};

fn entry(to: &str) -> Value {
    json!({"to": to, "text": "batch"})
}

async fn valid_entries_are_queued_and_each_bad_one_is_named_in_its_position() {
    let s = Server::start().await;
    let batch = json!({"messages": [
        entry("+4915112345678"),
        entry("not a number"),
        {"to": "+4915112345679", "text": 42},
        entry("+4915112345680"),
    ]});
    let (status, v) = s.api.call("POST", "/v1/messages/batch", Some(batch)).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    let entries = v["messages"].as_array().unwrap();
    let summary: Vec<(u64, &str)> = entries
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, "queued"),
            (1, "rejected"),
            (2, "rejected"),
            (3, "queued")
        ]
    );
    assert_eq!(code(&entries[1]), "invalid_number");
    assert_eq!(code(&entries[2]), "invalid_json");
    for accepted in [&entries[0], &entries[3]] {
        let id = accepted["id"].as_str().unwrap();
        let (status, m) = s.api.call("GET", &format!("/v1/messages/{id}"), None).await;
        assert_eq!((status, m["status"].as_str()), (200, Some("queued")));
    }
    assert_eq!(s.store.stats().await.unwrap().waiting, 2);
}

async fn an_empty_or_oversized_batch_is_refused_whole() {
    let s = Server::start().await;
    let (status, v) = s
        .api
        .call("POST", "/v1/messages/batch", Some(json!({"messages": []})))
        .await;
    assert_eq!((status, code(&v)), (400, "empty_batch"), "{v}");
    let many: Vec<Value> = (0..1001).map(|_| entry("+4915112345678")).collect();
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages/batch",
            Some(json!({"messages": many})),
        )
        .await;
    assert_eq!((status, code(&v)), (400, "batch_too_large"), "{v}");
    assert_eq!(s.store.stats().await.unwrap().waiting, 0);
}

async fn a_batch_beyond_the_queue_bound_is_refused_whole_with_429() {
    let s = Server::start_with(Options {
        limits: IntakeLimits {
            max_queued: 3,
            ..IntakeLimits::default()
        },
        ..Options::default()
    })
    .await;
    let five: Vec<Value> = (0..5).map(|_| entry("+4915112345678")).collect();
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages/batch",
            Some(json!({"messages": five})),
        )
        .await;
    assert_eq!((status, code(&v)), (429, "queue_full"), "{v}");
    assert_eq!(
        s.store.stats().await.unwrap().waiting,
        0,
        "none of it was accepted"
    );
}

smsgate_testkit::both_backends!(
    valid_entries_are_queued_and_each_bad_one_is_named_in_its_position,
    an_empty_or_oversized_batch_is_refused_whole,
    a_batch_beyond_the_queue_bound_is_refused_whole_with_429,
);
