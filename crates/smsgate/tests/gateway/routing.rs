//! Routing, failover, balance, reload and backpressure through a real gateway on 127.0.0.1,
//! with simulated-network connectors that fail in configured ways.

use serde_json::{Value, json};
use smsgate::config::ConnectorConfig;
use smsgate_core::routing::{Route, Strategy};
use smsgate_testkit::TestGateway;

fn sim(name: &str, settings: Value) -> ConnectorConfig {
    let Value::Object(mut settings) = settings else {
        panic!("settings must be an object")
    };
    settings.entry("delivery_delay").or_insert(json!("50ms"));
    ConnectorConfig {
        name: name.into(),
        kind: "simulator".into(),
        settings,
    }
}

fn route(prefix: &str, connectors: &[&str]) -> Route {
    Route {
        prefix: prefix.into(),
        connectors: connectors.iter().map(|s| s.to_string()).collect(),
        ..Route::default()
    }
}

async fn gateway(connectors: Vec<ConnectorConfig>, routes: Vec<Route>) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({}));
    c.connectors = connectors;
    c.routes = routes;
    TestGateway::start_with(c, dir).await
}

async fn connector_of(gw: &TestGateway, id: &str) -> String {
    let m = gw.wait_status(id, "delivered").await;
    m["connector"].as_str().unwrap_or("?").to_owned()
}

async fn a_connector_failing_temporarily_hands_messages_to_the_next_in_the_route() {
    let gw = gateway(
        vec![
            sim("flaky", json!({"throttle_rate": 1.0})),
            sim("backup", json!({})),
        ],
        vec![route("", &["flaky", "backup"])],
    )
    .await;
    for i in 0..5 {
        let id = gw
            .send(json!({"to": format!("+491511234567{i}"), "text": "pump 3 pressure low"}))
            .await;
        assert_eq!(connector_of(&gw, &id).await, "backup");
    }
    gw.gw.shutdown().await;
}

async fn longest_prefix_picks_the_connector_and_the_api_explains_why() {
    let gw = gateway(
        vec![sim("de", json!({})), sim("world", json!({}))],
        vec![route("", &["world"]), route("+49", &["de"])],
    )
    .await;
    let de = gw.send(json!({"to": "+4915112345678", "text": "x"})).await;
    let fr = gw.send(json!({"to": "+33612345678", "text": "x"})).await;
    assert_eq!(connector_of(&gw, &de).await, "de");
    assert_eq!(connector_of(&gw, &fr).await, "world");

    let (status, body) = gw.call("GET", "/v1/routes?to=%2B4915112345678", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["routes"].as_array().unwrap().len(), 2);
    assert_eq!(body["match"]["connectors"], json!(["de"]));
    assert_eq!(body["match"]["route"], 1);
    assert!(
        body["match"]["reason"].as_str().unwrap().contains("+49"),
        "{body}"
    );
    let (status, body) = gw.call("GET", "/v1/routes?to=12", None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_number");
    gw.gw.shutdown().await;
}

async fn a_balanced_route_spreads_messages_by_weight() {
    let mut balanced = route("", &["a", "b", "never"]);
    balanced.strategy = Strategy::Balance;
    balanced.weights = vec![1, 1, 0];
    let gw = gateway(
        vec![
            sim("a", json!({})),
            sim("b", json!({})),
            sim("never", json!({})),
        ],
        vec![balanced],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            gw.send(json!({"to": format!("+49151123456{i:02}"), "text": "x"}))
                .await,
        );
    }
    let mut counts = std::collections::HashMap::new();
    for id in &ids {
        *counts.entry(connector_of(&gw, id).await).or_insert(0) += 1;
    }
    // Equal weights: each gets some (P(all 40 on one side) ≈ 2e-12); weight 0 gets none.
    assert!(counts.get("a").copied().unwrap_or(0) > 0, "{counts:?}");
    assert!(counts.get("b").copied().unwrap_or(0) > 0, "{counts:?}");
    assert_eq!(counts.get("never"), None, "{counts:?}");
    gw.gw.shutdown().await;
}

async fn reloaded_routes_apply_to_the_next_message_and_a_bad_table_is_refused() {
    let gw = gateway(
        vec![sim("old", json!({})), sim("new", json!({}))],
        vec![route("", &["old"])],
    )
    .await;
    let first = gw.send(json!({"to": "+4915112345678", "text": "x"})).await;
    assert_eq!(connector_of(&gw, &first).await, "old");

    let err = gw.gw.reload_routes(&[route("", &["missing"])]).unwrap_err();
    assert!(format!("{err:#}").contains("missing"), "{err:#}");
    gw.gw.reload_routes(&[route("", &["new"])]).unwrap();
    let second = gw.send(json!({"to": "+4915112345678", "text": "x"})).await;
    assert_eq!(connector_of(&gw, &second).await, "new");
    gw.gw.shutdown().await;
}

async fn a_full_queue_answers_429_with_retry_after_and_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.limits.max_queued = 5;
    let gw = TestGateway::start_with(c, dir).await;
    // Scheduled an hour ahead, so they wait in the queue.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
    let body = json!({"to": "+4915112345678", "text": "x", "send_at": later.to_string()});
    let mut accepted = Vec::new();
    let mut refused = None;
    for _ in 0..10 {
        let res = gw
            .http
            .post(format!("{}/v1/messages", gw.base))
            .bearer_auth(&gw.key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            refused = Some(res);
            break;
        }
        assert_eq!(res.status(), 202);
        let v: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        accepted.push(v["id"].as_str().unwrap().to_owned());
    }
    let res = refused.expect("the sixth message is refused");
    // The bound may refuse up to the requests in flight early (see `backpressure`), never late.
    assert!((4..=5).contains(&accepted.len()), "{}", accepted.len());
    assert_eq!(res.headers()["retry-after"], "2");
    let v: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "queue_full");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_queued")
    );
    for id in &accepted {
        let (status, m) = gw.call("GET", &format!("/v1/messages/{id}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(m["status"], "queued");
    }
    gw.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    multi_thread:
    a_connector_failing_temporarily_hands_messages_to_the_next_in_the_route,
    longest_prefix_picks_the_connector_and_the_api_explains_why,
    a_balanced_route_spreads_messages_by_weight,
    reloaded_routes_apply_to_the_next_message_and_a_bad_table_is_refused,
    a_full_queue_answers_429_with_retry_after_and_loses_nothing_accepted,
);
