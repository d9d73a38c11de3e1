//! The webhook outbox read: a status filter leaves out the events nobody wants (except those of
//! messages with their own callback URL), and the page says how far it looked either way; a
//! deleted subscription's stored retries go with it.

use smsgate_core::message::Status;
use smsgate_testkit::store::{message, store};

async fn a_status_filter_leaves_out_unwanted_events_but_not_callback_messages() {
    let (store, _dir) = store().await;
    let plain = message("+4915112345678", 1);
    let mut with_callback = message("+4915112345679", 1);
    with_callback.callback_url = Some("http://127.0.0.1:9/cb".into());
    let (plain_id, callback_id) = (plain.id, with_callback.id);
    store
        .insert_messages(vec![plain, with_callback])
        .await
        .unwrap();
    // Two `queued` events.
    let all = store.outbox_after(0, 100, None).await.unwrap();
    assert_eq!(all.events.len(), 2);
    assert!(all.at_end);
    let newest = all.scanned_to;

    let finals = [Status::Delivered, Status::Failed];
    let page = store.outbox_after(0, 100, Some(&finals)).await.unwrap();
    let ids: Vec<_> = page
        .events
        .iter()
        .map(|e| e.message.as_ref().unwrap().2.id)
        .collect();
    assert_eq!(
        ids,
        [callback_id],
        "the plain message's `queued` is left out"
    );
    assert_ne!(plain_id, callback_id);
    assert_eq!(
        page.scanned_to, newest,
        "looked as far as the unfiltered read"
    );
    assert!(page.at_end);

    // A limit looks only that many positions ahead.
    let first = store.outbox_after(0, 1, None).await.unwrap();
    assert_eq!((first.events.len(), first.at_end), (1, false));
    let rest = store
        .outbox_after(first.scanned_to, 100, None)
        .await
        .unwrap();
    assert_eq!(rest.events.len(), 1);
    assert!(rest.at_end);
    let none = store.outbox_after(newest, 100, None).await.unwrap();
    assert!(none.events.is_empty() && none.at_end && none.scanned_to == newest);
}

async fn deleting_a_webhook_drops_its_stored_retries() {
    use smsgate_core::store::{Delivery, FailedDelivery, Webhook, WebhookProgress};
    let (store, _dir) = store().await;
    for id in ["wh_gone", "wh_kept"] {
        store
            .create_webhook(Webhook {
                id: id.into(),
                api_key_id: None,
                tenant: None,
                url: "http://127.0.0.1:9/hook".into(),
                events: vec!["message.status".into()],
                statuses: Vec::new(),
                secret: "s".repeat(16),
                created_at: 0,
            })
            .await
            .unwrap();
    }
    let failed = |id: &str, hook: &str| FailedDelivery {
        delivery: Delivery {
            id: id.into(),
            webhook_id: Some(hook.into()),
            url: "http://127.0.0.1:9/hook".into(),
            secret: "s".repeat(16),
            body: "{}".into(),
            attempts: 1,
            created_at: 0,
            tenant: None,
        },
        retry_at: 0,
        error: "HTTP 500".into(),
    };
    let progress = WebhookProgress {
        failed: vec![failed("whd_1_0", "wh_gone"), failed("whd_1_1", "wh_kept")],
        ..WebhookProgress::default()
    };
    store.record_webhook_progress(progress, 0).await.unwrap();
    assert_eq!(store.stats().await.unwrap().webhooks_pending, 2);
    assert!(store.delete_webhook("wh_gone", None).await.unwrap());
    assert_eq!(store.stats().await.unwrap().webhooks_pending, 1);
    let due = store.claim_deliveries(1, 10, 1000).await.unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        ["whd_1_1"],
        "only the kept subscription's retry is left"
    );
}

smsgate_testkit::both_backends!(
    a_status_filter_leaves_out_unwanted_events_but_not_callback_messages,
    deleting_a_webhook_drops_its_stored_retries,
);
