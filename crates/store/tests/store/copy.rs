//! `store copy` from a SQLite file that a gateway used to PostgreSQL (PostgreSQL only: skipped
//! without `SMSGATE_TEST_POSTGRES`): every table arrives with the same counts, a message reads
//! back with its whole timeline, and the copy goes on where the source stopped (new events and
//! messages after the copied ones, no id clash).

use smsgate_core::connector::{InboundSms, Receipt, ReceiptState};
use smsgate_core::store::{Attempt, OptOut, OptOutChanges, Webhook};
use smsgate_testkit::store::{api_key, message};

async fn a_used_sqlite_store_copies_to_postgres_with_every_row_and_goes_on_there() {
    let server = smsgate_testkit::store::postgres_server().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let from = format!("sqlite://{}/old.db", dir.path().display());
    let src = smsgate_store::open_all(&from).await.unwrap().store;
    let key = api_key(&*src, "app", false).await;
    let msgs: Vec<_> = (0..1_203)
        .map(|i| message(&format!("+4915112{i:06}"), 1))
        .collect();
    src.insert_messages(msgs).await.unwrap();
    let claimed = src.claim_due(2_000, 600).await.unwrap();
    let sent = claimed
        .iter()
        .map(|m| Attempt::Sent {
            id: m.id,
            connector: "c1".into(),
            remote_ids: vec![format!("r-{}", m.id)],
            receipt_retry: None,
        })
        .collect();
    src.record_attempts(sent, 3_000).await.unwrap();
    let receipts = claimed
        .iter()
        .map(|m| Receipt {
            connector: "c1".into(),
            remote_id: format!("r-{}", m.id),
            state: ReceiptState::Delivered,
            error_code: None,
        })
        .collect();
    src.apply_receipts(receipts, 4_000).await.unwrap();
    src.insert_inbound(
        vec![InboundSms {
            connector: "c1".into(),
            from: "+4915199999999".into(),
            to: "12345".into(),
            text: "hello".into(),
            incomplete: false,
            binary: None,
        }],
        5_000,
    )
    .await
    .unwrap();
    src.create_webhook(Webhook {
        id: "wh_1".into(),
        api_key_id: Some(key.id.clone()),
        tenant: Some(key.id.clone()),
        url: "https://example.com/hook".into(),
        events: vec!["message.status".into()],
        statuses: Vec::new(),
        secret: "s".into(),
        created_at: 6_000,
    })
    .await
    .unwrap();
    let optout = OptOut {
        tenant: "default".into(),
        number: "+4915100000001".into(),
        sender: String::new(),
        source: "api".into(),
        created_at: 7_000,
    };
    src.record_optouts(
        OptOutChanges {
            added: vec![optout],
            ..OptOutChanges::default()
        },
        7_000,
    )
    .await
    .unwrap();
    let (before, before_events) = src.message(claimed[0].id).await.unwrap().unwrap();
    drop(src);

    let sep = if server.contains('?') { '&' } else { '?' };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let to = format!("{server}{sep}schema=copy_{nanos}");
    let mut pages = 0;
    let done = smsgate_store::copy::copy(&from, &to, |_, _, _| pages += 1)
        .await
        .unwrap();
    assert!(pages > 10, "progress after every page: {pages}");
    let count = |t: &str| done.iter().find(|c| c.table == t).unwrap().destination;
    assert_eq!(count("messages"), 1_203);
    assert_eq!(count("message_parts"), 600);
    assert_eq!(count("api_keys"), 1);
    assert_eq!(count("webhooks"), 1);
    assert_eq!(count("inbound_messages"), 1);
    assert_eq!(count("optouts"), 1);
    assert!(count("events") >= 1_203 + 3 * 600, "{done:?}");
    assert!(done.iter().all(|c| c.source == c.destination), "{done:?}");

    let dst = smsgate_store::open_all(&to).await.unwrap().store;
    let (after, after_events) = dst.message(claimed[0].id).await.unwrap().unwrap();
    assert_eq!(after, before);
    assert_eq!(after_events, before_events);
    assert!(
        dst.api_key_by_hash(&key.hash).await.unwrap().is_some(),
        "the key still authenticates"
    );
    // The copy goes on: new messages and events take fresh sequence numbers.
    dst.insert_messages(vec![message("+4915112999999", 1)])
        .await
        .unwrap();
    dst.append_event("test.event", serde_json::json!({}), 8_000)
        .await
        .unwrap();
    assert_eq!(
        dst.claim_due(9_000, 1_000).await.unwrap().len(),
        1_203 - 600 + 1
    );
    // A second copy into the same (no longer empty) schema is refused.
    let err = smsgate_store::copy::copy(&from, &to, |_, _, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already holds data"), "{err}");
}

#[tokio::test]
async fn a_used_sqlite_store_copies_to_postgres() {
    smsgate_testkit::store::on_postgres(
        "store copy",
        a_used_sqlite_store_copies_to_postgres_with_every_row_and_goes_on_there(),
    )
    .await
}
