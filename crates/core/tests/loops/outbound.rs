//! The outbound URL policy in the running webhook pipeline: a tenant's subscriptions and
//! callbacks do not reach loopback unless it is allowed, an admin's do, and nobody's reach
//! link-local metadata addresses.

use std::time::Duration;

use smsgate_connectors::simnet::SimConfig;
use smsgate_core::connector::DynConnector;
use smsgate_core::intake::SendRequest;
use smsgate_testkit::Receiver;

use crate::harness::{Loops, Setup, Sink, eventually, sim};

async fn loops_without_allowed_networks() -> Loops {
    let sink = Sink::new();
    let network = sim(&sink.events, SimConfig::default());
    let mut setup = Setup::default();
    setup.webhooks.allow_networks.clear();
    Loops::start_with(setup, sink, vec![network as DynConnector]).await
}

async fn a_tenants_webhook_and_callback_do_not_reach_loopback_but_an_admins_does() {
    let loops = loops_without_allowed_networks().await;
    let admin_rx = Receiver::start().await;
    let tenant_rx = Receiver::start().await;
    let callback_rx = Receiver::start().await;
    loops
        .subscribe_to_statuses(&admin_rx.url, &["message.status"], &[], "s3cret")
        .await;
    loops
        .subscribe_for_tenant(&tenant_rx.url, "acme", "s3cret")
        .await;
    let key = smsgate_testkit::store::tenant_key(&*loops.store, "acme", &["messages:send"]).await;
    let id = loops
        .send_request(SendRequest {
            to: "+4915112345678".into(),
            text: "hello".into(),
            callback_url: Some(callback_rx.url.clone()),
            api_key_id: Some(key.id),
            tenant: Some("acme".into()),
            ..SendRequest::default()
        })
        .await;
    admin_rx
        .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
        .await;
    // The tenant's deliveries of the same events were attempted by now and refused.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        tenant_rx.hits.lock().unwrap().is_empty(),
        "tenant webhook reached loopback"
    );
    assert!(
        callback_rx.hits.lock().unwrap().is_empty(),
        "tenant callback reached loopback"
    );
}

async fn nobody_reaches_the_metadata_address() {
    let loops = loops_without_allowed_networks().await;
    let admin_rx = Receiver::start().await;
    loops
        .subscribe_to_statuses(&admin_rx.url, &["message.status"], &[], "s3cret")
        .await;
    // An admin's subscription to the cloud metadata service: refused before any connection
    // (a connection to 169.254.169.254 would hang here, with no such host).
    loops
        .subscribe_to_statuses(
            "http://169.254.169.254/latest/meta-data/",
            &["message.status"],
            &[],
            "s3cret",
        )
        .await;
    let started = std::time::Instant::now();
    let id = loops.send("+4915112345678", "hello").await;
    admin_rx
        .wait_for(|v| v["data"]["id"] == id.to_string() && v["data"]["status"] == "delivered")
        .await;
    // The refused deliveries are stored as failed (for retry, refused again each time).
    let store = loops.store.clone();
    eventually("the refused delivery is stored", || {
        let store = store.clone();
        async move {
            let due = store
                .claim_deliveries(i64::MAX / 2, 100, 1000)
                .await
                .unwrap();
            due.iter()
                .any(|d| d.url.contains("169.254.169.254"))
                .then_some(())
        }
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no connection was tried"
    );
}

smsgate_testkit::both_backends!(
    a_tenants_webhook_and_callback_do_not_reach_loopback_but_an_admins_does,
    nobody_reaches_the_metadata_address,
);
