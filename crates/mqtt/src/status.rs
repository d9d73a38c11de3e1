//! The bridge's state for operators: the link (connected, connecting, down, standby), the
//! last error and what it moved, shown by `GET /v1/channels` and `/metrics` through
//! [`ChannelState`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use smsgate_core::clock::{Clock, rfc3339};
use smsgate_core::northbound::{ChannelState, ChannelStatus};

/// The link to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not running here: another node of the cluster leads (or the gateway is stopping).
    Standby,
    /// Connecting (or reconnecting) to the broker.
    Connecting,
    /// Connected and subscribed.
    Connected,
    /// The last attempt failed; waiting to try again.
    Down,
}

impl Link {
    /// The name `GET /v1/channels` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standby => "standby",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Down => "down",
        }
    }
}

struct Inner {
    link: Link,
    last_error: Option<String>,
    since: Option<i64>,
}

/// The bridge's live status, shared between its task and the API.
pub struct MqttStatus {
    peer: String,
    clock: Clock,
    inner: Mutex<Inner>,
    /// Sends and commands taken (queued or handed to the IoT engine) since start.
    pub received: AtomicU64,
    /// Sends and commands refused (and reported on `{prefix}/errors`) since start.
    pub refused: AtomicU64,
    /// Events the broker acknowledged since start.
    pub published: AtomicU64,
    /// Successful connections to the broker since start.
    pub connects: AtomicU64,
}

impl MqttStatus {
    /// A status in [`Link::Standby`] for a bridge to `peer` (the broker URL).
    pub fn new(peer: &str, clock: Clock) -> Self {
        Self {
            peer: peer.to_owned(),
            clock,
            inner: Mutex::new(Inner {
                link: Link::Standby,
                last_error: None,
                since: None,
            }),
            received: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            published: AtomicU64::new(0),
            connects: AtomicU64::new(0),
        }
    }

    /// The link now.
    pub fn link(&self) -> Link {
        self.lock().link
    }

    /// Moves the link to `link`; `error` (for [`Link::Down`]) is kept until the next connect.
    pub fn set(&self, link: Link, error: Option<String>) {
        let mut inner = self.lock();
        if inner.link != link {
            inner.since = Some(self.clock.now_ms());
        }
        inner.link = link;
        if link == Link::Connected {
            inner.last_error = None;
        }
        if error.is_some() {
            inner.last_error = error;
        }
    }

    /// Adds one to a counter.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the plain fields inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ChannelState for MqttStatus {
    fn status(&self) -> ChannelStatus {
        let inner = self.lock();
        let counters = BTreeMap::from([
            ("received".to_owned(), self.received.load(Ordering::Relaxed)),
            ("refused".to_owned(), self.refused.load(Ordering::Relaxed)),
            (
                "published".to_owned(),
                self.published.load(Ordering::Relaxed),
            ),
            ("connects".to_owned(), self.connects.load(Ordering::Relaxed)),
        ]);
        ChannelStatus {
            name: "mqtt".into(),
            state: inner.link.as_str().into(),
            peer: self.peer.clone(),
            last_error: inner.last_error.clone(),
            since: inner.since.map(rfc3339),
            counters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_shows_link_error_and_counters() {
        let s = MqttStatus::new("mqtt://127.0.0.1:1883", Clock::system());
        assert_eq!(s.status().state, "standby");
        s.set(Link::Down, Some("connection refused".into()));
        MqttStatus::count(&s.refused);
        let st = s.status();
        assert_eq!(st.state, "down");
        assert_eq!(st.last_error.as_deref(), Some("connection refused"));
        assert_eq!(st.counters["refused"], 1);
        s.set(Link::Connected, None);
        assert_eq!(s.status().last_error, None);
    }
}
