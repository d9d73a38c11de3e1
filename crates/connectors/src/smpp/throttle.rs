//! Slowing a connector down when its SMSC says `ESME_RTHROTTLED` or `ESME_RMSGQFUL`
//! (SMPP 3.4 §5.1.3): every submit waits until the pause is over; the pause doubles while the
//! SMSC keeps throttling and resets after a success. Plain state with time passed in.

use std::time::{Duration, Instant};

/// The throttle state of one connector.
#[derive(Debug, Clone)]
pub struct Throttle {
    initial: Duration,
    max: Duration,
    pause: Duration,
    until: Option<Instant>,
}

impl Throttle {
    /// A throttle whose first pause is `initial`, growing to at most 32 × `initial`.
    pub fn new(initial: Duration) -> Self {
        Self {
            initial,
            max: initial * 32,
            pause: initial,
            until: None,
        }
    }

    /// The SMSC throttled us at `now`: pause (longer if it did so during the last pause).
    pub fn handle_throttled(&mut self, now: Instant) {
        if self.until.is_some_and(|u| now < u + self.pause) {
            self.pause = (self.pause * 2).min(self.max);
        }
        let until = now + self.pause;
        self.until = Some(self.until.map_or(until, |u| u.max(until)));
    }

    /// A submit went through: the next throttle starts from the initial pause again.
    pub fn handle_success(&mut self) {
        self.pause = self.initial;
    }

    /// Until when submits must wait, if they must.
    pub fn poll_resume_at(&self, now: Instant) -> Option<Instant> {
        self.until.filter(|u| *u > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_throttling_doubles_the_pause_and_success_resets_it() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut t = Throttle::new(s);
        assert_eq!(t.poll_resume_at(t0), None);
        t.handle_throttled(t0);
        assert_eq!(t.poll_resume_at(t0), Some(t0 + s));
        t.handle_throttled(t0 + s);
        assert_eq!(t.poll_resume_at(t0 + s), Some(t0 + 3 * s));
        assert_eq!(t.poll_resume_at(t0 + 3 * s), None);
        t.handle_success();
        t.handle_throttled(t0 + 100 * s);
        assert_eq!(t.poll_resume_at(t0 + 100 * s), Some(t0 + 101 * s));
        for i in 0..20 {
            t.handle_throttled(t0 + 101 * s + Duration::from_millis(i));
        }
        let until = t.poll_resume_at(t0 + 101 * s).unwrap();
        assert!(until <= t0 + 101 * s + Duration::from_millis(19) + 32 * s);
    }
}
