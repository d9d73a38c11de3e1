//! `/v1/messages` one at a time: a submit is committed before its 202 and reads back with its
//! timeline; bad requests get a 4xx with a JSON error that says what to fix, and leave
//! nothing behind.

use serde_json::{Value, json};

use crate::harness::{Options, Server, code, message};

async fn a_submit_is_committed_before_its_202_and_reads_back_with_its_timeline() {
    let s = Server::start().await;
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+49 151 12345678", "text": "Grüße ✓", "priority": "high"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["status"], "queued");
    assert_eq!(
        (v["encoding"].as_str(), v["segments"].as_u64()),
        (Some("ucs2"), Some(1))
    );
    let id = v["id"].as_str().unwrap();
    // The answer came after the commit: the store has it without waiting.
    let (m, _) = s.store.message(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(m.to, "+4915112345678", "stored in E.164");

    let (status, m) = s.api.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["to"], "+4915112345678");
    assert_eq!(m["text"], "Grüße ✓");
    assert_eq!(m["priority"], "high");
    assert_eq!(m["status"], "queued");
    let events: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["queued"]);
}

async fn invalid_fields_get_400_with_the_code_of_what_is_wrong_and_nothing_is_queued() {
    let s = Server::start().await;
    let long = "x".repeat(160 * 11);
    for (body, want) in [
        (json!({"to": "12ab", "text": "x"}), "invalid_number"),
        (json!({"to": "+4915112345678", "text": ""}), "empty_text"),
        (
            json!({"to": "+4915112345678", "text": long}),
            "text_too_long",
        ),
        (
            json!({"to": "+4915112345678", "text": "x", "validity": "soon"}),
            "invalid_validity",
        ),
        (
            json!({"to": "+4915112345678", "text": "x", "send_at": "tomorrow"}),
            "invalid_send_at",
        ),
        (
            json!({"to": "+4915112345678", "text": "x", "callback_url": "ftp://h/x"}),
            "invalid_callback_url",
        ),
        (
            json!({"to": "+4915112345678", "text": "x", "callback_url": "http://h/x",
                   "callback_statuses": ["delivered", "arrived"]}),
            "invalid_callback_statuses",
        ),
        (
            json!({"to": "+4915112345678", "text": "x", "callback_statuses": ["delivered"]}),
            "invalid_callback_statuses",
        ),
        (
            json!({"to": "+4915112345678", "text": "x", "colour": "red"}),
            "invalid_json",
        ),
        (json!({"text": "x"}), "invalid_json"),
    ] {
        let (status, v) = s.api.call("POST", "/v1/messages", Some(body.clone())).await;
        assert_eq!((status, code(&v)), (400, want), "{body} → {v}");
        assert!(!message(&v).is_empty());
    }
    let (_, v) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x", "colour": "red"})),
        )
        .await;
    assert!(
        message(&v).contains("colour"),
        "the unknown field is named: {v}"
    );
    assert_eq!(s.store.stats().await.unwrap().waiting, 0);
}

async fn a_body_over_the_limit_gets_413_and_one_that_is_not_json_415() {
    let s = Server::start_with(Options {
        max_body_bytes: 1024,
        ..Options::default()
    })
    .await;
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x".repeat(2000)})),
        )
        .await;
    assert_eq!((status, code(&v)), (413, "body_too_large"), "{v}");
    assert!(message(&v).contains("max_body_bytes"), "{v}");

    let res = s
        .api
        .http
        .post(format!("{}/v1/messages", s.api.base))
        .bearer_auth(&s.api.key)
        .body(r#"{"to": "+4915112345678", "text": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let v: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(code(&v), "unsupported_media_type");

    let (status, v) = s
        .api
        .call("POST", "/v1/messages", Some(json!("not an object")))
        .await;
    assert_eq!((status, code(&v)), (400, "invalid_json"), "{v}");
    assert_eq!(s.store.stats().await.unwrap().waiting, 0);
}

async fn the_same_idempotency_key_returns_the_first_message() {
    let s = Server::start().await;
    let body = json!({"to": "+4915112345678", "text": "once", "idempotency_key": "order-42"});
    let first = s.api.send(body.clone()).await;
    let again = s.api.send(body).await;
    assert_eq!(first, again);
    assert_eq!(s.store.stats().await.unwrap().waiting, 1);
}

async fn an_estimate_prices_a_text_without_queueing_it() {
    let s = Server::start().await;
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages/estimate",
            Some(json!({"text": "x".repeat(161)})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["segments"], 2);
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages/estimate",
            Some(json!({"text": "x", "encoding": "morse"})),
        )
        .await;
    assert_eq!((status, code(&v)), (400, "invalid_encoding"), "{v}");
    assert_eq!(s.store.stats().await.unwrap().waiting, 0);
}

async fn unknown_ids_and_routes_get_json_404s() {
    let s = Server::start().await;
    for path in [
        "/v1/messages/not-an-id",
        "/v1/messages/0190f3a0-0000-7000-8000-000000000000",
        "/v1/nothing-here",
    ] {
        let (status, v) = s.api.call("GET", path, None).await;
        assert_eq!((status, code(&v)), (404, "not_found"), "{path}: {v}");
    }
}

async fn a_queued_message_can_be_canceled_and_one_already_claimed_cannot() {
    let s = Server::start().await;
    let id = s.send("+4915112345678", "cancel me").await;
    let path = format!("/v1/messages/{id}");
    let (status, v) = s.api.call("DELETE", &path, None).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("canceled")),
        "{v}"
    );
    let (status, v) = s.api.call("DELETE", &path, None).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("canceled")),
        "a repeat answers the same: {v}"
    );

    let claimed = s.send("+4915112345678", "on its way").await;
    // What the dispatcher does first: claim it, which makes it `sending`.
    let now = smsgate_core::clock::Clock::system().now_ms();
    assert_eq!(s.store.claim_due(now + 1000, 10).await.unwrap().len(), 1);
    let (status, v) = s
        .api
        .call("DELETE", &format!("/v1/messages/{claimed}"), None)
        .await;
    assert_eq!((status, code(&v)), (409, "not_cancelable"), "{v}");
    assert!(message(&v).contains("already sending"), "{v}");
    assert_eq!(s.store.stats().await.unwrap().waiting, 0);
}

smsgate_testkit::both_backends!(
    a_submit_is_committed_before_its_202_and_reads_back_with_its_timeline,
    invalid_fields_get_400_with_the_code_of_what_is_wrong_and_nothing_is_queued,
    a_body_over_the_limit_gets_413_and_one_that_is_not_json_415,
    the_same_idempotency_key_returns_the_first_message,
    an_estimate_prices_a_text_without_queueing_it,
    unknown_ids_and_routes_get_json_404s,
    a_queued_message_can_be_canceled_and_one_already_claimed_cannot,
);
