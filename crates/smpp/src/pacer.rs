//! Submit pacing: spaces requests `1/max_tps` apart, shared by every holder of one pacer, so a
//! connector with several sessions still honours one `max_tps` towards its SMSC.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Hands out send slots `1/tps` apart; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Pacer {
    tps: u32,
    /// Nanoseconds between slots: `1/tps`, times the nodes sharing the rate.
    interval_ns: AtomicU64,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// A pacer for `tps` requests per second (`tps` of 0 is treated as 1).
    pub fn new(tps: u32) -> Self {
        let tps = tps.max(1);
        Self {
            tps,
            interval_ns: AtomicU64::new(1_000_000_000 / u64::from(tps)),
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Takes a `1/nodes` share of the rate: `nodes` gateway nodes each pace this connector,
    /// and the SMSC must see the configured rate in total, not per node.
    pub fn share(&self, nodes: u32) {
        let ns = 1_000_000_000 * u64::from(nodes.max(1)) / u64::from(self.tps);
        self.interval_ns.store(ns, Ordering::Relaxed);
    }

    /// The rate this pacer allows now, in requests per second.
    pub fn rate(&self) -> f64 {
        1e9 / self.interval_ns.load(Ordering::Relaxed).max(1) as f64
    }

    /// Waits for the next free slot and takes it.
    pub async fn wait(&self) {
        let slot = {
            // The lock only guards two arithmetic operations; poisoning cannot leave it torn.
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_nanos(self.interval_ns.load(Ordering::Relaxed));
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::Pacer;

    #[tokio::test(start_paused = true)]
    async fn three_nodes_sharing_a_rate_each_send_a_third_of_it() {
        let p = Pacer::new(150);
        assert_eq!(p.rate().round(), 150.0);
        p.share(3);
        assert_eq!(p.rate().round(), 50.0);
        let start = tokio::time::Instant::now();
        for _ in 0..51 {
            p.wait().await;
        }
        // 51 slots at 20 ms: the 51st starts one second after the first.
        assert_eq!(start.elapsed().as_millis(), 1000);
        p.share(0);
        assert_eq!(
            p.rate().round(),
            150.0,
            "no live node counted means the whole rate"
        );
    }
}
