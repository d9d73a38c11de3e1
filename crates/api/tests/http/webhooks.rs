//! `/v1/webhooks` and per-message callbacks with status filters: what is stored is what the
//! webhook pipeline filters by, and a filter that could never match is refused.

use serde_json::json;

use crate::harness::{Server, code, message};

async fn a_subscription_keeps_its_status_filter_and_shows_it() {
    let s = Server::start().await;
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/webhooks",
            Some(
                json!({"url": "http://127.0.0.1:9/hook", "events": ["message.status"],
                        "statuses": ["delivered", "undelivered", "failed", "expired"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["statuses"],
        json!(["delivered", "undelivered", "failed", "expired"])
    );
    let id = v["id"].as_str().unwrap().to_owned();
    let (_, list) = s.api.call("GET", "/v1/webhooks", None).await;
    let hook = list
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == id.as_str())
        .unwrap();
    assert_eq!(hook["statuses"], v["statuses"]);
    // What the pipeline reads: the store has the filter as statuses.
    let stored = s.store.list_webhooks(None).await.unwrap();
    let names: Vec<&str> = stored[0].statuses.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["delivered", "undelivered", "failed", "expired"]);

    // Without a filter: every status, and no `statuses` in the view.
    let (_, v) = s
        .api
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/all", "events": ["*"]})),
        )
        .await;
    assert!(v.get("statuses").is_none(), "{v}");
}

async fn a_status_filter_that_cannot_match_is_refused() {
    let s = Server::start().await;
    for (body, want) in [
        (
            json!({"url": "http://h/x", "events": ["message.status"], "statuses": ["done"]}),
            "invalid_statuses",
        ),
        (
            json!({"url": "http://h/x", "events": ["alert.*"], "statuses": ["delivered"]}),
            "invalid_statuses",
        ),
    ] {
        let (status, v) = s.api.call("POST", "/v1/webhooks", Some(body.clone())).await;
        assert_eq!((status, code(&v)), (400, want), "{body} → {v}");
        assert!(!message(&v).is_empty());
    }
    let (_, v) = s
        .api
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://h/x", "events": ["message.status"], "statuses": ["done"]})),
        )
        .await;
    assert!(
        message(&v).contains("delivered"),
        "names the known statuses: {v}"
    );
    assert!(s.store.list_webhooks(None).await.unwrap().is_empty());
}

async fn a_messages_callback_statuses_are_stored_with_it() {
    let s = Server::start().await;
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(
                json!({"to": "+4915112345678", "text": "x", "callback_url": "http://h/cb",
                        "callback_statuses": ["failed", "delivered", "failed"]}),
            ),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().unwrap();
    let (_, m) = s.api.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(
        m["callback_statuses"],
        json!(["failed", "delivered"]),
        "{m}"
    );
    let (stored, _) = s.store.message(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.callback_statuses.len(), 2);
}

smsgate_testkit::both_backends!(
    a_subscription_keeps_its_status_filter_and_shows_it,
    a_status_filter_that_cannot_match_is_refused,
    a_messages_callback_statuses_are_stored_with_it,
);
