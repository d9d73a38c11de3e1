//! Concurrent inserts merged into one commit: each caller gets its own answer, in its own
//! order, and idempotency keys hold across the callers merged together.

use std::sync::Arc;

use smsgate_core::message::{MessageId, Status};
use smsgate_testkit::store::{message, store};

async fn concurrent_inserts_each_get_their_own_answers_in_order() {
    let (store, _dir) = store().await;
    let mut tasks = Vec::new();
    for caller in 0..40u32 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            // Callers of one, two and three messages, so the merged statement is split back
            // by counts, not by position alone.
            let msgs: Vec<_> = (0..=caller % 3)
                .map(|_| message("+4915112345678", 1))
                .collect();
            let ids: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
            let accepted = store.insert_messages(msgs).await.unwrap();
            (ids, accepted)
        }));
    }
    let mut total = 0;
    for t in tasks {
        let (ids, accepted) = t.await.unwrap();
        let got: Vec<MessageId> = accepted.iter().map(|a| a.id).collect();
        assert_eq!(got, ids, "each caller gets its messages back in its order");
        assert!(
            accepted
                .iter()
                .all(|a| !a.duplicate && a.status == Status::Queued)
        );
        total += ids.len();
    }
    assert_eq!(store.stats().await.unwrap().waiting, total as u64);
}

async fn an_idempotency_key_repeated_by_concurrent_callers_stores_one_message() {
    let (store, _dir) = store().await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut plain = message("+4915112345678", 1);
            plain.api_key_id = Some("key_a".into());
            let mut keyed = plain.clone();
            keyed.id = MessageId::new();
            keyed.idempotency_key = Some("order-17".into());
            plain.id = MessageId::new();
            store.insert_messages(vec![plain, keyed]).await.unwrap()
        }));
    }
    let mut keyed_ids = Vec::new();
    for t in tasks {
        let accepted = t.await.unwrap();
        assert!(!accepted[0].duplicate, "the plain message is always new");
        keyed_ids.push((accepted[1].id, accepted[1].duplicate));
    }
    let originals: Vec<_> = keyed_ids.iter().filter(|(_, dup)| !dup).collect();
    assert_eq!(originals.len(), 1, "one caller stored it: {keyed_ids:?}");
    assert!(
        keyed_ids.iter().all(|(id, _)| *id == originals[0].0),
        "every caller got the one message's id"
    );
    assert_eq!(store.stats().await.unwrap().waiting, 21);
}

smsgate_testkit::both_backends!(
    concurrent_inserts_each_get_their_own_answers_in_order,
    an_idempotency_key_repeated_by_concurrent_callers_stores_one_message,
);
