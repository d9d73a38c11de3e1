//! Event ingest: what connectors hear (delivery receipts, inbound SMS) is committed first and
//! acknowledged second, so a connector that tells the network "got it" never loses anything.

use std::time::Duration;

use smsgate_connectors::simnet::SimConfig;
use smsgate_core::connector::{ConnectorEvent, DynConnector, Receipt, ReceiptState};
use smsgate_core::message::Status;
use smsgate_core::store::InboundQuery;
use smsgate_testkit::connector::Scripted;

use crate::harness::{Loops, Sink, sim};

async fn a_receipt_is_acknowledged_only_once_its_status_is_committed() {
    let sink = Sink::new();
    let quiet = Scripted::silent("quiet", &[]);
    let loops = Loops::start(sink, vec![quiet.clone() as DynConnector]).await;
    let id = loops
        .send("+4915112345678", "two parts ".repeat(20).as_str())
        .await;
    let (m, _) = loops.wait_status(id, Status::Sent).await;
    let parts = quiet.remote_ids();
    assert_eq!(parts.len(), m.segments as usize);
    assert!(parts.len() >= 2, "a long message: {parts:?}");

    let receipt = |remote_id: &str| {
        ConnectorEvent::Receipt(Receipt {
            connector: "quiet".into(),
            remote_id: remote_id.into(),
            state: ReceiptState::Delivered,
            error_code: None,
        })
    };
    assert!(loops.events.report_durably(receipt(&parts[0])).await);
    // Acknowledged means committed: no waiting, the store shows it now.
    assert_eq!(
        loops.message(id).await.0.status,
        Status::Sent,
        "one part is not all"
    );
    for part in &parts[1..] {
        assert!(loops.events.report_durably(receipt(part)).await);
    }
    let (m, events) = loops.message(id).await;
    assert_eq!(m.status, Status::Delivered, "{events:?}");
}

async fn an_undelivered_receipt_ends_the_message_undelivered_with_the_networks_code() {
    let config = SimConfig {
        failure_rate: 1.0,
        ..SimConfig::default()
    };
    let sink = Sink::new();
    let network = sim(&sink.events, config);
    let loops = Loops::start(sink, vec![network as DynConnector]).await;
    let id = loops.send("+4915112345678", "lost").await;
    let (m, events) = loops.wait_status(id, Status::Undelivered).await;
    assert_eq!(m.connector.as_deref(), Some("sim"));
    assert!(
        events.iter().any(|e| e.status == Status::Undelivered),
        "{events:?}"
    );
}

async fn an_inbound_sms_is_stored_before_the_network_is_answered_and_wakes_its_readers() {
    let sink = Sink::new();
    let network = sim(&sink.events, SimConfig::default());
    let loops = Loops::start(sink, vec![network.clone() as DynConnector]).await;
    assert!(
        network
            .inject_inbound("+4915100000001", "+4930123456", "PUMP3 OK")
            .await,
        "acknowledged"
    );
    // Acknowledged means committed: the row is there without waiting.
    let inbound = loops
        .store
        .list_inbound(&InboundQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0].from, "+4915100000001");
    assert_eq!(inbound[0].text, "PUMP3 OK");
    assert_eq!(inbound[0].connector, "sim");
    // The IoT engine reads inbound SMS when this fires.
    tokio::time::timeout(Duration::from_secs(1), loops.signals.inbound.notified())
        .await
        .expect("ingest signals the inbound readers");
}

smsgate_testkit::both_backends!(
    a_receipt_is_acknowledged_only_once_its_status_is_committed,
    an_undelivered_receipt_ends_the_message_undelivered_with_the_networks_code,
    an_inbound_sms_is_stored_before_the_network_is_answered_and_wakes_its_readers,
);
