//! Turns what connectors hear (delivery reports, inbound SMS) into store commits, then lets
//! each connector acknowledge to the network: durable first, acknowledged second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::connector::{ConnectorEvent, Reported};
use crate::signals::Signals;
use crate::store::Store;

/// Drains `rx` until every sender is gone, committing events in batches.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Clock,
    mut rx: mpsc::Receiver<Reported>,
    signals: Signals,
) {
    let mut batch: Vec<Reported> = Vec::with_capacity(512);
    while rx.recv_many(&mut batch, 512).await > 0 {
        let mut receipts = Vec::new();
        let mut inbound = Vec::new();
        let mut acks = Vec::with_capacity(batch.len());
        for r in batch.drain(..) {
            match r.event {
                ConnectorEvent::Receipt(x) => receipts.push(x),
                ConnectorEvent::Inbound(x) => inbound.push(x),
            }
            acks.extend(r.ack);
        }
        let mut delay = Duration::from_millis(100);
        let stored = loop {
            let now = clock.now_ms();
            let res = async {
                if !receipts.is_empty() {
                    let matched = store.apply_receipts(receipts.clone(), now).await?;
                    tracing::debug!(receipts = receipts.len(), matched, "receipts applied");
                }
                if !inbound.is_empty() {
                    store.insert_inbound(inbound.clone(), now).await?;
                    tracing::info!(count = inbound.len(), "inbound messages stored");
                }
                Ok::<_, crate::store::StoreError>(())
            }
            .await;
            match res {
                Ok(()) => break true,
                Err(crate::store::StoreError::Closed) => break false,
                Err(e) => {
                    // Not acknowledging makes the network redeliver, so retrying a few times and
                    // then giving up loses nothing.
                    tracing::error!(error = %e, "storing connector events failed; retrying");
                    if delay > Duration::from_secs(5) {
                        break false;
                    }
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        };
        if stored {
            for ack in acks {
                let _ = ack.send(());
            }
            signals.events.notify_one();
            if !receipts.is_empty() {
                // An undelivered receipt may have made its message due again on another
                // connector (`retry_undelivered`).
                signals.queued.notify_one();
            }
            if !inbound.is_empty() {
                signals.inbound.notify_one();
                signals.keywords.notify_one();
            }
        }
    }
}
