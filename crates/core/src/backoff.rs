//! Exponential backoff with jitter, so retries spread out instead of arriving as a storm.

use std::time::Duration;

use rand::Rng;

/// A retry schedule: `base × 2^attempt`, capped, each delay drawn uniformly from its upper half
/// ("equal jitter": never shorter than half the nominal delay, never synchronised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The largest delay.
    pub cap: Duration,
}

impl Backoff {
    /// A schedule from `base` up to `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    /// The nominal (un-jittered) delay before retry number `attempt` (0-based).
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The jittered delay before retry number `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let nominal = self.nominal(attempt);
        let half = nominal / 2;
        let jitter_ms = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stay_in_the_upper_half() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(b.nominal(0), Duration::from_secs(1));
        assert_eq!(b.nominal(3), Duration::from_secs(8));
        assert_eq!(b.nominal(10), Duration::from_secs(60));
        assert_eq!(b.nominal(200), Duration::from_secs(60));
        for attempt in 0..12 {
            let d = b.delay(attempt);
            assert!(
                d >= b.nominal(attempt) / 2 && d <= b.nominal(attempt),
                "{attempt}: {d:?}"
            );
        }
    }
}
