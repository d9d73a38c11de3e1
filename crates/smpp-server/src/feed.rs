//! One task per account: delivery receipts and inbound SMS to the account's bound receivers.
//!
//! The feed is the `events` table read after a durable per-account cursor (`kv` key
//! `smpp_server.feed.<system_id>`), so what happens while the client is away waits in the
//! store and goes out when it binds again. A page of items is pushed as `deliver_sm`s
//! (spread over the receiver sessions, each within its window); the cursor moves past an item
//! only once the client answered every `deliver_sm` of it and of every item before it. An item
//! whose push failed is pushed again later, so a client may see a receipt twice (at least
//! once), never zero times. A client answering `ESME_RX_P_APPN` (permanent error) has refused
//! the item for good; it is skipped.

use std::sync::Arc;
use std::time::Duration;

use rusmpp::pdus::DeliverSm;
use smsgate_core::message::Status;
use smsgate_core::northbound::{FeedItem, NorthboundStore};
use smsgate_smpp::pdu::CommandStatus;
use smsgate_smpp::server::{DeliverError, SessionHandle};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, error, info};

use super::accounts::Account;
use super::decode::wants_receipt;
use super::record::{self, Record};

/// Items read per page.
const PAGE: u32 = 100;

/// The `kv` name of an account's cursor.
pub fn cursor_name(system_id: &str) -> String {
    format!("smpp_server.feed.{system_id}")
}

/// The `deliver_sm`s an item becomes for this account (none when it wants none of it).
pub fn pdus(account: &Account, item: &FeedItem, reference: u16) -> Vec<DeliverSm> {
    match item {
        FeedItem::Final {
            at,
            status,
            message,
            submissions,
            ..
        } => submissions
            .iter()
            .filter_map(|s| {
                let record: Record = match serde_json::from_str(&s.submission.data) {
                    Ok(r) => r,
                    Err(e) => {
                        error!(submission = %s.submission.id, error = %e, "unreadable submission record; no receipt");
                        return None;
                    }
                };
                wants_receipt(record.registered_delivery, *status == Status::Delivered).then(
                    || record::receipt(&s.submission.id, &record, message, *status, *at),
                )
            })
            .collect(),
        FeedItem::Inbound { message, .. } => {
            if record::inbound_matches(&account.config.inbound, &message.to) {
                record::inbound(message, reference)
            } else {
                Vec::new()
            }
        }
    }
}

/// Pushes one item's `deliver_sm`s over `session`; `true` when the client took them all (or
/// refused them for good).
async fn push(session: SessionHandle, pdus: Vec<DeliverSm>) -> bool {
    for pdu in pdus {
        match session.deliver(pdu).await {
            Ok(()) => {}
            Err(DeliverError::Rejected(CommandStatus::EsmeRxPAppn)) => {
                info!("client refused a deliver_sm for good (ESME_RX_P_APPN); skipped");
            }
            Err(e) => {
                debug!(error = %e, "deliver_sm not acknowledged; will retry");
                return false;
            }
        }
    }
    true
}

/// The feed task of one account.
pub struct FeedTask {
    /// The account.
    pub account: Arc<Account>,
    /// The store.
    pub store: Arc<dyn NorthboundStore>,
    /// How often to look for new items while a receiver is bound.
    pub poll: Duration,
}

impl FeedTask {
    /// Runs from `cursor` until `stop` turns true.
    pub async fn run(self, mut cursor: i64, mut stop: watch::Receiver<bool>) {
        let name = cursor_name(&self.account.config.system_id);
        let inbound = !self.account.config.inbound.is_empty();
        let mut reference: u16 = rand_reference();
        while !*stop.borrow() {
            let receivers = self.account.receivers();
            if receivers.is_empty() {
                tokio::select! {
                    () = self.account.wake.notified() => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let feed = match self
                .store
                .feed(&self.account.owner, inbound, cursor, PAGE)
                .await
            {
                Ok(f) => f,
                Err(e) => {
                    error!(error = %e, "reading the smpp feed failed");
                    self.pause(&mut stop).await;
                    continue;
                }
            };
            let mut pushes = JoinSet::new();
            for (i, item) in feed.items.iter().enumerate() {
                reference = reference.wrapping_add(1);
                let pdus = pdus(&self.account, item, reference);
                if !pdus.is_empty() {
                    let session = receivers[i % receivers.len()].clone();
                    pushes.spawn(async move { (i, push(session, pdus).await) });
                }
            }
            let mut first_failed: Option<usize> = None;
            while let Some(done) = pushes.join_next().await {
                if let Ok((i, false)) = done {
                    first_failed = Some(first_failed.map_or(i, |f| f.min(i)));
                }
            }
            let next = match first_failed {
                None => feed.up_to,
                Some(i) => feed.items[i].seq() - 1,
            };
            if next > cursor {
                match self.store.set_cursor(&name, next).await {
                    Ok(()) => cursor = next,
                    Err(e) => error!(error = %e, "saving the smpp feed cursor failed"),
                }
            }
            if first_failed.is_some() || (feed.items.len() as u32) < PAGE {
                self.pause(&mut stop).await;
            }
        }
    }

    async fn pause(&self, stop: &mut watch::Receiver<bool>) {
        tokio::select! {
            () = tokio::time::sleep(self.poll) => {}
            () = self.account.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

/// A concatenation reference start that differs between runs, so a restart does not reuse the
/// references a client may still be reassembling.
fn rand_reference() -> u16 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        & 0xFFFF) as u16
}
