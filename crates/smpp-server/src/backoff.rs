//! Failed binds cost the one who fails: after a few failures in a row from one IP address, or
//! for one `system_id`, further binds are refused without looking at the password for a pause
//! that doubles with each failure (1 s up to 5 min). A password guesser gets a handful of
//! tries per pause instead of thousands per second; a correct bind clears the record. The
//! refusal is the same `ESME_RBINDFAIL` as any failed bind, so the pause tells nothing either.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the pause starts.
const FREE_FAILURES: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(300);
/// Records kept at most (the oldest are dropped beyond: a spray of addresses cannot grow it).
const MAX_RECORDS: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    until: Option<Instant>,
    last: Instant,
}

/// Failure records by IP address and by `system_id`.
#[derive(Debug, Default)]
pub struct BindBackoff {
    by_key: Mutex<HashMap<String, Record>>,
}

fn ip_of(peer: &str) -> &str {
    // `1.2.3.4:5678` or `[::1]:5678`: the address without the port.
    peer.rsplit_once(':')
        .map_or(peer, |(ip, _)| ip)
        .trim_start_matches('[')
        .trim_end_matches(']')
}

impl BindBackoff {
    /// When binds from `peer` or for `system_id` are paused: until when.
    pub fn paused(&self, peer: &str, system_id: &str, now: Instant) -> Option<Instant> {
        let map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        [format!("ip:{}", ip_of(peer)), format!("id:{system_id}")]
            .iter()
            .filter_map(|k| map.get(k)?.until)
            .filter(|u| *u > now)
            .max()
    }

    /// Counts a failed bind against the address and the `system_id`.
    pub fn failed(&self, peer: &str, system_id: &str, now: Instant) {
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_RECORDS {
            let oldest = map
                .iter()
                .min_by_key(|(_, r)| r.last)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        for key in [format!("ip:{}", ip_of(peer)), format!("id:{system_id}")] {
            let r = map.entry(key).or_insert(Record {
                failures: 0,
                until: None,
                last: now,
            });
            // A record quiet for longer than the longest pause starts over.
            if now.duration_since(r.last) > MAX_PAUSE {
                r.failures = 0;
            }
            r.failures += 1;
            r.last = now;
            if r.failures > FREE_FAILURES {
                let doublings = (r.failures - FREE_FAILURES - 1).min(16);
                let pause = (FIRST_PAUSE * 2u32.pow(doublings)).min(MAX_PAUSE);
                r.until = Some(now + pause);
            }
        }
    }

    /// A successful bind clears the records of the address and the `system_id`.
    pub fn succeeded(&self, peer: &str, system_id: &str) {
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("ip:{}", ip_of(peer)));
        map.remove(&format!("id:{system_id}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_failures_are_free_then_the_pause_doubles() {
        let b = BindBackoff::default();
        let t = Instant::now();
        for _ in 0..FREE_FAILURES {
            b.failed("10.0.0.1:4000", "app", t);
        }
        assert_eq!(b.paused("10.0.0.1:4001", "other", t), None);
        b.failed("10.0.0.1:4000", "app", t);
        assert_eq!(b.paused("10.0.0.1:4002", "other", t), Some(t + FIRST_PAUSE));
        assert_eq!(
            b.paused("10.9.9.9:1", "app", t),
            Some(t + FIRST_PAUSE),
            "per system_id too"
        );
        b.failed("10.0.0.1:4000", "app", t);
        assert_eq!(b.paused("10.0.0.1:1", "x", t), Some(t + FIRST_PAUSE * 2));
        assert_eq!(
            b.paused("10.0.0.2:1", "x", t),
            None,
            "other addresses are not held"
        );
        b.succeeded("10.0.0.1:4000", "app");
        assert_eq!(b.paused("10.0.0.1:1", "app", t), None);
    }

    #[test]
    fn the_pause_is_capped_and_ipv6_peers_are_keyed_by_address() {
        let b = BindBackoff::default();
        let t = Instant::now();
        for _ in 0..40 {
            b.failed("[::1]:5000", "app", t);
        }
        assert_eq!(b.paused("[::1]:6000", "x", t), Some(t + MAX_PAUSE));
    }
}
