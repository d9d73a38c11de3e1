//! The receive path. Order matters and is the point of this module: a message is deleted from
//! the modem (`AT+CMGD`) or acknowledged to the network (`AT+CNMA`) only after the owner said
//! it is durable, so a crash anywhere repeats a message but never loses one.
//!
//! - `+CMTI`/`+CDSI` (stored): `AT+CMGR` → decode → report → `AT+CMGD`.
//! - Parts of a long stored message stay in storage until the whole message is reported;
//!   after a restart the `AT+CMGL=4` sweep reads them again and reassembly resumes.
//! - `+CMT`/`+CDS` (direct): decode → report → `AT+CNMA` (when `+CSMS` service 1 needs it).
//!   Parts of a long direct message are saved in the state file before `AT+CNMA`.
//! - The sweep runs after every start and on each health check, so a lost `+CMTI` only delays.

use smsgate_sms::tpdu::DeliveryStatus;
use smsgate_sms::tpdu::{SmsDeliver, SmsStatusReport, Tpdu, parse_modem_pdu};
use smsgate_sms::{Complete, Fragment};
use tokio::sync::oneshot;

use crate::at::info::{self, Registration, StoredPdu};
use crate::at::{Final, Urc};

use super::link::{Link, Outcome};
use super::worker::{Stop, Worker};
use super::{Ack, Heard, ModemEvent, ReportState};

/// How an inbound PDU reached us, i.e. how to release it once durable.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// In storage at this index: delete it.
    Stored(u32),
    /// Direct: acknowledge it.
    Direct,
}

impl Worker {
    pub(super) async fn on_urc(&mut self, link: &mut Link, urc: Urc) -> Result<(), Stop> {
        match urc {
            Urc::Cmti { index, .. } | Urc::Cdsi { index, .. } => {
                self.read_stored(link, index).await
            }
            Urc::Cmt { length, pdu } | Urc::Cds { length, pdu } => {
                self.on_pdu(link, &pdu, length, Source::Direct).await
            }
            Urc::Registration { kind, stat } => {
                let reg = Registration::from_stat(stat);
                tracing::info!(connector = %self.name, kind, ?reg, "registration changed");
                self.update(|s| s.registration = Some(reg));
                Ok(())
            }
            Urc::Ring => {
                tracing::debug!(connector = %self.name, "incoming call ignored");
                Ok(())
            }
            Urc::Other(line) => {
                tracing::debug!(connector = %self.name, %line, "unsolicited line ignored");
                Ok(())
            }
        }
    }

    /// Reads and handles every stored message (`AT+CMGL=4`).
    pub(super) async fn sweep(&mut self, link: &mut Link) -> Result<(), Stop> {
        let r = self.answer(link, "AT+CMGL=4").await?;
        let stored = info::cmgl(&r);
        if !stored.is_empty() {
            tracing::info!(connector = %self.name, count = stored.len(), "messages found in modem storage");
        }
        for s in stored {
            self.on_stored(link, s).await?;
        }
        Ok(())
    }

    async fn read_stored(&mut self, link: &mut Link, index: u32) -> Result<(), Stop> {
        let r = self.answer(link, &format!("AT+CMGR={index}")).await?;
        match info::cmgr(&r, index) {
            Some(s) => self.on_stored(link, s).await,
            None => {
                tracing::debug!(connector = %self.name, index, result = %r.result, "nothing to read at index");
                Ok(())
            }
        }
    }

    async fn on_stored(&mut self, link: &mut Link, s: StoredPdu) -> Result<(), Stop> {
        if s.stat >= 2 {
            return Ok(()); // an outgoing message someone stored: not ours to touch
        }
        self.on_pdu(link, &s.pdu, s.length, Source::Stored(s.index))
            .await
    }

    async fn on_pdu(
        &mut self,
        link: &mut Link,
        pdu: &str,
        length: usize,
        source: Source,
    ) -> Result<(), Stop> {
        match parse_modem_pdu(pdu, Some(length)) {
            Ok(m) => match m.tpdu {
                Tpdu::Deliver(d) => self.on_deliver(link, d, source).await,
                Tpdu::StatusReport(r) => self.on_report(link, r, source).await,
                Tpdu::Submit(_) => Ok(()),
            },
            Err(e) => {
                // Kept as an inbound message with the raw PDU rather than dropped unseen.
                tracing::info!(connector = %self.name, error = %e, "undecodable PDU from the modem");
                let heard = Heard::Inbound {
                    from: "unknown".into(),
                    text: format!("[undecodable PDU {pdu}: {e}]"),
                    incomplete: true,
                    binary: None,
                };
                if self.report(heard).await {
                    self.release(link, &[source]).await?;
                }
                Ok(())
            }
        }
    }

    async fn on_deliver(
        &mut self,
        link: &mut Link,
        d: SmsDeliver,
        source: Source,
    ) -> Result<(), Stop> {
        let from = d.originator.to_string();
        let concat = d.user_data.concat().filter(|c| c.is_valid() && c.total > 1);
        let now = self.now_ms();
        let Some(c) = concat else {
            let text = d
                .user_data
                .text()
                .unwrap_or_else(|e| format!("[undecodable text: {e}]"));
            let binary = (d.user_data.encoding == smsgate_sms::Encoding::Binary8).then(|| {
                super::InboundBinary {
                    octets: d.user_data.payload.clone(),
                    elements: Fragment::from(&d.user_data).elements,
                    data_coding: d.dcs.octet(),
                }
            });
            let heard = Heard::Inbound {
                from,
                text,
                incomplete: false,
                binary,
            };
            if self.report(heard).await {
                self.update(|s| s.counters.received += 1);
                self.release(link, &[source]).await?;
            }
            return Ok(());
        };
        let slot_key = (from.clone(), c.reference, c.total);
        if let Source::Stored(index) = source {
            self.part_slots
                .entry(slot_key.clone())
                .or_default()
                .insert(index);
        }
        let complete =
            self.reassembler
                .handle_part(&from, Some(c), Fragment::from(&d.user_data), now);
        if let Source::Direct = source {
            // Acknowledged to the network now, so the part must outlive a crash.
            self.save_cmt_parts();
            if complete.is_none() {
                self.release(link, &[source]).await?;
                return Ok(());
            }
        }
        match complete {
            Some(done) => self.deliver_complete(link, done, Some(source)).await,
            None => Ok(()),
        }
    }

    /// Reports a reassembled message and releases all its parts.
    async fn deliver_complete(
        &mut self,
        link: &mut Link,
        done: Complete,
        direct: Option<Source>,
    ) -> Result<(), Stop> {
        let key = (done.key.clone(), done.reference.unwrap_or(0), done.total);
        let heard = Heard::Inbound {
            from: done.key.clone(),
            text: done.text.clone(),
            incomplete: done.incomplete,
            binary: done.binary.clone().map(|octets| super::InboundBinary {
                octets,
                elements: done.elements.clone(),
                data_coding: 0x04,
            }),
        };
        if !self.report(heard).await {
            return Ok(()); // not durable: parts stay in storage and come back with the sweep
        }
        self.update(|s| s.counters.received += 1);
        let mut release: Vec<Source> = self
            .part_slots
            .remove(&key)
            .unwrap_or_default()
            .into_iter()
            .map(Source::Stored)
            .collect();
        if let Some(Source::Direct) = direct {
            release.push(Source::Direct);
        }
        self.save_cmt_parts();
        self.release(link, &release).await
    }

    /// Long messages whose parts did not all arrive in time: reported incomplete.
    pub(super) async fn expire_parts(&mut self, link: &mut Link) -> Result<(), Stop> {
        let now = self.now_ms();
        for done in self.reassembler.poll_expired(now) {
            self.deliver_complete(link, done, None).await?;
        }
        Ok(())
    }

    async fn on_report(
        &mut self,
        link: &mut Link,
        r: SmsStatusReport,
        source: Source,
    ) -> Result<(), Stop> {
        let found = self
            .state
            .as_ref()
            .and_then(|s| s.lookup(r.message_reference))
            .map(|s| s.remote_id.clone());
        let Some(remote_id) = found else {
            tracing::info!(connector = %self.name, mr = r.message_reference, "status report for no known send");
            self.update(|s| s.counters.unmatched_reports += 1);
            return self.release(link, &[source]).await;
        };
        let state = match r.delivery_status() {
            DeliveryStatus::Delivered => ReportState::Delivered,
            DeliveryStatus::Temporary => ReportState::Pending,
            DeliveryStatus::Permanent if r.status == 0x46 => ReportState::Expired,
            DeliveryStatus::Permanent => ReportState::Undelivered,
        };
        let heard = Heard::Report {
            remote_id,
            state,
            status: format!("{:02x}", r.status),
        };
        if self.report(heard).await {
            self.update(|s| s.counters.status_reports += 1);
            self.release(link, &[source]).await?;
        }
        Ok(())
    }

    /// Hands an event to the owner and waits until it is durable.
    async fn report(&mut self, heard: Heard) -> bool {
        let (tx, rx) = oneshot::channel();
        let ev = ModemEvent {
            heard,
            ack: Ack(tx),
        };
        if self.events.send(ev).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Deletes stored messages and acknowledges a direct one.
    async fn release(&mut self, link: &mut Link, sources: &[Source]) -> Result<(), Stop> {
        for s in sources {
            match s {
                Source::Stored(index) => {
                    let r = self.answer(link, &format!("AT+CMGD={index}")).await?;
                    if !r.is_ok() {
                        tracing::warn!(connector = %self.name, index, result = %r.result, "AT+CMGD failed");
                    }
                }
                Source::Direct if self.cnma_required => {
                    let out = self.cmd(link, "AT+CNMA", None).await?;
                    if let Outcome::Answered(r) = out
                        && !matches!(r.result, Final::Ok)
                    {
                        tracing::debug!(connector = %self.name, result = %r.result, "AT+CNMA refused");
                    }
                }
                Source::Direct => {}
            }
        }
        Ok(())
    }

    fn save_cmt_parts(&mut self) {
        // Only parts that came directly need the file; stored ones stay in the modem. The
        // reassembler does not know the source, so a part counts as direct when no storage
        // slot is recorded for its message.
        let parts: Vec<_> = self
            .reassembler
            .export_pending()
            .into_iter()
            .filter(|p| {
                !self
                    .part_slots
                    .contains_key(&(p.key.clone(), p.concat.reference, p.concat.total))
            })
            .collect();
        if let Some(state) = self.state.as_mut()
            && let Err(e) = state.set_cmt_parts(parts)
        {
            tracing::error!(connector = %self.name, error = %e, "cannot save pending parts");
        }
    }

    /// Puts the `+CMT` parts saved by a previous run back into reassembly.
    pub(super) fn restore_cmt_parts(&mut self) {
        let Some(parts) = self.state.as_ref().map(|s| s.cmt_parts().to_vec()) else {
            return;
        };
        let now = self.now_ms();
        let parts = parts
            .into_iter()
            .map(|mut p| {
                p.received_ms = now; // the driver's clock restarted: give them a full timeout
                p
            })
            .collect();
        let done = self.reassembler.import_pending(parts);
        self.restored.extend(done);
    }

    /// Reports messages that restoring saved parts completed (once the modem is ready).
    pub(super) async fn deliver_restored(&mut self, link: &mut Link) -> Result<(), Stop> {
        for done in std::mem::take(&mut self.restored) {
            self.deliver_complete(link, done, None).await?;
        }
        Ok(())
    }
}
