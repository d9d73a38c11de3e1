//! The simulated network behind [`SimModem`]: an SMS-SUBMIT sent with `AT+CMGS`, and the
//! messages and status reports handed to the terminal as `+CNMI` asks (direct, or stored and
//! announced).

use std::time::Instant;

use smsgate_sms::tpdu::{SmsStatusReport, Tpdu, parse_modem_pdu};

use super::{Fail, Hang, ReportOutcome, SentPart, Sim, SimModem, Stored, Timer};

impl SimModem {
    pub(super) fn on_pdu(&mut self, len: usize, pdu: &[u8], now: Instant) {
        let hex = String::from_utf8_lossy(pdu).into_owned();
        for (from, text) in std::mem::take(&mut self.mo_during_next_send) {
            let _ = self.inject_mo(&from, &text, now);
        }
        if let Some(code) = self.fail_next_send.take() {
            self.respond(now, &[], Err(Fail::Cms(code)));
            return;
        }
        let submit = match parse_modem_pdu(&hex, Some(len)) {
            Ok(m) => match m.tpdu {
                Tpdu::Submit(s) => s,
                _ => return self.respond(now, &[], Err(Fail::Cms(304))),
            },
            Err(_) => return self.respond(now, &[], Err(Fail::Cms(304))),
        };
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        // `Address`'s Display is the gateway's form (`+` for international numbers).
        let to = submit.destination.to_string();
        self.stats.sent.push(SentPart {
            mr,
            to,
            text: submit.user_data.text().unwrap_or_default(),
            concat: submit.user_data.concat(),
            status_report_requested: submit.status_report_request,
        });
        if submit.status_report_request && self.config.report != ReportOutcome::None {
            let ts = self.timestamp(now);
            let report = SmsStatusReport {
                more_messages_to_send: false,
                loop_prevention: false,
                status_report_qualifier: false,
                message_reference: mr,
                recipient: submit.destination.clone(),
                timestamp: ts,
                discharge_time: self.timestamp(now + self.config.report_delay),
                status: match self.config.report {
                    ReportOutcome::Delivered => 0x00,
                    _ => 0x41,
                },
                parameter_indicator: None,
                protocol_identifier: None,
                dcs: None,
                user_data: None,
            };
            if let Ok(tpdu) = report.encode() {
                self.timers
                    .push((now + self.config.report_delay, Timer::Report(tpdu)));
            }
        }
        self.respond(now, &[format!("+CMGS: {mr}")], Ok(()));
    }

    pub(super) fn store(&mut self, tpdu: Vec<u8>) -> Option<u32> {
        let index =
            (1..=self.config.storage_slots as u32).find(|i| !self.storage.contains_key(i))?;
        self.storage.insert(index, Stored { stat: 0, tpdu });
        Some(index)
    }

    /// Hands waiting messages and reports to the terminal as `+CNMI` says.
    pub(super) fn flush_network(&mut self, now: Instant) {
        while let Some(tpdu) = self.network.front().cloned() {
            if self.sim != Sim::Ready {
                return;
            }
            let is_report = tpdu.first().is_some_and(|b| b & 0x03 == 0x02);
            let direct = if is_report {
                self.ds == 1
            } else {
                self.mt == 2 || self.mt == 3
            };
            if is_report && self.ds == 0 {
                self.network.pop_front(); // status reports not wanted: dropped by the network
                continue;
            }
            if direct {
                if self.hang != Hang::No || self.awaiting_ack.is_some() {
                    return;
                }
                self.network.pop_front();
                let (len, hex) = self.with_smsc(&tpdu);
                let head = if is_report {
                    format!("+CDS: {len}")
                } else {
                    format!("+CMT: ,{len}")
                };
                self.urc(now, format!("\r\n{head}\r\n{hex}\r\n"));
                if is_report {
                    self.stats.reports += 1;
                }
                if self.csms == 1 {
                    let tag = self.next_ack_tag;
                    self.next_ack_tag += 1;
                    self.awaiting_ack = Some((tag, tpdu));
                    self.timers
                        .push((now + self.config.ack_timeout, Timer::CnmaTimeout(tag)));
                }
                continue;
            }
            let Some(index) = self.store(tpdu) else {
                return; // storage full: the network keeps it
            };
            self.network.pop_front();
            if is_report {
                self.stats.reports += 1;
            }
            let announce = if is_report {
                self.ds == 2
            } else {
                self.mt == 1
            };
            if announce && self.hang == Hang::No {
                let urc = if is_report { "+CDSI" } else { "+CMTI" };
                self.urc(now, format!("\r\n{urc}: \"SM\",{index}\r\n"));
            }
        }
    }
}
