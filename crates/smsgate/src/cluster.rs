//! The node's part in a cluster (see `smsgate_core::cluster`): its beat, taking over the
//! messages of dead nodes, and the `leader` lease that decides where the singleton work runs.
//! On SQLite (one node) it still beats, so `GET /v1/nodes` shows the one node, and it always
//! leads.

use std::sync::Arc;
use std::time::Duration;

use smsgate_core::clock::Clock;
use smsgate_core::cluster::{LEADER, NodeBeat};
use smsgate_core::signals::Signals;
use smsgate_core::store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the node says about itself, and how quickly a silent node counts as dead.
pub struct ClusterDeps {
    /// The store the nodes share.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Clock,
    /// `[cluster] node_timeout`.
    pub node_timeout: Duration,
    /// This node's API address.
    pub http: String,
    /// `[dispatcher] retry_ambiguous`: whether taken-over messages are sent again.
    pub retry_ambiguous: bool,
    /// Wakes the dispatcher after a takeover.
    pub signals: Signals,
    /// Its opt-outs, consents and tenant rules, reloaded with each beat when other nodes
    /// share the store (a STOP another node handled refuses sends here within one beat).
    pub intake: Arc<smsgate_core::intake::Intake>,
    /// The connectors whose `max_tps` the live nodes share.
    pub connectors: smsgate_core::routing::Connectors,
}

/// Beats once (so this node is listed and, if no other node leads, leads before any loop
/// starts), then keeps beating until `stop`; on a graceful stop the node leaves, handing the
/// lead over at once. Returns whether this node leads, as it changes.
pub async fn start(
    deps: ClusterDeps,
    stop: watch::Receiver<bool>,
) -> (watch::Receiver<bool>, JoinHandle<()>) {
    let started_at = deps.clock.now_ms();
    let first = beat(&deps, started_at).await;
    let (lead_tx, lead) = watch::channel(first);
    let task = tokio::spawn(run(deps, started_at, lead_tx, stop));
    (lead, task)
}

async fn run(
    deps: ClusterDeps,
    started_at: i64,
    lead: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let every = (deps.node_timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let leads = beat(&deps, started_at).await;
        lead.send_if_modified(|l| std::mem::replace(l, leads) != leads);
    }
    if let Err(e) = deps.store.leave().await {
        tracing::warn!(error = %e, "could not deregister this node; others take over after node_timeout");
    }
}

/// One beat: takes over what dead nodes held, records the beat, renews or takes the lead.
/// Returns whether this node leads (a failed beat: not, so a node cut off from the database
/// stops the singleton work rather than doing it twice).
async fn beat(deps: &ClusterDeps, started_at: i64) -> bool {
    let store = &deps.store;
    let now = deps.clock.now_ms();
    let timeout = deps.node_timeout.as_millis() as i64;
    let mut takeovers = 0;
    if !store.single_node() {
        match store
            .recover_in_flight(now, deps.retry_ambiguous, Some(now - timeout))
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                takeovers = n;
                tracing::warn!(
                    count = n,
                    node = store.node_id(),
                    "took over messages claimed by a node that stopped beating; their fate at \
                     the network is unknown"
                );
                deps.signals.queued.notify_one();
            }
            Err(e) => tracing::error!(error = %e, "taking over the messages of dead nodes failed"),
        }
    }
    let beat = NodeBeat {
        now,
        started_at,
        http: deps.http.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        takeovers,
    };
    if let Err(e) = store.heartbeat(beat).await {
        tracing::error!(error = %e, "node heartbeat failed");
        return store.single_node();
    }
    if store.single_node() {
        return true;
    }
    if let Err(e) = deps.intake.reload_policies().await {
        tracing::error!(error = %e, "reloading opt-outs and consents failed");
    }
    match store.list_nodes().await {
        Ok(nodes) => {
            let live = nodes
                .iter()
                .filter(|n| n.heartbeat_at >= now - timeout)
                .count()
                .max(1) as u32;
            for c in deps.connectors.all() {
                c.share_rate(live);
            }
        }
        Err(e) => tracing::error!(error = %e, "listing the live nodes failed"),
    }
    match store.hold_lease(LEADER, now, timeout).await {
        Ok(leads) => leads,
        Err(e) => {
            tracing::error!(error = %e, "renewing the leader lease failed");
            false
        }
    }
}
