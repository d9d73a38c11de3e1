//! The dispatcher: claim → route → submit → record, with the simulated network and scripted
//! connectors behind it and the store deciding every status.

use std::time::Duration;

use smsgate_connectors::simnet::SimConfig;
use smsgate_core::connector::{DynConnector, SubmitErrorKind};
use smsgate_core::dispatcher::DispatcherConfig;
use smsgate_core::message::Status;
use smsgate_testkit::connector::Scripted;

use crate::harness::{Loops, Setup, Sink, eventually, kinds, sim};

async fn a_queued_message_is_sent_and_delivered_by_the_simulated_networks_receipt() {
    let sink = Sink::new();
    let network = sim(&sink.events, SimConfig::default());
    let loops = Loops::start(sink, vec![network as DynConnector]).await;
    let id = loops.send("+4915112345678", "Pump 3 pressure low").await;
    let (m, events) = loops.wait_status(id, Status::Delivered).await;
    assert_eq!(m.connector.as_deref(), Some("sim"));
    assert_eq!(m.attempts, 1);
    assert_eq!(
        kinds(&events),
        ["queued", "sending", "sent", "delivered"],
        "{events:?}"
    );
}

async fn a_temporary_failure_is_retried_and_the_retry_is_delivered() {
    let sink = Sink::new();
    let flaky = Scripted::new("flaky", &[SubmitErrorKind::Temporary], &sink.events);
    let loops = Loops::start(sink, vec![flaky.clone() as DynConnector]).await;
    let id = loops.send("+4915112345678", "retry me").await;
    let (m, events) = loops.wait_status(id, Status::Delivered).await;
    assert_eq!(flaky.submits(), 2, "one refusal, one accepted retry");
    assert_eq!(m.attempts, 2);
    let kinds = kinds(&events);
    assert_eq!(kinds[..3], ["queued", "sending", "retry"], "{kinds:?}");
    assert_eq!(kinds[kinds.len() - 2..], ["sent", "delivered"], "{kinds:?}");
    let retry = events.iter().find(|e| e.kind == "retry").unwrap();
    assert!(
        retry.detail.as_deref().unwrap_or("").contains("scripted"),
        "the timeline says why: {retry:?}"
    );
}

async fn an_unavailable_connector_hands_the_message_to_the_next_one_in_the_same_attempt() {
    let sink = Sink::new();
    let down = Scripted::new("down", &[SubmitErrorKind::Unavailable], &sink.events);
    let network = sim(&sink.events, SimConfig::default());
    let loops = Loops::start(sink, vec![down.clone() as DynConnector, network]).await;
    let id = loops.send("+4915112345678", "fail over").await;
    let (m, _) = loops.wait_status(id, Status::Delivered).await;
    assert_eq!(down.submits(), 1);
    assert_eq!(m.connector.as_deref(), Some("sim"));
    assert_eq!(m.attempts, 1, "failover happens within one attempt");
}

async fn a_permanent_refusal_fails_the_message_at_once() {
    let config = SimConfig {
        reject_rate: 1.0,
        ..SimConfig::default()
    };
    let sink = Sink::new();
    let network = sim(&sink.events, config);
    let loops = Loops::start(sink, vec![network as DynConnector]).await;
    let id = loops.send("+4915112345678", "no").await;
    let (m, events) = loops.wait_status(id, Status::Failed).await;
    assert_eq!(m.error_code.as_deref(), Some("rejected"));
    assert_eq!(m.attempts, 1);
    assert!(!kinds(&events).contains(&"retry"), "{events:?}");
}

async fn temporary_failures_give_up_after_max_attempts() {
    let setup = Setup {
        dispatcher: DispatcherConfig {
            max_attempts: 3,
            ..Setup::default().dispatcher
        },
        ..Setup::default()
    };
    let sink = Sink::new();
    let script = [const { SubmitErrorKind::Temporary }; 10];
    let flaky = Scripted::new("flaky", &script, &sink.events);
    let loops = Loops::start_with(setup, sink, vec![flaky as DynConnector]).await;
    let id = loops.send("+4915112345678", "never").await;
    let (m, events) = loops.wait_status(id, Status::Failed).await;
    assert_eq!(m.attempts, 3);
    assert!(
        m.error_message
            .as_deref()
            .unwrap_or("")
            .contains("gave up after 3 attempts"),
        "{m:?}"
    );
    assert_eq!(kinds(&events).iter().filter(|k| **k == "retry").count(), 2);
}

async fn stopping_waits_until_the_submits_in_flight_are_recorded() {
    let config = SimConfig {
        submit_latency: Duration::from_millis(300),
        ..SimConfig::default()
    };
    let sink = Sink::new();
    let network = sim(&sink.events, config);
    let mut loops = Loops::start(sink, vec![network as DynConnector]).await;
    let id = loops.send("+4915112345678", "in flight").await;
    loops.wait_status(id, Status::Sending).await;
    loops.stop_dispatcher().await;
    let (m, _) = loops.message(id).await;
    assert_eq!(
        m.status,
        Status::Sent,
        "the submit that was in flight is recorded before the dispatcher returns"
    );
    // Ingest still runs: the receipt completes it.
    eventually("delivered after the stop", || async {
        (loops.message(id).await.0.status == Status::Delivered).then_some(())
    })
    .await;
}

smsgate_testkit::both_backends!(
    a_queued_message_is_sent_and_delivered_by_the_simulated_networks_receipt,
    a_temporary_failure_is_retried_and_the_retry_is_delivered,
    an_unavailable_connector_hands_the_message_to_the_next_one_in_the_same_attempt,
    a_permanent_refusal_fails_the_message_at_once,
    temporary_failures_give_up_after_max_attempts,
    stopping_waits_until_the_submits_in_flight_are_recorded,
);
