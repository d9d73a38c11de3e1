//! Backpressure at intake: the queue lives on disk, but a bound on how much may wait keeps a
//! runaway sender from filling the disk and delaying everyone else's alerts by hours. Past
//! `[limits] max_queued` every channel refuses new messages until the dispatcher catches up.
//!
//! Counting a large queue is not free, so the depth is re-read at most twice a second, in the
//! background, and what was accepted since is added on top.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::store::Store;

/// How stale the counted depth may get before a request triggers a recount.
const REFRESH_MS: i64 = 500;

/// The queue is at its bound: the caller answers its channel's "try later" (HTTP 429 with
/// `Retry-After`, SMPP `ESME_RMSGQFUL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{depth} messages are waiting, the configured bound is {max} ([limits] max_queued); retry later"
)]
pub struct QueueFull {
    /// Messages waiting (as last counted plus those accepted since).
    pub depth: u64,
    /// `[limits] max_queued`.
    pub max: u64,
}

/// The cached queue depth and the bound: of the whole queue, or of one tenant's messages (its
/// `queue_quota`, see [`QueueGate::for_tenant`]).
#[derive(Default)]
pub struct QueueGate {
    tenant: Option<String>,
    counted: AtomicU64,
    accepted_since: AtomicU64,
    counted_at: AtomicI64,
    counting: Arc<AtomicBool>,
}

impl QueueGate {
    /// A gate that counts only `tenant`'s waiting messages.
    pub fn for_tenant(tenant: &str) -> Self {
        Self {
            tenant: Some(tenant.to_owned()),
            ..Self::default()
        }
    }

    /// Refuses `n` more messages when the queue is at `max` (0: no bound).
    pub fn admit(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        now_ms: i64,
        n: u64,
        max: u64,
    ) -> Result<(), QueueFull> {
        if max == 0 {
            return Ok(());
        }
        if now_ms - self.counted_at.load(Ordering::Relaxed) > REFRESH_MS
            && !self.counting.swap(true, Ordering::AcqRel)
        {
            let (gate, store) = (Arc::clone(self), Arc::clone(store));
            tokio::spawn(async move {
                // Whatever was accepted before the count is in it; later ones stay on top. A
                // message committed but not yet noted may be counted twice until the next
                // recount: the bound errs on the safe side by at most the requests in flight.
                let before = gate.accepted_since.load(Ordering::Relaxed);
                let counted = match &gate.tenant {
                    Some(t) => store.tenant_waiting(t).await,
                    None => store.stats().await.map(|s| s.waiting),
                };
                match counted {
                    Ok(waiting) => {
                        gate.counted.store(waiting, Ordering::Relaxed);
                        gate.accepted_since.fetch_sub(before, Ordering::Relaxed);
                        gate.counted_at.store(now_ms, Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!(error = %e, "counting the queue failed"),
                }
                gate.counting.store(false, Ordering::Release);
            });
        }
        let depth =
            self.counted.load(Ordering::Relaxed) + self.accepted_since.load(Ordering::Relaxed);
        if depth + n > max {
            tracing::warn!(depth, max, tenant = ?self.tenant, "queue full: refusing new messages");
            return Err(QueueFull { depth, max });
        }
        Ok(())
    }

    /// Sets the depth counted at start-up, before any request, so the first requests are
    /// measured against it instead of racing a recount of their own commits.
    pub fn seed(&self, waiting: u64, now_ms: i64) {
        self.counted.store(waiting, Ordering::Relaxed);
        self.counted_at.store(now_ms, Ordering::Relaxed);
    }

    /// Counts messages accepted since the last recount.
    pub fn accepted(&self, n: u64) {
        self.accepted_since.fetch_add(n, Ordering::Relaxed);
    }
}
