//! Time as the gateway sees it, injectable so tests can run hours of retries, expiry and
//! escalation in milliseconds with `tokio::time::pause()`, or — where real I/O makes a paused
//! runtime jump ahead on its own — with an [`Clock::adjustable`] clock that moves only when the
//! test says so.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// Wall-clock Unix milliseconds that follow tokio's clock: real time normally, and the paused,
/// advanced clock in tests.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base_unix_ms: i64,
    base: tokio::time::Instant,
    skip: Option<&'static Skip>,
}

/// How far an adjustable clock was moved ahead, and who waits for it to move.
#[derive(Debug, Default)]
struct Skip {
    ms: AtomicI64,
    moved: Notify,
}

impl Clock {
    /// A clock anchored at the system time now.
    pub fn system() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64);
        Self {
            base_unix_ms: unix.unwrap_or(0),
            base: tokio::time::Instant::now(),
            skip: None,
        }
    }

    /// A system clock that tests can move ahead with [`Clock::advance`] (each one leaks a few
    /// bytes, so make them in tests only). Loops that sleep until a clock time also wait on
    /// [`Clock::advanced`] to notice the jump.
    pub fn adjustable() -> Self {
        Self {
            skip: Some(Box::leak(Box::default())),
            ..Self::system()
        }
    }

    /// Moves an adjustable clock ahead by `by` and wakes its waiters; `false` (and nothing
    /// moves) on other clocks.
    pub fn advance(&self, by: Duration) -> bool {
        let Some(skip) = self.skip else {
            return false;
        };
        skip.ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        skip.moved.notify_waiters();
        true
    }

    /// A future that resolves at the next [`Clock::advance`] of this clock (never on other
    /// clocks). It counts from the call, not from the first poll: take it before reading the
    /// time, and no move in between is missed.
    pub fn advanced(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self.skip {
            Some(skip) => {
                let mut moved = Box::pin(skip.moved.notified());
                moved.as_mut().enable();
                moved
            }
            None => Box::pin(std::future::pending()),
        }
    }

    fn skipped(&self) -> i64 {
        self.skip.map_or(0, |s| s.ms.load(Ordering::SeqCst))
    }

    /// A clock that starts at a chosen Unix ms (tests).
    pub fn starting_at(unix_ms: i64) -> Self {
        Self {
            base_unix_ms: unix_ms,
            base: tokio::time::Instant::now(),
            skip: None,
        }
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> i64 {
        self.base_unix_ms + self.base.elapsed().as_millis() as i64 + self.skipped()
    }

    /// The tokio instant at which this clock shows `unix_ms` (for sleeping until then).
    pub fn instant_at(&self, unix_ms: i64) -> tokio::time::Instant {
        let offset = (unix_ms - self.base_unix_ms - self.skipped()).max(0) as u64;
        self.base + std::time::Duration::from_millis(offset)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

/// RFC 3339 (UTC, milliseconds) for a Unix ms timestamp, as the API shows times.
pub fn rfc3339(unix_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(unix_ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => unix_ms.to_string(),
    }
}

/// Parses an RFC 3339 timestamp into Unix ms.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| {
            format!("'{s}' is not an RFC 3339 time ({e}); write e.g. 2026-01-31T12:00:00Z")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_tokio_time() {
        let clock = Clock::starting_at(1_000_000);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now_ms(), 1_090_000);
        assert_eq!(clock.instant_at(1_090_000), tokio::time::Instant::now());
    }

    #[tokio::test(start_paused = true)]
    async fn an_adjustable_clock_moves_only_when_told_and_wakes_its_waiters() {
        let clock = Clock::adjustable();
        let t0 = clock.now_ms();
        let waiter = tokio::spawn(clock.advanced());
        assert!(clock.advance(Duration::from_secs(600)));
        waiter.await.unwrap();
        assert_eq!(clock.now_ms(), t0 + 600_000);
        assert_eq!(clock.instant_at(t0 + 600_000), tokio::time::Instant::now());
        assert!(!Clock::system().advance(Duration::from_secs(1)));
    }

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let s = rfc3339(1_767_225_600_123);
        assert_eq!(s, "2026-01-01T00:00:00.123Z");
        assert_eq!(parse_rfc3339(&s).unwrap(), 1_767_225_600_123);
        assert!(parse_rfc3339("tomorrow").is_err());
    }
}
