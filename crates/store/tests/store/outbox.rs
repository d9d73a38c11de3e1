//! The webhook outbox read: a status filter leaves out the events nobody wants (except those of
//! messages with their own callback URL), and the page says how far it looked either way.

use smsgate_core::message::Status;
use smsgate_testkit::store::{message, store};

#[tokio::test]
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
