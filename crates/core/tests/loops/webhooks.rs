//! The webhook loops: fan-out turns outbox events into deliveries per matching subscription
//! and per-message `callback_url`; delivery POSTs them signed and retries failures with
//! backoff until the receiver takes them.

use std::time::Duration;

use serde_json::Value;
use smsgate_connectors::simnet::SimConfig;
use smsgate_core::clock::Clock;
use smsgate_core::connector::DynConnector;
use smsgate_core::intake::SendRequest;
use smsgate_core::message::Status;
use smsgate_core::webhook;
use smsgate_testkit::{Hit, Receiver};

use crate::harness::{Loops, Sink, eventually, sim};

async fn loops_on_the_simulated_network() -> (
    Loops,
    std::sync::Arc<smsgate_connectors::simnet::SimNetwork>,
) {
    let sink = Sink::new();
    let network = sim(&sink.events, SimConfig::default());
    let loops = Loops::start(sink, vec![network.clone() as DynConnector]).await;
    (loops, network)
}

fn body(hit: &Hit) -> Value {
    serde_json::from_str(&hit.body).unwrap()
}

fn signed_with(secret: &str, hit: &Hit) -> bool {
    let now = Clock::system().now_ms() / 1000;
    webhook::verify(secret, &hit.signature, &hit.body, now, 300)
}

async fn status_changes_are_posted_signed_with_the_subscriptions_secret() {
    let (loops, _network) = loops_on_the_simulated_network().await;
    let receiver = Receiver::start().await;
    loops
        .subscribe(&receiver.url, &["message.status"], "s3cret")
        .await;
    let id = loops.send("+4915112345678", "hello").await;
    let hit = receiver
        .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
        .await;
    let v = body(&hit);
    assert_eq!(v["event"], "message.status");
    assert!(v["id"].as_str().unwrap().starts_with("evt_"), "{v}");
    assert_eq!(v["data"]["connector"], "sim");
    assert!(signed_with("s3cret", &hit), "{hit:?}");
    assert!(!signed_with("other", &hit));
    for status in ["sending", "sent"] {
        receiver
            .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == status)
            .await;
    }
}

async fn a_subscription_gets_only_the_events_it_names() {
    let (loops, network) = loops_on_the_simulated_network().await;
    let receiver = Receiver::start().await;
    loops
        .subscribe(&receiver.url, &["message.inbound"], "s3cret")
        .await;
    let id = loops.send("+4915112345678", "not for this hook").await;
    loops.wait_status(id, Status::Delivered).await;
    assert!(
        network
            .inject_inbound("+4915100000001", "+4930123456", "hi")
            .await
    );
    let hit = receiver.wait_for(|v| v["event"] == "message.inbound").await;
    assert_eq!(body(&hit)["data"]["text"], "hi", "{hit:?}");
    // Fan-out reads the outbox in order, so once the inbound event is here every status event
    // before it has been passed over: none of them may have reached this hook.
    let events: Vec<Value> = receiver.hits.lock().unwrap().iter().map(body).collect();
    assert!(
        events.iter().all(|v| v["event"] == "message.inbound"),
        "{events:?}"
    );
}

async fn a_delivery_answered_500_is_retried_until_the_receiver_takes_it() {
    let (loops, network) = loops_on_the_simulated_network().await;
    let receiver = Receiver::start().await;
    *receiver.status.lock().unwrap() = 500;
    loops
        .subscribe(&receiver.url, &["message.inbound"], "s3cret")
        .await;
    assert!(
        network
            .inject_inbound("+4915100000001", "+4930123456", "retry me")
            .await
    );
    eventually("two failed attempts", || async {
        (receiver.hits.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    assert!(loops.store.stats().await.unwrap().webhooks_pending > 0);
    *receiver.status.lock().unwrap() = 200;
    eventually("the delivery is done", || async {
        (loops.store.stats().await.unwrap().webhooks_pending == 0).then_some(())
    })
    .await;
    let hits = receiver.hits.lock().unwrap().clone();
    assert!(hits.len() >= 3, "two failures and a success: {hits:?}");
    assert!(
        hits.iter().all(|h| body(h)["id"] == body(&hits[0])["id"]),
        "every attempt carries the same event: {hits:?}"
    );
    // Each attempt is signed again at its own time.
    assert!(hits.iter().all(|h| signed_with("s3cret", h)));
}

async fn a_callback_url_gets_its_messages_events_signed_with_the_keys_hash() {
    let (loops, _network) = loops_on_the_simulated_network().await;
    let receiver = Receiver::start().await;
    let key = smsgate_testkit::store::api_key(&*loops.store, "app", false).await;
    let id = loops
        .send_request(SendRequest {
            to: "+4915112345678".into(),
            text: "call me back".into(),
            callback_url: Some(receiver.url.clone()),
            api_key_id: Some(key.id),
            ..SendRequest::default()
        })
        .await;
    let hit = receiver
        .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
        .await;
    assert!(signed_with(&key.hash, &hit), "{hit:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        receiver
            .hits
            .lock()
            .unwrap()
            .iter()
            .all(|h| body(h)["data"]["id"] == id.to_string()),
        "only this message's events"
    );
}

fn statuses_of(receiver: &Receiver, id: &str) -> Vec<String> {
    let hits = receiver.hits.lock().unwrap().clone();
    hits.iter()
        .map(body)
        .filter(|v| v["data"]["id"] == id)
        .map(|v| v["data"]["status"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn a_status_filter_lets_only_the_named_statuses_through() {
    let (loops, network) = loops_on_the_simulated_network().await;
    let finals = Receiver::start().await;
    loops
        .subscribe_to_statuses(
            &finals.url,
            &["message.status", "message.inbound"],
            &[Status::Delivered, Status::Failed],
            "s3cret",
        )
        .await;
    let id = loops.send("+4915112345678", "only the outcome").await;
    finals
        .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
        .await;
    // The outbox is read in order and filtered as it is read: once an event after every
    // status event of the message has arrived, none of the filtered ones can still come.
    assert!(
        network
            .inject_inbound("+4915100000001", "+4930123456", "marker")
            .await
    );
    finals.wait_for(|v| v["event"] == "message.inbound").await;
    assert_eq!(statuses_of(&finals, &id.to_string()), ["delivered"]);
}

async fn callback_statuses_limit_what_a_messages_callback_url_gets() {
    let (loops, _network) = loops_on_the_simulated_network().await;
    let receiver = Receiver::start().await;
    let key = smsgate_testkit::store::api_key(&*loops.store, "app", false).await;
    let send = |statuses: Vec<String>| SendRequest {
        to: "+4915112345678".into(),
        text: "call me back".into(),
        callback_url: Some(receiver.url.clone()),
        callback_statuses: statuses,
        api_key_id: Some(key.id.clone()),
        ..SendRequest::default()
    };
    let filtered = loops.send_request(send(vec!["delivered".into()])).await;
    loops.wait_status(filtered, Status::Delivered).await;
    // A second message, unfiltered, after the first is delivered: its events come later in
    // the outbox, so once its `delivered` arrived the first one's events were all read.
    let marker = loops.send_request(send(Vec::new())).await;
    receiver
        .wait_for(|v| v["data"]["id"] == marker.to_string() && v["data"]["status"] == "delivered")
        .await;
    assert_eq!(statuses_of(&receiver, &filtered.to_string()), ["delivered"]);
    let all = statuses_of(&receiver, &marker.to_string());
    for status in ["queued", "sending", "sent", "delivered"] {
        assert!(all.iter().any(|s| s == status), "{status} in {all:?}");
    }
}

async fn a_hanging_endpoint_does_not_hold_back_another_and_gets_its_deliveries_later() {
    let (loops, _network) = loops_on_the_simulated_network().await;
    let hanging = Receiver::start().await;
    let healthy = Receiver::start().await;
    // Longer than the harness's 2 s webhook timeout: every POST to it times out.
    *hanging.delay.lock().unwrap() = Duration::from_secs(30);
    for r in [&hanging, &healthy] {
        loops
            .subscribe_to_statuses(&r.url, &["message.status"], &[Status::Delivered], "s3cret")
            .await;
    }
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(loops.send("+4915112345678", &format!("m{i}")).await);
    }
    // The hanging endpoint holds at most its own four slots (the harness allows eight in
    // all), so the healthy one gets every outcome well before the first timeout.
    let started = std::time::Instant::now();
    for id in &ids {
        healthy
            .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
            .await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "healthy deliveries waited {:?} behind the hanging endpoint",
        started.elapsed()
    );
    // After five timeouts in a row the hanging endpoint is paused and what waits for it is
    // stored for a retry instead of held in memory.
    eventually("the hanging endpoint's deliveries are stored", || async {
        (loops.store.stats().await.unwrap().webhooks_pending > 0).then_some(())
    })
    .await;
    // Once it answers again, the stored deliveries reach it: every message's outcome.
    *hanging.delay.lock().unwrap() = Duration::ZERO;
    for id in &ids {
        hanging
            .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
            .await;
    }
    eventually("no stored delivery is left", || async {
        (loops.store.stats().await.unwrap().webhooks_pending == 0).then_some(())
    })
    .await;
}

async fn a_revoked_keys_callbacks_are_not_made() {
    let (loops, _network) = loops_on_the_simulated_network().await;
    let admin_rx = Receiver::start().await;
    let callback_rx = Receiver::start().await;
    loops
        .subscribe(&admin_rx.url, &["message.status"], "s3cret")
        .await;
    let key = smsgate_testkit::store::api_key(&*loops.store, "app", false).await;
    assert!(loops.store.revoke_api_key(&key.id, 1).await.unwrap());
    // A message the key queued before its revocation (here: queued with its id directly).
    let id = loops
        .send_request(SendRequest {
            to: "+4915112345678".into(),
            text: "call me back".into(),
            callback_url: Some(callback_rx.url.clone()),
            api_key_id: Some(key.id),
            ..SendRequest::default()
        })
        .await;
    admin_rx
        .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        callback_rx.hits.lock().unwrap().is_empty(),
        "no callback for a revoked key"
    );
}

smsgate_testkit::both_backends!(
    status_changes_are_posted_signed_with_the_subscriptions_secret,
    a_subscription_gets_only_the_events_it_names,
    a_delivery_answered_500_is_retried_until_the_receiver_takes_it,
    a_callback_url_gets_its_messages_events_signed_with_the_keys_hash,
    a_status_filter_lets_only_the_named_statuses_through,
    callback_statuses_limit_what_a_messages_callback_url_gets,
    a_hanging_endpoint_does_not_hold_back_another_and_gets_its_deliveries_later,
    a_revoked_keys_callbacks_are_not_made,
);
