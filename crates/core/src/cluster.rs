//! Several gateway nodes on one database (PostgreSQL): who is alive, who holds what, and the
//! work that must run on one node at a time.
//!
//! Every node registers under a fresh id at start and beats every quarter of `node_timeout`
//! ([`NodeBeat`], `Store::heartbeat`). A node whose beat is older than `node_timeout` is dead:
//! the others take over the messages it had claimed (`Store::recover_in_flight` with a
//! `live_since`), each with an `ambiguous` event, exactly as a restart does after a crash.
//! Work that must happen once (webhook delivery, the compliance and inbound-rule loop,
//! retention, the IoT engine) runs only on the node holding the `leader` lease
//! (`Store::hold_lease`), renewed with each beat; when the holder dies the lease runs out
//! after `node_timeout` and another node takes it ([`while_leader`]). A SQLite store has one
//! node, which always leads.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

/// The lease the singleton work runs under.
pub const LEADER: &str = "leader";

/// What a node tells the store with each beat.
#[derive(Clone, Debug)]
pub struct NodeBeat {
    /// Unix ms of this beat.
    pub now: i64,
    /// When the node started (Unix ms).
    pub started_at: i64,
    /// Its API address, for operators and `GET /v1/nodes`.
    pub http: String,
    /// The smsgate version it runs.
    pub version: String,
    /// Messages of dead nodes it took over since its last beat.
    pub takeovers: u64,
}

/// A node as `GET /v1/nodes` shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NodeInfo {
    /// Its id (fresh at every start).
    pub id: String,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms of its last beat.
    pub heartbeat_at: i64,
    /// Its API address.
    pub http: Option<String>,
    /// Its smsgate version.
    pub version: Option<String>,
    /// Messages of dead nodes it took over, in all.
    pub takeovers: u64,
    /// Messages it has claimed and not yet recorded (in flight at the network or about to be).
    pub in_flight: u64,
    /// The leases it holds (`leader`).
    pub leases: Vec<String>,
    /// Whether its beat is recent enough (set by the caller, who knows `node_timeout`).
    #[serde(default)]
    pub live: bool,
}

/// Runs the work `make` builds whenever this node leads, and stops it (through the future
/// `make` is handed) when the lead is lost or `stop` turns true; returns once `stop` is true.
/// `what` names the work in the logs.
pub async fn while_leader<F, Fut>(
    what: &'static str,
    mut lead: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    mut make: F,
) where
    F: FnMut(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            r = lead.wait_for(|l| *l) => if r.is_err() { return },
            _ = stop.wait_for(|s| *s) => return,
        }
        if *stop.borrow() {
            return;
        }
        tracing::info!(work = what, "this node leads: starting");
        make(Box::pin(until_lost(lead.clone(), stop.clone()))).await;
        if *stop.borrow() {
            return;
        }
        if *lead.borrow() {
            // It ended by itself (nothing to do, say): not again before the lead changes hands.
            until_lost(lead.clone(), stop.clone()).await;
            if *stop.borrow() {
                return;
            }
        }
        tracing::warn!(work = what, "this node no longer leads: stopped");
        // Give the lease a moment to settle before trying again.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Resolves when this node no longer leads or `stop` turns true: the stop signal of work
/// that runs while leading.
pub async fn until_lost(mut lead: watch::Receiver<bool>, mut stop: watch::Receiver<bool>) {
    tokio::select! {
        _ = lead.wait_for(|l| !*l) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn work_runs_only_while_leading_and_ends_with_stop() {
        let (lead_tx, lead) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let runs = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let (r, g) = (Arc::clone(&runs), Arc::clone(&running));
        let task = tokio::spawn(while_leader("test", lead, stop, move |until| {
            let (r, g) = (Arc::clone(&r), Arc::clone(&g));
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                g.store(1, Ordering::SeqCst);
                until.await;
                g.store(0, Ordering::SeqCst);
            }
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 0, "not leading: nothing runs");
        lead_tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(running.load(Ordering::SeqCst), 1);
        lead_tx.send(false).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            running.load(Ordering::SeqCst),
            0,
            "lead lost: the work stopped"
        );
        lead_tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "lead regained: runs again");
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(running.load(Ordering::SeqCst), 0);
    }
}
