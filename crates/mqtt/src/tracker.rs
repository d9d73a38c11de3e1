//! How far the event log is published *and acknowledged*: the state that lets the bridge
//! move its durable cursor only past events the broker has PUBACKed, so a broker outage
//! delays events but loses none. Pure: the bridge feeds it what it enqueued and what the
//! client reported.
//!
//! Calling order, per connection: [`Tracker::handle_published`] for every publish request
//! handed to the client, in order; [`Tracker::handle_scanned`] after each page of the log;
//! [`Tracker::handle_outgoing`] for each `Outgoing::Publish(pkid)` the client reports (the
//! client assigns packet ids in the order of the requests, so the n-th report belongs to the
//! n-th request); [`Tracker::handle_puback`] for each `PubAck`; [`Tracker::poll_cursor`] for
//! the position the durable cursor may move to. A new connection starts a new tracker at the
//! durable cursor: what was not acknowledged is published again (at least once).

use std::collections::{BTreeSet, HashMap, VecDeque};

/// What a publish request carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// The event at this position of the log.
    Event(i64),
    /// Anything else (an error report, an acceptance): nobody waits for its PUBACK.
    Other,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Every event up to here was published or left out.
    read_to: i64,
    /// Requests handed to the client that have no packet id yet, in order.
    queued: VecDeque<Tag>,
    /// Packet id → event position, waiting for the PUBACK.
    awaiting: HashMap<u16, i64>,
    /// Events published and not yet acknowledged.
    unacked: BTreeSet<i64>,
}

impl Tracker {
    /// A tracker whose events up to `cursor` are done.
    pub fn new(cursor: i64) -> Self {
        Self {
            read_to: cursor,
            ..Self::default()
        }
    }

    /// Where the next page of the log starts (after this position).
    pub fn read_to(&self) -> i64 {
        self.read_to
    }

    /// Events published and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.unacked.len()
    }

    /// A publish request carrying `tag` was handed to the client.
    pub fn handle_published(&mut self, tag: Tag) {
        if let Tag::Event(seq) = tag {
            self.unacked.insert(seq);
        }
        self.queued.push_back(tag);
    }

    /// A page of the log was read up to `to` (every event up to it published or left out).
    pub fn handle_scanned(&mut self, to: i64) {
        self.read_to = self.read_to.max(to);
    }

    /// The client sent the next publish request with packet id `pkid`.
    pub fn handle_outgoing(&mut self, pkid: u16) {
        if let Some(Tag::Event(seq)) = self.queued.pop_front() {
            self.awaiting.insert(pkid, seq);
        }
    }

    /// The broker acknowledged packet `pkid`; true when it carried an event.
    pub fn handle_puback(&mut self, pkid: u16) -> bool {
        match self.awaiting.remove(&pkid) {
            Some(seq) => {
                self.unacked.remove(&seq);
                true
            }
            None => false,
        }
    }

    /// The furthest the durable cursor may move: just before the oldest unacknowledged
    /// event, or as far as the log was read when every event is acknowledged.
    pub fn poll_cursor(&self) -> i64 {
        match self.unacked.first() {
            Some(oldest) => oldest - 1,
            None => self.read_to,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_moves_only_past_acknowledged_events() {
        let mut t = Tracker::new(10);
        for seq in [11, 12, 14] {
            t.handle_published(Tag::Event(seq));
        }
        t.handle_published(Tag::Other);
        t.handle_scanned(15);
        assert_eq!(t.poll_cursor(), 10);
        for pkid in 1..=4 {
            t.handle_outgoing(pkid);
        }
        assert!(t.handle_puback(2), "event 12");
        assert_eq!(t.poll_cursor(), 10, "11 is not acknowledged yet");
        assert!(!t.handle_puback(4), "the error report");
        assert!(t.handle_puback(1));
        assert_eq!(t.poll_cursor(), 13, "up to before 14");
        assert!(t.handle_puback(3));
        assert_eq!(t.poll_cursor(), 15, "all acknowledged: as far as read");
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_puback_before_its_packet_id_is_known_counts_for_nothing() {
        let mut t = Tracker::new(0);
        t.handle_published(Tag::Event(1));
        t.handle_scanned(1);
        assert!(!t.handle_puback(1));
        assert_eq!(t.poll_cursor(), 0);
        t.handle_outgoing(1);
        assert!(t.handle_puback(1));
        assert_eq!(t.poll_cursor(), 1);
    }

    #[test]
    fn packet_ids_are_reused_after_their_ack() {
        let mut t = Tracker::new(0);
        t.handle_published(Tag::Event(1));
        t.handle_outgoing(7);
        assert!(t.handle_puback(7));
        t.handle_published(Tag::Event(2));
        t.handle_outgoing(7);
        t.handle_scanned(2);
        assert_eq!(t.poll_cursor(), 1);
        assert!(t.handle_puback(7));
        assert_eq!(t.poll_cursor(), 2);
    }
}
