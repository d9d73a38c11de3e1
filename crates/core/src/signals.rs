//! Wake-ups between the loops: a commit that gives another loop work notifies it, so nothing
//! waits for a poll interval. A lost wake-up costs at most that interval, never a message,
//! because every loop re-reads the store on its own timer too.

use std::sync::Arc;

use tokio::sync::Notify;

/// Shared wake-up signals between the API, the dispatcher and the webhook loops.
#[derive(Clone, Default)]
pub struct Signals {
    /// New messages are queued.
    pub queued: Arc<Notify>,
    /// New outbox events exist (the webhook pipeline).
    pub events: Arc<Notify>,
    /// New inbound SMS are stored (the IoT engine reads them from the store after its cursor).
    pub inbound: Arc<Notify>,
    /// New inbound SMS are stored (the compliance loop reads STOP, START and HELP after its
    /// own cursor).
    pub keywords: Arc<Notify>,
}
