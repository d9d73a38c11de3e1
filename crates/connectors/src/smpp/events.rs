//! One task per SMPP session: drains its events, reports receipts and complete inbound
//! messages durably, and only then acknowledges the `deliver_sm`s that carried them.

use std::sync::Arc;
use std::time::Duration;

use smsgate_core::clock::Clock;
use smsgate_core::connector::{ConnectorEvent, ConnectorEvents};
use smsgate_smpp::client::{ClientEvent, Events, Inbound};
use tracing::{debug, info};

use super::inbox::{self, Heard, Inbox, Ready};
use super::{Stats, bump};

/// The state of one session's event task.
pub(super) struct EventTask {
    /// How to read deliveries.
    pub reading: inbox::Reading,
    /// Where receipts and inbound messages go.
    pub sink: ConnectorEvents,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Reassembly timeout.
    pub timeout: Duration,
    /// How long a held part waits for progress before it is acknowledged anyway.
    pub ack_after: Duration,
    /// Time.
    pub clock: Clock,
    /// Session index, for logs.
    pub session: usize,
}

impl EventTask {
    /// Runs until the session's supervisor stops.
    pub async fn run(self, mut events: Events) {
        let timeout_ms = self.timeout.as_millis() as i64;
        let ack_after_ms = self.ack_after.as_millis() as i64;
        let mut inbox: Inbox<Inbound> =
            Inbox::new(&self.reading.connector, ack_after_ms, timeout_ms);
        loop {
            let wake = inbox.poll_timeout().map(|t| self.clock.instant_at(t));
            tokio::select! {
                event = events.recv() => match event {
                    None => break,
                    Some(ClientEvent::Inbound(inbound)) => self.on_inbound(&mut inbox, inbound),
                    Some(ClientEvent::Bound(b)) => info!(
                        connector = %self.reading.connector, session = self.session,
                        smsc = %b.peer_system_id, "smpp bound"
                    ),
                    Some(ClientEvent::Disconnected(reason)) => info!(
                        connector = %self.reading.connector, session = self.session,
                        %reason, "smpp session closed"
                    ),
                    Some(ClientEvent::Alert(_)) => {}
                },
                () = sleep_until(wake) => {
                    let (ready, release) = inbox.poll_expired(self.clock.now_ms());
                    for ack in release {
                        ack.ack();
                    }
                    for r in ready {
                        self.store(r);
                    }
                }
            }
        }
        debug!(connector = %self.reading.connector, session = self.session, "event task ended");
    }

    fn on_inbound(&self, inbox: &mut Inbox<Inbound>, inbound: Inbound) {
        match inbox::read(inbound.pdu(), &self.reading) {
            Some(Heard::Receipt(receipt)) => {
                bump(&self.stats.receipts);
                let sink = self.sink.clone();
                tokio::spawn(async move {
                    // Unacknowledged (dropped) when storing failed: the SMSC redelivers.
                    if sink.report_durably(ConnectorEvent::Receipt(receipt)).await {
                        inbound.ack();
                    }
                });
            }
            Some(Heard::Part(part)) => {
                if let Some(ready) = inbox.handle_part(part, inbound, self.clock.now_ms()) {
                    self.store(ready);
                }
            }
            None => {} // only deliver_sm/data_sm reach here; dropping answers ESME_RX_T_APPN
        }
    }

    fn store(&self, ready: Ready<Inbound>) {
        bump(&self.stats.inbound);
        let sink = self.sink.clone();
        tokio::spawn(async move {
            if sink
                .report_durably(ConnectorEvent::Inbound(ready.sms))
                .await
            {
                for ack in ready.acks {
                    ack.ack();
                }
            }
        });
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
