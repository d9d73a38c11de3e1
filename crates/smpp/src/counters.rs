//! Metric-like counters for what peers send us and how sessions fare.
//!
//! Peer garbage is never logged above `debug` (STYLE §9); it is counted here instead, and the
//! gateway exports a [`CountersSnapshot`] as metrics.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Shared, lock-free counters; one instance per session or per server/client, shared
        /// through an `Arc`.
        #[derive(Debug, Default)]
        pub struct Counters {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A point-in-time copy of [`Counters`].
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct CountersSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Reads every counter (relaxed; the values are independent).
            pub fn snapshot(&self) -> CountersSnapshot {
                CountersSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// PDUs decoded from the peer.
    pdus_in,
    /// PDUs we encoded for the peer.
    pdus_out,
    /// PDUs whose `command_length` was below 16 or above the maximum (ESME_RINVCMDLEN).
    invalid_length,
    /// PDUs with an unknown `command_id` (ESME_RINVCMDID).
    unknown_command,
    /// PDUs whose body did not decode (answered with the matching error status).
    malformed_body,
    /// Requests not allowed in the session's state (ESME_RINVBNDSTS, SMPP 3.4 §2.3).
    invalid_bind_state,
    /// Responses whose sequence number matched no outstanding request.
    unexpected_response,
    /// `generic_nack`s received.
    generic_nack_in,
    /// Requests we answered with ESME_RTHROTTLED because the inbound window was full.
    throttled_out,
    /// Our requests that got no response within the response timeout.
    response_timeouts,
    /// Keep-alive `enquire_link`s we sent (SMPP 3.4 §4.11).
    enquire_links_sent,
    /// Sessions closed because the peer stopped answering `enquire_link`.
    dead_peer,
    /// Connections to a TLS listener closed because the handshake failed or timed out.
    tls_handshake_failed,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
