//! Which outbox events are finished, so the durable webhook cursor only moves past an event once
//! every one of its deliveries has been made or stored for retry.
//!
//! Deliveries finish out of order (endpoints answer at their own speed); the cursor is the
//! highest position below which nothing is open. After a crash the pipeline starts again at
//! the stored cursor, so what was delivered after it is delivered again: webhooks are
//! at-least-once, and the event id (`evt_<seq>`) lets a receiver drop a repeat.

use std::collections::BTreeMap;

/// Open deliveries per outbox position.
#[derive(Debug)]
pub struct Tracker {
    /// Position → deliveries not yet finished (never 0: finished positions are removed).
    open: BTreeMap<i64, u32>,
    /// The last position handed in with [`Tracker::add`] (or the starting cursor).
    read_to: i64,
}

impl Tracker {
    /// Starts at a stored cursor: everything up to it is finished.
    pub fn new(cursor: i64) -> Self {
        Self {
            open: BTreeMap::new(),
            read_to: cursor,
        }
    }

    /// Registers the event at `seq` with `deliveries` targets (0: finished at once). Events
    /// must be added in increasing order.
    pub fn add(&mut self, seq: i64, deliveries: u32) {
        debug_assert!(seq > self.read_to, "events are added in order");
        self.read_to = self.read_to.max(seq);
        if deliveries > 0 {
            self.open.insert(seq, deliveries);
        }
    }

    /// Everything up to `seq` has been read: positions not added were left out (nobody wants
    /// them) and are finished.
    pub fn skip_to(&mut self, seq: i64) {
        self.read_to = self.read_to.max(seq);
    }

    /// One delivery of the event at `seq` is finished (made, or stored for retry).
    pub fn finish(&mut self, seq: i64) {
        if let Some(n) = self.open.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(&seq);
            }
        }
    }

    /// The highest position up to which every event is finished.
    pub fn cursor(&self) -> i64 {
        match self.open.first_key_value() {
            Some((&seq, _)) => seq - 1,
            None => self.read_to,
        }
    }

    /// Deliveries not yet finished.
    pub fn open_events(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_stops_before_the_oldest_open_event() {
        let mut t = Tracker::new(10);
        assert_eq!(t.cursor(), 10);
        t.add(12, 2);
        t.add(13, 0);
        t.add(15, 1);
        assert_eq!(t.cursor(), 11, "12 is open");
        t.finish(15);
        assert_eq!(t.cursor(), 11, "a later event finishing does not move it");
        t.finish(12);
        assert_eq!(t.cursor(), 11, "one of 12's two deliveries is still open");
        t.finish(12);
        assert_eq!(t.cursor(), 15, "everything read is finished");
        assert_eq!(t.open_events(), 0);
    }

    #[test]
    fn positions_skipped_over_count_as_finished() {
        let mut t = Tracker::new(0);
        t.add(3, 1);
        t.skip_to(9);
        assert_eq!(t.cursor(), 2);
        t.finish(3);
        assert_eq!(t.cursor(), 9, "4 to 9 were read and left out");
    }

    #[test]
    fn finishing_an_unknown_position_changes_nothing() {
        let mut t = Tracker::new(0);
        t.add(1, 1);
        t.finish(7);
        assert_eq!(t.cursor(), 0);
    }
}
