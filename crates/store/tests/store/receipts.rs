//! The store's lifecycle rules for submits and delivery receipts, against a real SQLite file:
//! one status per message from its parts, receipts that overtake the submit's result,
//! duplicates, and statuses that never move backwards — in batches the size the dispatcher and
//! ingest send.

use smsgate_core::connector::{Receipt, ReceiptState};
use smsgate_core::message::{MessageId, NewMessage, Status};
use smsgate_core::store::{Attempt, Store};
use smsgate_testkit::store::{self as fixture, store};

fn new_message(n: u32, segments: u32) -> NewMessage {
    fixture::message(&format!("+4915112{n:06}"), segments)
}

async fn queued_and_claimed(s: &dyn Store, n: u32, segments: u32) -> Vec<MessageId> {
    let msgs: Vec<NewMessage> = (0..n).map(|i| new_message(i, segments)).collect();
    let ids: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
    s.insert_messages(msgs).await.unwrap();
    let claimed = s.claim_due(2_000, n + 10).await.unwrap();
    assert_eq!(claimed.len(), n as usize);
    ids
}

fn remote(id: MessageId, part: u32) -> String {
    format!("r-{id}-{part}")
}

fn sent(id: MessageId, segments: u32) -> Attempt {
    Attempt::Sent {
        id,
        connector: "c1".into(),
        remote_ids: (0..segments).map(|p| remote(id, p)).collect(),
        receipt_retry: None,
    }
}

fn receipt(id: MessageId, part: u32, state: ReceiptState) -> Receipt {
    Receipt {
        connector: "c1".into(),
        remote_id: remote(id, part),
        state,
        error_code: (state == ReceiptState::Undelivered).then(|| "0x0B".into()),
    }
}

async fn status_and_kinds(s: &dyn Store, id: MessageId) -> (Status, Vec<String>) {
    let (m, events) = s.message(id).await.unwrap().unwrap();
    (m.status, events.into_iter().map(|e| e.kind).collect())
}

async fn a_batch_of_submits_and_receipts_ends_delivered_with_one_event_each() {
    let (s, _dir) = store().await;
    let ids = queued_and_claimed(&*s, 300, 1).await;
    s.record_attempts(ids.iter().map(|&id| sent(id, 1)).collect(), 3_000)
        .await
        .unwrap();
    for &id in &ids {
        assert_eq!(status_and_kinds(&*s, id).await.0, Status::Sent);
    }
    let receipts: Vec<Receipt> = ids
        .iter()
        .map(|&id| receipt(id, 0, ReceiptState::Delivered))
        .collect();
    let matched = s.apply_receipts(receipts.clone(), 4_000).await.unwrap();
    assert_eq!(matched, 300);
    // The same receipts again (a network repeating itself) change nothing.
    assert_eq!(s.apply_receipts(receipts, 5_000).await.unwrap(), 300);
    for &id in &ids {
        let (status, kinds) = status_and_kinds(&*s, id).await;
        assert_eq!(status, Status::Delivered);
        assert_eq!(kinds, ["queued", "sending", "sent", "delivered"], "{id}");
    }
    let (m, _) = s.message(ids[0]).await.unwrap().unwrap();
    assert_eq!(m.connector.as_deref(), Some("c1"));
}

async fn a_long_message_is_delivered_only_when_every_part_is() {
    let (s, _dir) = store().await;
    let ids = queued_and_claimed(&*s, 2, 3).await;
    s.record_attempts(ids.iter().map(|&id| sent(id, 3)).collect(), 3_000)
        .await
        .unwrap();
    let (a, b) = (ids[0], ids[1]);
    // Two of three parts of `a` and one of `b` arrive in one batch, with a duplicate.
    s.apply_receipts(
        vec![
            receipt(a, 0, ReceiptState::Delivered),
            receipt(a, 2, ReceiptState::Delivered),
            receipt(a, 2, ReceiptState::Delivered),
            receipt(b, 1, ReceiptState::Pending),
            receipt(b, 1, ReceiptState::Delivered),
        ],
        4_000,
    )
    .await
    .unwrap();
    assert_eq!(status_and_kinds(&*s, a).await.0, Status::Sent);
    assert_eq!(status_and_kinds(&*s, b).await.0, Status::Sent);
    // The last part of `a` completes it; a lost part of `b` decides `b`.
    s.apply_receipts(
        vec![
            receipt(a, 1, ReceiptState::Delivered),
            receipt(b, 0, ReceiptState::Undelivered),
        ],
        5_000,
    )
    .await
    .unwrap();
    let (status, kinds) = status_and_kinds(&*s, a).await;
    assert_eq!(status, Status::Delivered);
    assert_eq!(kinds.iter().filter(|k| *k == "delivered").count(), 1);
    assert!(kinds.contains(&"part_delivered".to_owned()), "{kinds:?}");
    let (m, _) = s.message(b).await.unwrap().unwrap();
    assert_eq!(m.status, Status::Undelivered);
    assert_eq!(m.error_code.as_deref(), Some("undelivered"));
    assert!(
        m.error_message.as_deref().unwrap_or("").contains("0x0B"),
        "{m:?}"
    );
    // A late "delivered" for the lost message's other parts never moves it back.
    s.apply_receipts(
        vec![
            receipt(b, 1, ReceiptState::Delivered),
            receipt(b, 2, ReceiptState::Delivered),
        ],
        6_000,
    )
    .await
    .unwrap();
    assert_eq!(status_and_kinds(&*s, b).await.0, Status::Undelivered);
}

async fn receipts_that_overtake_the_submit_result_are_applied_when_it_is_recorded() {
    let (s, _dir) = store().await;
    let ids = queued_and_claimed(&*s, 50, 1).await;
    // Fast SMSC: every receipt reaches the store before the submit result.
    let early: Vec<Receipt> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let state = if i % 10 == 0 {
                ReceiptState::Undelivered
            } else {
                ReceiptState::Delivered
            };
            receipt(id, 0, state)
        })
        .collect();
    assert_eq!(s.apply_receipts(early, 2_500).await.unwrap(), 0);
    for &id in &ids {
        assert_eq!(status_and_kinds(&*s, id).await.0, Status::Sending);
    }
    s.record_attempts(ids.iter().map(|&id| sent(id, 1)).collect(), 3_000)
        .await
        .unwrap();
    for (i, &id) in ids.iter().enumerate() {
        let (status, kinds) = status_and_kinds(&*s, id).await;
        let want = if i % 10 == 0 {
            Status::Undelivered
        } else {
            Status::Delivered
        };
        assert_eq!(status, want, "{id}");
        assert_eq!(kinds[..3], ["queued", "sending", "sent"], "{id}");
    }
}

async fn receipts_whose_submit_never_got_recorded_are_dropped_after_the_grace() {
    let (s, _dir) = store().await;
    let ids = queued_and_claimed(&*s, 2, 1).await;
    let grace = 3_600_000;
    // Both receipts overtake their submits; the first one by far too long (its submit was
    // cut off and resent under another remote id, say): the expiry pass drops it, the second
    // one, still young, stays.
    s.apply_receipts(vec![receipt(ids[0], 0, ReceiptState::Delivered)], 1_000)
        .await
        .unwrap();
    s.apply_receipts(
        vec![receipt(ids[1], 0, ReceiptState::Delivered)],
        1_000 + grace,
    )
    .await
    .unwrap();
    s.expire_due(2_000 + grace, grace).await.unwrap();
    s.record_attempts(ids.iter().map(|&id| sent(id, 1)).collect(), 3_000 + grace)
        .await
        .unwrap();
    assert_eq!(
        status_and_kinds(&*s, ids[0]).await.0,
        Status::Sent,
        "the stale receipt is gone"
    );
    assert_eq!(status_and_kinds(&*s, ids[1]).await.0, Status::Delivered);
}

async fn a_retried_message_keeps_only_its_last_attempts_parts() {
    let (s, _dir) = store().await;
    let ids = queued_and_claimed(&*s, 1, 2).await;
    let id = ids[0];
    s.record_attempts(
        vec![Attempt::Retry {
            id,
            connector: Some("c1".into()),
            retry_at: 2_500,
            kind: "retry",
            code: "throttled".into(),
            message: "slow down".into(),
        }],
        2_100,
    )
    .await
    .unwrap();
    assert_eq!(s.claim_due(3_000, 10).await.unwrap().len(), 1);
    s.record_attempts(vec![sent(id, 2)], 3_100).await.unwrap();
    s.apply_receipts(
        vec![
            receipt(id, 0, ReceiptState::Delivered),
            receipt(id, 1, ReceiptState::Delivered),
        ],
        4_000,
    )
    .await
    .unwrap();
    assert_eq!(status_and_kinds(&*s, id).await.0, Status::Delivered);
}

smsgate_testkit::both_backends!(
    a_batch_of_submits_and_receipts_ends_delivered_with_one_event_each,
    a_long_message_is_delivered_only_when_every_part_is,
    receipts_that_overtake_the_submit_result_are_applied_when_it_is_recorded,
    receipts_whose_submit_never_got_recorded_are_dropped_after_the_grace,
    a_retried_message_keeps_only_its_last_attempts_parts,
);
