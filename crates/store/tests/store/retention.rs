//! Retention passes and erasure: texts blanked, rows deleted, messages still waiting never
//! touched; one number's texts erased (of one tenant only).

use smsgate_core::connector::InboundSms;
use smsgate_core::store::{InboundQuery, MessageQuery, RetentionPass};
use smsgate_testkit::store::{message, store};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn inbound(from: &str, text: &str) -> InboundSms {
    InboundSms {
        connector: "sim".into(),
        from: from.into(),
        to: "+4930555000".into(),
        text: text.into(),
        incomplete: false,
        binary: None,
    }
}

async fn old_texts_are_redacted_then_rows_deleted_but_waiting_messages_stay() {
    let (store, _dir) = store().await;
    let msgs: Vec<_> = (0..3).map(|_| message("+4915112345678", 1)).collect();
    let ids: Vec<_> = msgs.iter().map(|m| m.id).collect();
    store.insert_messages(msgs).await.unwrap();
    for id in &ids[..2] {
        store.cancel(*id, 2_000).await.unwrap();
    }
    store
        .insert_inbound(vec![inbound("+4915112345678", "my secret text")], 2_000)
        .await
        .unwrap();
    // Everything so far is "older" than a cutoff a second from now.
    let cutoff = now() + 1_000;
    let done = store
        .retention(RetentionPass {
            redact_before: Some(cutoff),
            delete_before: None,
            limit: 500,
        })
        .await
        .unwrap();
    assert_eq!(
        done.redacted, 3,
        "two canceled messages and the inbound SMS"
    );
    for id in &ids[..2] {
        assert_eq!(store.message(*id).await.unwrap().unwrap().0.text, "");
    }
    assert!(
        !store
            .message(ids[2])
            .await
            .unwrap()
            .unwrap()
            .0
            .text
            .is_empty(),
        "still queued"
    );
    let got = store
        .list_inbound(&InboundQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(got[0].text, "");
    let page = store.outbox_after(0, 1000, None).await.unwrap();
    assert!(
        page.events
            .iter()
            .filter(|e| e.event == "message.inbound")
            .all(|e| e.data.as_ref().unwrap()["text"] == ""),
        "the inbound event's copy of the text is blanked too"
    );
    // A second pass has nothing left to redact.
    let again = store
        .retention(RetentionPass {
            redact_before: Some(cutoff),
            delete_before: None,
            limit: 500,
        })
        .await
        .unwrap();
    assert_eq!(again.redacted, 0);
    let done = store
        .retention(RetentionPass {
            redact_before: None,
            delete_before: Some(cutoff),
            limit: 500,
        })
        .await
        .unwrap();
    assert!(done.deleted >= 3, "{done:?}");
    for id in &ids[..2] {
        assert!(store.message(*id).await.unwrap().is_none());
    }
    assert!(
        store.message(ids[2]).await.unwrap().is_some(),
        "a waiting message is kept"
    );
}

async fn erasing_a_number_blanks_its_texts_in_one_tenant_only() {
    let (store, _dir) = store().await;
    let mut a = message("+4915112345678", 1);
    a.tenant = Some("acme".into());
    let mut b = message("+4915112345678", 1);
    b.tenant = Some("bolt".into());
    let other = message("+4915112345679", 1);
    let (a_id, b_id, other_id) = (a.id, b.id, other.id);
    store.insert_messages(vec![a, b, other]).await.unwrap();
    let erased = store
        .erase_number(Some("acme"), "+4915112345678")
        .await
        .unwrap();
    assert_eq!(erased, 1);
    assert_eq!(store.message(a_id).await.unwrap().unwrap().0.text, "");
    assert_ne!(
        store.message(b_id).await.unwrap().unwrap().0.text,
        "",
        "bolt's stays"
    );
    assert_ne!(store.message(other_id).await.unwrap().unwrap().0.text, "");
    let all = store
        .list_messages(&MessageQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 3, "erasure keeps the rows");
}

smsgate_testkit::both_backends!(
    old_texts_are_redacted_then_rows_deleted_but_waiting_messages_stay,
    erasing_a_number_blanks_its_texts_in_one_tenant_only,
);
