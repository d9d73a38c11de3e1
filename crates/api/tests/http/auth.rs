//! Bearer API keys: every `/v1` route wants one, answers 401 JSON without a valid one, and a
//! key that is not an admin's sees only its own messages.

use std::time::Duration;

use serde_json::json;
use smsgate_core::clock::Clock;

use crate::harness::{Server, code, message};

async fn a_request_without_a_key_gets_401_json_saying_which_header_to_send() {
    let s = Server::start().await;
    for (method, path) in [
        ("GET", "/v1/messages"),
        ("POST", "/v1/messages"),
        ("GET", "/v1/stats"),
        ("GET", "/v1/connectors"),
    ] {
        let body = (method == "POST").then(|| json!({"to": "+4915112345678", "text": "x"}));
        let (status, v) = s.api.call_as("", method, path, body).await;
        assert_eq!(status, 401, "{method} {path}: {v}");
        assert_eq!(code(&v), "unauthorized");
        assert!(message(&v).contains("Authorization: Bearer"), "{v}");
    }
    let waiting = s.store.stats().await.unwrap().waiting;
    assert_eq!(waiting, 0, "nothing was queued without a key");
}

async fn a_malformed_header_or_an_unknown_key_gets_401() {
    let s = Server::start().await;
    let res = s
        .api
        .http
        .get(format!("{}/v1/messages", s.api.base))
        .header("authorization", "Basic dXNlcjpwdw==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(message(&v).contains("'Bearer <api key>'"), "{v}");

    let (status, v) = s
        .api
        .call_as("sk_0000000000", "GET", "/v1/messages", None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(message(&v), "unknown or revoked API key");
}

async fn a_revoked_key_stops_working_within_the_cache_lifetime() {
    let s = Server::start().await;
    let (app, id) = s.client("app").await;
    assert_eq!(app.call("GET", "/v1/messages", None).await.0, 200);
    assert!(
        s.store
            .revoke_api_key(&id, Clock::system().now_ms())
            .await
            .unwrap()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, v) = app.call("GET", "/v1/messages", None).await;
        if status == 401 {
            assert_eq!(code(&v), "unauthorized");
            break;
        }
        assert_eq!(status, 200);
        assert!(
            tokio::time::Instant::now() < deadline,
            "a revoked key still works after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_key_sees_and_cancels_only_its_own_messages_and_an_admin_sees_all() {
    let s = Server::start().await;
    let (alice, _) = s.client("alice").await;
    let (bob, _) = s.client("bob").await;
    let mine = alice
        .send(json!({"to": "+4915112345678", "text": "alice's"}))
        .await;
    let path = format!("/v1/messages/{mine}");

    let (status, v) = bob.call("GET", &path, None).await;
    assert_eq!((status, code(&v)), (404, "not_found"), "{v}");
    let (status, _) = bob.call("DELETE", &path, None).await;
    assert_eq!(status, 404, "another key's message cannot be canceled");
    let (_, list) = bob.call("GET", "/v1/messages", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");

    assert_eq!(alice.call("GET", &path, None).await.0, 200);
    assert_eq!(
        s.api.call("GET", &path, None).await.0,
        200,
        "admins see all"
    );
    let (_, list) = s.api.call("GET", "/v1/messages", None).await;
    assert_eq!(list["data"][0]["id"], mine.as_str());
}

async fn only_admin_keys_may_list_the_smpp_servers_sessions() {
    let s = Server::start().await;
    let (app, _) = s.client("app").await;
    let (status, v) = app.call("GET", "/v1/smpp/sessions", None).await;
    assert_eq!((status, code(&v)), (403, "forbidden"), "{v}");
    let (status, v) = s.api.call("GET", "/v1/smpp/sessions", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        v["sessions"],
        json!([]),
        "no SMPP server runs: an empty list"
    );
}

smsgate_testkit::both_backends!(
    a_request_without_a_key_gets_401_json_saying_which_header_to_send,
    a_malformed_header_or_an_unknown_key_gets_401,
    a_revoked_key_stops_working_within_the_cache_lifetime,
    a_key_sees_and_cancels_only_its_own_messages_and_an_admin_sees_all,
    only_admin_keys_may_list_the_smpp_servers_sessions,
);
