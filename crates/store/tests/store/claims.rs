//! How `claim_due` shares the queue, against a real SQLite file: priority first, then equal
//! shares per API key with a round robin across claims, leftovers of small keys to the
//! others, messages scheduled for later never in the way, and the lifecycle marks of a claim.

use std::collections::HashMap;

use smsgate_core::message::{Message, MessageId, NewMessage, Priority, Status};
use smsgate_core::store::Store;
use smsgate_testkit::store::{self as fixture, store};

/// `n` messages of `key` at `priority`, due at `send_at` (created in that order).
async fn queue(
    s: &dyn Store,
    key: Option<&str>,
    priority: Priority,
    n: u32,
    send_at: i64,
) -> Vec<MessageId> {
    let msgs: Vec<NewMessage> = (0..n)
        .map(|i| NewMessage {
            api_key_id: key.map(str::to_owned),
            text: "x".into(),
            priority,
            created_at: send_at,
            send_at: send_at + i64::from(i),
            ..fixture::message(&format!("+4915112{i:06}"), 1)
        })
        .collect();
    let ids = msgs.iter().map(|m| m.id).collect();
    s.insert_messages(msgs).await.unwrap();
    ids
}

fn per_key(claimed: &[Message]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in claimed {
        *out.entry(m.api_key_id.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
    }
    out
}

async fn a_high_priority_message_queued_after_a_bulk_is_claimed_first() {
    let (s, _dir) = store().await;
    queue(&*s, Some("key_a"), Priority::Low, 300, 1_000).await;
    queue(&*s, Some("key_a"), Priority::Normal, 300, 1_500).await;
    let alert = queue(&*s, Some("key_a"), Priority::High, 1, 5_000).await[0];
    let first = s.claim_due(10_000, 4).await.unwrap();
    assert_eq!(first[0].id, alert, "the alert comes first");
    assert_eq!(first[0].priority, Priority::High);
    assert!(first[1..].iter().all(|m| m.priority == Priority::Normal));
    let rest = s.claim_due(10_000, 400).await.unwrap();
    assert_eq!(rest.len(), 400);
    assert_eq!(
        rest.iter()
            .filter(|m| m.priority == Priority::Normal)
            .count(),
        297,
        "normal before low"
    );
    assert!(rest[297..].iter().all(|m| m.priority == Priority::Low));
}

async fn two_keys_share_a_claim_equally_and_a_small_batch_is_not_starved() {
    let (s, _dir) = store().await;
    queue(&*s, Some("key_a"), Priority::Normal, 1_000, 1_000).await;
    let small = queue(&*s, Some("key_b"), Priority::Normal, 5, 9_000).await;
    let first = s.claim_due(10_000, 8).await.unwrap();
    assert_eq!(
        per_key(&first),
        HashMap::from([("key_a".into(), 4), ("key_b".into(), 4)])
    );
    let second = s.claim_due(10_000, 8).await.unwrap();
    assert_eq!(
        per_key(&second),
        HashMap::from([("key_a".into(), 7), ("key_b".into(), 1)])
    );
    let claimed: Vec<MessageId> = first.iter().chain(&second).map(|m| m.id).collect();
    assert!(
        small.iter().all(|id| claimed.contains(id)),
        "key_b done in two claims"
    );
    // Within a key, oldest due first.
    let a: Vec<i64> = second
        .iter()
        .filter(|m| m.api_key_id.as_deref() == Some("key_a"))
        .map(|m| m.send_at)
        .collect();
    assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
}

async fn one_message_at_a_time_rotates_across_keys_and_keyless_messages() {
    let (s, _dir) = store().await;
    queue(&*s, Some("key_a"), Priority::Normal, 50, 1_000).await;
    queue(&*s, Some("key_b"), Priority::Normal, 50, 1_000).await;
    queue(&*s, None, Priority::Normal, 50, 1_000).await;
    let mut order = Vec::new();
    for _ in 0..9 {
        let c = s.claim_due(10_000, 1).await.unwrap();
        assert_eq!(c.len(), 1);
        order.push(c[0].api_key_id.clone().unwrap_or_else(|| "-".into()));
    }
    assert_eq!(
        order,
        [
            "-", "key_a", "key_b", "-", "key_a", "key_b", "-", "key_a", "key_b"
        ]
    );
}

async fn what_a_small_key_leaves_over_fills_the_claim_from_the_others() {
    let (s, _dir) = store().await;
    queue(&*s, Some("key_a"), Priority::Normal, 100, 1_000).await;
    queue(&*s, Some("key_b"), Priority::Normal, 2, 1_000).await;
    queue(&*s, Some("key_c"), Priority::Normal, 100, 1_000).await;
    let c = s.claim_due(10_000, 30).await.unwrap();
    assert_eq!(c.len(), 30, "a claim is filled while work is due");
    assert_eq!(
        per_key(&c),
        HashMap::from([
            ("key_a".into(), 14),
            ("key_b".into(), 2),
            ("key_c".into(), 14)
        ])
    );
}

async fn messages_scheduled_for_later_neither_count_nor_block() {
    let (s, _dir) = store().await;
    queue(&*s, Some("key_a"), Priority::Normal, 500, 50_000).await;
    let due = queue(&*s, Some("key_b"), Priority::Normal, 3, 1_000).await;
    let c = s.claim_due(10_000, 10).await.unwrap();
    let mut got: Vec<MessageId> = c.iter().map(|m| m.id).collect();
    got.sort();
    assert_eq!(got, due);
    assert!(s.claim_due(10_000, 10).await.unwrap().is_empty());
    assert_eq!(s.claim_due(60_000, 1_000).await.unwrap().len(), 500);
}

async fn a_claim_marks_sending_once_and_a_claimed_message_is_not_claimed_again() {
    let (s, _dir) = store().await;
    let ids = queue(&*s, Some("key_a"), Priority::Normal, 3, 1_000).await;
    let c = s.claim_due(10_000, 10).await.unwrap();
    assert_eq!(c.len(), 3);
    assert!(
        c.iter()
            .all(|m| m.status == Status::Sending && m.attempts == 1)
    );
    assert!(s.claim_due(10_000, 10).await.unwrap().is_empty());
    let (_, events) = s.message(ids[0]).await.unwrap().unwrap();
    let kinds: Vec<String> = events.into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["queued", "sending"]);
}

smsgate_testkit::both_backends!(
    a_high_priority_message_queued_after_a_bulk_is_claimed_first,
    two_keys_share_a_claim_equally_and_a_small_batch_is_not_starved,
    one_message_at_a_time_rotates_across_keys_and_keyless_messages,
    what_a_small_key_leaves_over_fills_the_claim_from_the_others,
    messages_scheduled_for_later_neither_count_nor_block,
    a_claim_marks_sending_once_and_a_claimed_message_is_not_claimed_again,
);
