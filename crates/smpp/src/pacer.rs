//! Submit pacing: spaces requests `1/max_tps` apart, shared by every holder of one pacer, so a
//! connector with several sessions still honours one `max_tps` towards its SMSC.

use std::sync::Mutex;
use std::time::Duration;

/// Hands out send slots `1/tps` apart; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// A pacer for `tps` requests per second (`tps` of 0 is treated as 1).
    pub fn new(tps: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / tps.max(1),
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for the next free slot and takes it.
    pub async fn wait(&self) {
        let slot = {
            // The lock only guards two arithmetic operations; poisoning cannot leave it torn.
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}
