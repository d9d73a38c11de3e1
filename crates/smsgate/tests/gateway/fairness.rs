//! Priorities and per-key fairness through a real gateway: a slow simulated network (two
//! submits at a time, 20 ms each: about 100 messages a second) with a large batch queued,
//! then an urgent message, or a second key's small send, that must not wait for the batch.

use serde_json::{Value, json};
use smsgate_testkit::TestGateway;

/// A gateway whose one connector carries about 100 messages a second.
async fn slow_gateway() -> TestGateway {
    TestGateway::start(json!({"capacity": 2, "submit_latency": "20ms", "delivery_delay": "20ms"}))
        .await
}

/// Queues `n` messages with `key` at `priority` through the batch API.
async fn bulk(t: &TestGateway, key: &str, n: usize, priority: &str) {
    for chunk in 0..n.div_ceil(500) {
        let messages: Vec<Value> = (0..500.min(n - chunk * 500))
            .map(|i| {
                json!({"to": format!("+4915112{:06}", chunk * 500 + i), "text": "newsletter",
                       "priority": priority})
            })
            .collect();
        let (s, v) = t
            .call_as(
                key,
                "POST",
                "/v1/messages/batch",
                Some(json!({ "messages": messages })),
            )
            .await;
        assert_eq!((s, &v["rejected"]), (202, &json!(0)), "{v}");
    }
}

/// Messages not yet handed to the network (queued or waiting in `sending`).
async fn waiting(t: &TestGateway) -> u64 {
    let (_, stats) = t.call("GET", "/v1/stats", None).await;
    stats["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == "queued")
        .map(|p| p[1].as_u64().unwrap())
        .sum()
}

async fn a_high_priority_message_is_delivered_while_a_large_bulk_still_waits() {
    let t = slow_gateway().await;
    let key = t.key.clone();
    bulk(&t, &key, 600, "low").await;
    bulk(&t, &key, 600, "normal").await;
    let alert = t
        .send(json!({"to": "+4915199999999", "text": "pump 3 pressure low", "priority": "high"}))
        .await;
    let m = t.wait_status(&alert, "delivered").await;
    let left = waiting(&t).await;
    assert!(
        left >= 1_000,
        "the alert was delivered with {left} bulk messages still queued"
    );
    assert_eq!(m["priority"], "high");
    println!("high priority delivered with {left} of 1200 bulk messages still queued");
    t.gw.shutdown().await;
}

async fn a_second_keys_small_send_completes_while_the_first_keys_batch_is_queued() {
    let t = slow_gateway().await;
    let k = smsgate_core::keys::generate();
    t.gw.store
        .create_api_key(smsgate_core::store::ApiKey {
            id: k.id.clone(),
            name: "app-b".into(),
            prefix: k.prefix.clone(),
            admin: false,
            tenant: "app-b".into(),
            scopes: smsgate_core::keys::default_scopes(),
            rate_limit: None,
            created_at: 0,
            revoked_at: None,
            secret_hash: k.hash.clone(),
        })
        .await
        .unwrap();
    let key_a = t.key.clone();
    bulk(&t, &key_a, 1_000, "normal").await;
    let mut small = Vec::new();
    for i in 0..5 {
        let (s, v) = t
            .call_as(
                &k.secret,
                "POST",
                "/v1/messages",
                Some(json!({"to": format!("+491701234567{i}"), "text": "door open"})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        small.push(v["id"].as_str().unwrap().to_owned());
    }
    for id in &small {
        t.wait_status(id, "delivered").await;
    }
    let left = waiting(&t).await;
    assert!(
        left >= 700,
        "key B's 5 messages finished with only {left} of key A's 1000 still queued"
    );
    println!("key B's 5 messages delivered with {left} of key A's 1000 still queued");
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    multi_thread:
    a_high_priority_message_is_delivered_while_a_large_bulk_still_waits,
    a_second_keys_small_send_completes_while_the_first_keys_batch_is_queued,
);
