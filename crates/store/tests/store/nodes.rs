//! Several nodes on one store (`smsgate_core::cluster`): two handles on the same database play
//! two gateway nodes (one after the other on SQLite, which serves one writer; concurrently on
//! PostgreSQL). They share the queue without claiming a message twice, a receipt
//! through one completes a submit of the other, a dead node's claims are taken over once its
//! beat is stale (and never a live node's), and one node at a time holds a lease.

use std::collections::HashSet;

use smsgate_core::cluster::NodeBeat;
use smsgate_core::connector::{Receipt, ReceiptState};
use smsgate_core::message::{MessageId, NewMessage, Status};
use smsgate_core::store::{Attempt, Store};
use smsgate_testkit::store::{backend, message};

fn beat(now: i64) -> NodeBeat {
    NodeBeat {
        now,
        started_at: 0,
        http: "127.0.0.1:0".into(),
        version: "test".into(),
        takeovers: 0,
    }
}

async fn queue(s: &dyn Store, n: u32) -> Vec<MessageId> {
    let msgs: Vec<NewMessage> = (0..n)
        .map(|i| message(&format!("+4915112{i:06}"), 1))
        .collect();
    let ids = msgs.iter().map(|m| m.id).collect();
    s.insert_messages(msgs).await.unwrap();
    ids
}

async fn two_nodes_share_the_queue_and_a_receipt_through_one_completes_a_submit_of_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend(&dir).await.store, backend(&dir).await.store);
    assert_ne!(a.node_id(), b.node_id());
    let ids = queue(&*a, 100).await;
    let (got_a, got_b) = tokio::join!(a.claim_due(2_000, 60), b.claim_due(2_000, 60));
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    let claimed_a: HashSet<MessageId> = got_a.iter().map(|m| m.id).collect();
    let claimed_b: HashSet<MessageId> = got_b.iter().map(|m| m.id).collect();
    assert!(claimed_a.is_disjoint(&claimed_b), "a message claimed twice");
    assert_eq!(claimed_a.len() + claimed_b.len(), 100);
    let nodes = b.list_nodes().await.unwrap();
    assert!(nodes.is_empty(), "no node beat yet: {nodes:?}");

    let sent: Vec<Attempt> = claimed_a
        .iter()
        .map(|&id| Attempt::Sent {
            id,
            connector: "c1".into(),
            remote_ids: vec![format!("r-{id}")],
            receipt_retry: None,
        })
        .collect();
    a.record_attempts(sent, 3_000).await.unwrap();
    let receipts: Vec<Receipt> = claimed_a
        .iter()
        .map(|id| Receipt {
            connector: "c1".into(),
            remote_id: format!("r-{id}"),
            state: ReceiptState::Delivered,
            error_code: None,
        })
        .collect();
    assert_eq!(
        b.apply_receipts(receipts, 4_000).await.unwrap(),
        claimed_a.len() as u64
    );
    for id in &claimed_a {
        let (m, _) = b.message(*id).await.unwrap().unwrap();
        assert_eq!(m.status, Status::Delivered, "{id}");
    }
    assert!(
        ids.iter()
            .all(|id| claimed_a.contains(id) || claimed_b.contains(id))
    );
}

async fn a_dead_nodes_claims_are_taken_over_once_its_beat_is_stale_and_a_live_ones_never() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend(&dir).await.store, backend(&dir).await.store);
    queue(&*a, 5).await;
    a.heartbeat(beat(1_000)).await.unwrap();
    b.heartbeat(beat(1_000)).await.unwrap();
    assert_eq!(a.claim_due(2_000, 10).await.unwrap().len(), 5);
    let listed = b.list_nodes().await.unwrap();
    let of_a = listed.iter().find(|n| n.id == a.node_id()).unwrap();
    assert_eq!(of_a.in_flight, 5, "{listed:?}");

    // a beat at 1000, and anything since 500 counts as live: nothing to take.
    assert_eq!(
        b.recover_in_flight(3_000, true, Some(500)).await.unwrap(),
        0
    );
    // a's own pass never takes its own claims.
    assert_eq!(
        a.recover_in_flight(3_000, true, Some(2_000)).await.unwrap(),
        0
    );
    // a's beat is older than 2000: b takes over its five, each with an ambiguous event.
    assert_eq!(
        b.recover_in_flight(3_000, true, Some(2_000)).await.unwrap(),
        5
    );
    let again = b.claim_due(3_000, 10).await.unwrap();
    assert_eq!(again.len(), 5, "taken-over messages are due again");
    for m in &again {
        let (_, events) = b.message(m.id).await.unwrap().unwrap();
        assert_eq!(events.iter().filter(|e| e.kind == "ambiguous").count(), 1);
    }
    let listed = b.list_nodes().await.unwrap();
    let of_b = listed.iter().find(|n| n.id == b.node_id()).unwrap();
    assert_eq!(of_b.in_flight, 5, "{listed:?}");
}

async fn one_node_at_a_time_holds_a_lease_until_it_lapses_or_the_node_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (backend(&dir).await.store, backend(&dir).await.store);
    a.heartbeat(beat(1_000)).await.unwrap();
    b.heartbeat(beat(1_000)).await.unwrap();
    assert!(a.hold_lease("leader", 1_000, 500).await.unwrap());
    assert!(
        !b.hold_lease("leader", 1_200, 500).await.unwrap(),
        "held by a"
    );
    assert!(
        a.hold_lease("leader", 1_400, 500).await.unwrap(),
        "a renews"
    );
    assert!(
        !b.hold_lease("leader", 1_800, 500).await.unwrap(),
        "renewed until 1900"
    );
    assert!(
        b.hold_lease("leader", 2_000, 500).await.unwrap(),
        "a's lapsed"
    );
    assert!(!a.hold_lease("leader", 2_100, 500).await.unwrap());
    let listed = a.list_nodes().await.unwrap();
    let of_b = listed.iter().find(|n| n.id == b.node_id()).unwrap();
    assert_eq!(of_b.leases, vec!["leader".to_owned()]);
    b.leave().await.unwrap();
    assert!(
        a.hold_lease("leader", 2_200, 500).await.unwrap(),
        "b left: free at once"
    );
    let listed = a.list_nodes().await.unwrap();
    assert_eq!(listed.len(), 1, "b is gone: {listed:?}");
}

/// PostgreSQL only: two writers on one SQLite file is what the data directory lock prevents.
#[tokio::test]
async fn two_nodes_share_the_queue_on_postgres() {
    smsgate_testkit::store::on_postgres(
        "two_nodes_share_the_queue",
        two_nodes_share_the_queue_and_a_receipt_through_one_completes_a_submit_of_the_other(),
    )
    .await
}

smsgate_testkit::both_backends!(
    a_dead_nodes_claims_are_taken_over_once_its_beat_is_stale_and_a_live_ones_never,
    one_node_at_a_time_holds_a_lease_until_it_lapses_or_the_node_leaves,
);

/// The database drops every connection of the store (a restart, a failover, a network cut):
/// a write may fail while it happens, nothing committed is lost, and the store works again by
/// itself, reads and writes, without being reopened.
async fn a_store_whose_connections_are_cut_works_again_by_itself() {
    let server = smsgate_testkit::store::postgres_server().unwrap();
    let schema = format!(
        "cut_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let sep = if server.contains('?') { '&' } else { '?' };
    let s = smsgate_store::open(&format!("{server}{sep}schema={schema}"))
        .await
        .unwrap();
    let before = queue(&*s, 10).await;
    let admin = sqlx::PgPool::connect(&server).await.unwrap();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(format!("smsgate/{schema}"))
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(cut.len() >= 2, "the writer and a reader were cut: {cut:?}");
    // Writes come back within a few attempts (the first may fail on the dead connection).
    let mut after = None;
    for _ in 0..5 {
        let m = message("+4915112999999", 1);
        let id = m.id;
        if s.insert_messages(vec![m]).await.is_ok() {
            after = Some(id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let after = after.expect("writes work again after the connections were cut");
    for id in before.iter().chain([&after]) {
        assert!(s.message(*id).await.unwrap().is_some(), "{id} is kept");
    }
}

#[tokio::test]
async fn a_store_whose_connections_are_cut_works_again_on_postgres() {
    smsgate_testkit::store::on_postgres(
        "connections cut",
        a_store_whose_connections_are_cut_works_again_by_itself(),
    )
    .await
}
