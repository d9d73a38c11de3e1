//! The northbound store (migration 0002) against a real SQLite file: whole submissions commit
//! with their message, parts wait durably until the group is complete, assembly happens once,
//! stale groups are found after a restart, and a client's feed sees only its own final
//! statuses (and inbound SMS when asked) after a cursor that never moves backwards.

use smsgate_core::connector::InboundSms;
use smsgate_core::message::{NewMessage, Status};
use smsgate_core::northbound::{FeedItem, PartOf, PartProgress, Submission};
use smsgate_core::store::{Attempt, MessageQuery};
use smsgate_testkit::store::{self as fixture, backend};

fn message(owner: &str, text: &str) -> NewMessage {
    NewMessage {
        api_key_id: Some(owner.into()),
        text: text.into(),
        ..fixture::message("+4915112345678", 1)
    }
}

fn part(id: &str, group: &str, part_no: u8, total: u8, at: i64) -> Submission {
    Submission {
        id: id.into(),
        account: "app1".into(),
        part: Some(PartOf {
            group: group.into(),
            part_no,
            total,
            content: format!("payload {part_no}"),
        }),
        data: format!("{{\"n\":{part_no}}}"),
        created_at: at,
    }
}

/// A part with the given content, for the reference-reuse cases.
fn part_with(id: &str, part_no: u8, content: &str, at: i64) -> Submission {
    let mut p = part(id, "g", part_no, 2, at);
    if let Some(pos) = p.part.as_mut() {
        pos.content = content.into();
    }
    p
}

async fn a_reused_reference_starts_a_new_message_and_a_retransmission_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir).await;
    let nb = &b.northbound;
    // Part 1 of message A waits; the client resends it unchanged (its response was lost):
    // the same set, still waiting.
    assert_eq!(
        nb.submit_part(part_with("a1", 1, "A1", 10)).await.unwrap(),
        PartProgress::Waiting
    );
    assert_eq!(
        nb.submit_part(part_with("a1bis", 1, "A1", 11))
            .await
            .unwrap(),
        PartProgress::Waiting
    );
    // Message B reuses the reference before A completes: B must not take A's parts.
    assert_eq!(
        nb.submit_part(part_with("b1", 1, "B1", 20)).await.unwrap(),
        PartProgress::Waiting
    );
    let ids = |p: PartProgress| match p {
        PartProgress::Complete(parts) => parts
            .into_iter()
            .map(|p| p.submission.id)
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ids(nb.submit_part(part_with("b2", 2, "B2", 21)).await.unwrap()),
        ["b1", "b2"]
    );
    // A's two copies of part 1 wait on under a closed group of their own; the sweep finds
    // them after the timeout and sends what they hold. (B, complete but not yet assembled
    // here, is found too, apart.)
    let groups = nb.pending_groups(15).await.unwrap();
    let mut found: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.iter().map(|p| p.submission.id.as_str()).collect())
        .collect();
    found.sort();
    assert_eq!(found, [vec!["a1", "a1bis"], vec!["b1", "b2"]]);
}

async fn parts_wait_until_complete_and_are_assembled_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir).await;
    let nb = &b.northbound;
    assert_eq!(
        nb.submit_part(part("p2", "g", 2, 3, 10)).await.unwrap(),
        PartProgress::Waiting
    );
    assert_eq!(
        nb.submit_part(part("p2", "g", 2, 3, 10)).await.unwrap(),
        PartProgress::Duplicate
    );
    assert_eq!(
        nb.submit_part(part("p1", "g", 1, 3, 11)).await.unwrap(),
        PartProgress::Waiting
    );
    // Another group with the same positions does not complete this one.
    nb.submit_part(part("q3", "other", 3, 3, 12)).await.unwrap();
    let PartProgress::Complete(parts) = nb.submit_part(part("p3", "g", 3, 3, 13)).await.unwrap()
    else {
        panic!("the third part completes the group")
    };
    let ids: Vec<String> = parts.iter().map(|p| p.submission.id.clone()).collect();
    assert_eq!(ids, ["p2", "p1", "p3"]);
    assert!(parts.iter().all(|p| p.message_id.is_none()));

    let m = message("smpp:app1", "whole text");
    let first = nb.assemble(ids.clone(), m.clone()).await.unwrap();
    assert_eq!(first, m.id);
    // A second assembly (a sweep racing the submit) returns the first message, writes nothing.
    let again = nb
        .assemble(ids.clone(), message("smpp:app1", "dup"))
        .await
        .unwrap();
    assert_eq!(again, m.id);
    let all = b
        .store
        .list_messages(&MessageQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].text, "whole text");
    // The assembled group is no longer pending; the other group is, once it is old enough.
    assert!(nb.pending_groups(12).await.unwrap().is_empty());
    let stale = nb.pending_groups(13).await.unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0][0].submission.id, "q3");
}

async fn a_complete_group_left_unassembled_is_found_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let b = backend(&dir).await;
        b.northbound
            .submit_part(part("a1", "g", 1, 2, 10))
            .await
            .unwrap();
        let done = b
            .northbound
            .submit_part(part("a2", "g", 2, 2, 11))
            .await
            .unwrap();
        assert!(matches!(done, PartProgress::Complete(_)));
        // The process stops before assembling.
    }
    let b = backend(&dir).await;
    let groups = b.northbound.pending_groups(0).await.unwrap();
    assert_eq!(
        groups.len(),
        1,
        "complete groups are pending whatever their age"
    );
    let data: Vec<&str> = groups[0]
        .iter()
        .map(|p| p.submission.data.as_str())
        .collect();
    assert_eq!(data, ["{\"n\":1}", "{\"n\":2}"]);
}

async fn the_feed_shows_final_statuses_of_the_owner_and_inbound_after_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir).await;
    let (store, nb) = (&b.store, &b.northbound);
    let start = nb.last_event_seq().await.unwrap();
    let mine = message("smpp:app1", "mine");
    let theirs = message("smpp:app2", "theirs");
    let sub = Submission {
        id: mine.id.to_string(),
        account: "app1".into(),
        part: None,
        data: "{}".into(),
        created_at: 1_000,
    };
    nb.submit_whole(mine.clone(), sub.clone()).await.unwrap();
    store.insert_messages(vec![theirs.clone()]).await.unwrap();
    store.claim_due(2_000, 10).await.unwrap();
    let failed = |id| Attempt::Failed {
        id,
        connector: None,
        status: Status::Failed,
        code: "invalid".into(),
        message: "no".into(),
    };
    store
        .record_attempts(vec![failed(mine.id), failed(theirs.id)], 3_000)
        .await
        .unwrap();
    store
        .insert_inbound(
            vec![InboundSms {
                connector: "sim".into(),
                from: "+4915199999999".into(),
                to: "+4930123".into(),
                text: "hi".into(),
                incomplete: false,
                binary: None,
            }],
            4_000,
        )
        .await
        .unwrap();

    let feed = nb.feed("smpp:app1", false, start, 100).await.unwrap();
    assert_eq!(feed.items.len(), 1, "{:?}", feed.items);
    let FeedItem::Final {
        status,
        message,
        submissions,
        ..
    } = &feed.items[0]
    else {
        panic!("{:?}", feed.items[0])
    };
    assert_eq!((*status, message.id), (Status::Failed, mine.id));
    assert_eq!(submissions.len(), 1);
    assert_eq!(submissions[0].submission, sub);
    let found = nb.submission(&sub.id).await.unwrap().unwrap();
    assert_eq!(
        (found.submission, found.message_id),
        (sub.clone(), Some(mine.id))
    );
    assert!(nb.submission("nope").await.unwrap().is_none());
    assert_eq!(feed.up_to, nb.last_event_seq().await.unwrap());

    let with_inbound = nb.feed("smpp:app1", true, start, 100).await.unwrap();
    assert_eq!(with_inbound.items.len(), 2);
    let FeedItem::Inbound { message, .. } = &with_inbound.items[1] else {
        panic!()
    };
    assert_eq!(
        (message.to.as_str(), message.text.as_str()),
        ("+4930123", "hi")
    );
    // A page of one stops at its item, so the cursor never skips what the page left out.
    let page = nb.feed("smpp:app1", true, start, 1).await.unwrap();
    assert_eq!(page.up_to, page.items[0].seq());
    let after = nb.feed("smpp:app1", true, feed.up_to, 100).await.unwrap();
    assert!(after.items.is_empty());

    assert_eq!(nb.cursor("c").await.unwrap(), None);
    nb.set_cursor("c", 5).await.unwrap();
    nb.set_cursor("c", 3).await.unwrap();
    assert_eq!(nb.cursor("c").await.unwrap(), Some(5), "never backwards");
}

smsgate_testkit::both_backends!(
    a_reused_reference_starts_a_new_message_and_a_retransmission_does_not,
    parts_wait_until_complete_and_are_assembled_once,
    a_complete_group_left_unassembled_is_found_after_a_restart,
    the_feed_shows_final_statuses_of_the_owner_and_inbound_after_the_cursor,
);
