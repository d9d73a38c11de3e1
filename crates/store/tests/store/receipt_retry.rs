//! An `undelivered` receipt under a route's `retry_undelivered`, against a real SQLite file:
//! the message stays `sent`, becomes due again with the reporting connector remembered, its
//! second submit is noted as `resent`, late receipts of the first connector change nothing,
//! and only the second connector's receipt decides. Codes the route does not list, and
//! submits without a policy, end `undelivered` as before.

use smsgate_core::connector::{Receipt, ReceiptState};
use smsgate_core::message::{MessageId, Status};
use smsgate_core::routing::ReceiptRetry;
use smsgate_core::store::{Attempt, Store};
use smsgate_testkit::store::{self as fixture, store};

/// One queued message of `segments` parts, claimed at t = 2000.
async fn claimed(s: &dyn Store, segments: u32) -> MessageId {
    let m = fixture::message("+4915112345678", segments);
    let id = m.id;
    s.insert_messages(vec![m]).await.unwrap();
    assert_eq!(s.claim_due(2_000, 10).await.unwrap().len(), 1);
    id
}

fn sent(id: MessageId, connector: &str, segments: u32, retry: Option<&[&str]>) -> Attempt {
    Attempt::Sent {
        id,
        connector: connector.into(),
        remote_ids: (0..segments).map(|p| format!("{connector}-{p}")).collect(),
        receipt_retry: retry.map(|codes| ReceiptRetry {
            codes: codes.iter().map(|c| c.to_string()).collect(),
        }),
    }
}

fn receipt(connector: &str, part: u32, state: ReceiptState, code: &str) -> Receipt {
    Receipt {
        connector: connector.into(),
        remote_id: format!("{connector}-{part}"),
        state,
        error_code: Some(code.into()),
    }
}

async fn timeline(s: &dyn Store, id: MessageId) -> (Status, Vec<(String, Status)>) {
    let (m, events) = s.message(id).await.unwrap().unwrap();
    (
        m.status,
        events.into_iter().map(|e| (e.kind, e.status)).collect(),
    )
}

fn never_backwards(events: &[(String, Status)]) {
    for w in events.windows(2) {
        assert!(
            w[0].1 == w[1].1 || w[0].1.can_become(w[1].1),
            "the timeline goes from {:?} back to {:?}: {events:?}",
            w[0],
            w[1]
        );
    }
}

async fn an_undelivered_receipt_sends_the_message_again_through_the_next_connector() {
    let (s, _dir) = store().await;
    let id = claimed(&*s, 2).await;
    s.record_attempts(vec![sent(id, "a", 2, Some(&[]))], 2_100)
        .await
        .unwrap();
    s.apply_receipts(
        vec![receipt("a", 0, ReceiptState::Undelivered, "001")],
        3_000,
    )
    .await
    .unwrap();
    let (status, events) = timeline(&*s, id).await;
    assert_eq!(status, Status::Sent, "not final: it goes out again");
    assert_eq!(events.last().unwrap().0, "receipt_retry");

    // Due again, still `sent`, with connector a to skip.
    let again = s.claim_due(3_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].status, Status::Sent);
    assert_eq!(again[0].undelivered_via, ["a"]);
    // Part 2's receipt from a arrives late: it decides nothing.
    s.apply_receipts(vec![receipt("a", 1, ReceiptState::Delivered, "000")], 3_050)
        .await
        .unwrap();
    s.record_attempts(vec![sent(id, "b", 2, None)], 3_100)
        .await
        .unwrap();
    s.apply_receipts(
        vec![
            receipt("b", 0, ReceiptState::Delivered, "000"),
            receipt("b", 1, ReceiptState::Delivered, "000"),
        ],
        4_000,
    )
    .await
    .unwrap();
    let (status, events) = timeline(&*s, id).await;
    assert_eq!(status, Status::Delivered);
    let kinds: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "queued",
            "sending",
            "sent",
            "receipt_retry",
            "resent",
            "delivered"
        ]
    );
    never_backwards(&events);
    let (m, _) = s.message(id).await.unwrap().unwrap();
    assert_eq!(m.connector.as_deref(), Some("b"));
    assert_eq!(m.attempts, 2);
}

async fn a_code_the_route_does_not_list_ends_undelivered() {
    let (s, _dir) = store().await;
    let id = claimed(&*s, 1).await;
    s.record_attempts(vec![sent(id, "a", 1, Some(&["1", "0x0B"]))], 2_100)
        .await
        .unwrap();
    s.apply_receipts(
        vec![receipt("a", 0, ReceiptState::Undelivered, "034")],
        3_000,
    )
    .await
    .unwrap();
    assert_eq!(timeline(&*s, id).await.0, Status::Undelivered);
    assert!(s.claim_due(3_000, 10).await.unwrap().is_empty());

    // A listed code ("001" is code 1) retries.
    let id = claimed(&*s, 1).await;
    s.record_attempts(vec![sent(id, "a", 1, Some(&["1", "0x0B"]))], 2_100)
        .await
        .unwrap();
    s.apply_receipts(
        vec![receipt("a", 0, ReceiptState::Undelivered, "001")],
        3_000,
    )
    .await
    .unwrap();
    assert_eq!(timeline(&*s, id).await.0, Status::Sent);
}

async fn without_a_policy_an_undelivered_receipt_is_final_and_a_second_one_changes_nothing() {
    let (s, _dir) = store().await;
    let id = claimed(&*s, 1).await;
    s.record_attempts(vec![sent(id, "a", 1, None)], 2_100)
        .await
        .unwrap();
    let r = receipt("a", 0, ReceiptState::Undelivered, "001");
    s.apply_receipts(vec![r.clone()], 3_000).await.unwrap();
    s.apply_receipts(vec![r], 3_100).await.unwrap();
    let (status, events) = timeline(&*s, id).await;
    assert_eq!(status, Status::Undelivered);
    assert_eq!(events.iter().filter(|e| e.0 == "undelivered").count(), 1);
    assert!(s.claim_due(3_200, 10).await.unwrap().is_empty());
}

async fn a_resend_that_fails_for_good_ends_undelivered_not_failed() {
    let (s, _dir) = store().await;
    let id = claimed(&*s, 1).await;
    s.record_attempts(vec![sent(id, "a", 1, Some(&[]))], 2_100)
        .await
        .unwrap();
    s.apply_receipts(
        vec![receipt("a", 0, ReceiptState::Undelivered, "001")],
        3_000,
    )
    .await
    .unwrap();
    assert_eq!(s.claim_due(3_000, 10).await.unwrap().len(), 1);
    // The dispatcher turns a permanent refusal of a `sent` message into `undelivered`.
    s.record_attempts(
        vec![Attempt::Failed {
            id,
            connector: Some("b".into()),
            status: Status::Undelivered,
            code: "smpp_0x0000000b".into(),
            message: "invalid destination".into(),
        }],
        3_100,
    )
    .await
    .unwrap();
    let (status, events) = timeline(&*s, id).await;
    assert_eq!(status, Status::Undelivered);
    never_backwards(&events);
    assert!(s.claim_due(4_000, 10).await.unwrap().is_empty());
}

smsgate_testkit::both_backends!(
    an_undelivered_receipt_sends_the_message_again_through_the_next_connector,
    a_code_the_route_does_not_list_ends_undelivered,
    without_a_policy_an_undelivered_receipt_is_final_and_a_second_one_changes_nothing,
    a_resend_that_fails_for_good_ends_undelivered_not_failed,
);
