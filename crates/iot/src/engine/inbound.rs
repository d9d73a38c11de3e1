//! Inbound SMS: from a registered device (secret check, command replies, telemetry) or from a
//! contact (`ACK`, `ACK 42`, `STATUS pump-3`). Messages from other numbers are not the engine's.

use smsgate_core::message::InboundMessage;
use smsgate_core::number::Msisdn;

use super::alerts::rule_covers;
use super::{Engine, ago};
use crate::model::{AlertState, Format, TelemetryRecord, TelemetryStatus, tenant_of};
use crate::reply::{self, PersonCommand};
use crate::telemetry::{self, Readings, summary};
use crate::view;

impl Engine {
    /// Takes one received SMS. Call in store order; it moves the inbound cursor.
    pub fn handle_inbound(&mut self, msg: &InboundMessage, now: i64) {
        self.batch.now = now;
        self.batch.inbound_cursor = Some(msg.id);
        self.inbound_cursor = Some(msg.id);
        let from = Msisdn::parse(&msg.from)
            .map(|m| m.as_str().to_owned())
            .unwrap_or_else(|_| msg.from.clone());
        if let Some(device_id) = self.device_numbers.get(&from).cloned() {
            self.device_message(&device_id, msg, now);
        } else if let Some(contact_id) = self.contact_numbers.get(&from).cloned() {
            self.person_message(&contact_id, &msg.text, now);
        }
    }

    fn device_message(&mut self, device_id: &str, msg: &InboundMessage, now: i64) {
        let Some(entry) = self.devices.get(device_id) else {
            return;
        };
        let mut record = TelemetryRecord {
            device_id: device_id.to_owned(),
            inbound_id: msg.id,
            received_at: msg.received_at,
            status: TelemetryStatus::Ok,
            text: msg.text.clone(),
            readings: Readings::new(),
            reason: None,
        };
        // The shared secret is the first word; it is never kept.
        if let Some(secret) = &entry.row.device.secret {
            let mut parts = msg.text.trim_start().splitn(2, char::is_whitespace);
            let first = parts.next().unwrap_or("");
            if first != secret {
                record.text = "(withheld: secret check failed)".into();
                record.status = TelemetryStatus::Suspicious;
                record.reason = Some("the first word is not the device's secret".into());
                tracing::info!(
                    device = device_id,
                    "SMS from a device number failed its secret check"
                );
                self.record(record);
                return;
            }
            record.text = parts.next().unwrap_or("").trim().to_owned();
        }
        let parsed = telemetry::parse(&record.text, entry.format, entry.pattern.as_ref());
        let format = entry.format;
        if self.take_reply(device_id, &record.text, now) {
            record.status = TelemetryStatus::Reply;
            self.seen(device_id, None, msg.received_at, now);
            self.record(record);
            return;
        }
        match parsed {
            Ok(readings) => {
                record.readings = readings.clone();
                self.seen(device_id, Some(readings), msg.received_at, now);
                self.record(record);
                self.evaluate_device(device_id, now);
            }
            Err(e) if format == Format::Auto => {
                record.status = TelemetryStatus::Unparsed;
                record.reason = Some(e.to_string());
                self.seen(device_id, None, msg.received_at, now);
                self.record(record);
            }
            Err(e) => {
                record.status = TelemetryStatus::Suspicious;
                record.reason = Some(format!("format check failed: {e}"));
                self.record(record);
            }
        }
    }

    /// A trusted message arrived: last seen, merged readings, silence alerts resolved.
    fn seen(&mut self, device_id: &str, readings: Option<Readings>, at: i64, now: i64) {
        let Some(entry) = self.devices.get_mut(device_id) else {
            return;
        };
        let st = &mut entry.row.state;
        st.last_seen_at = Some(st.last_seen_at.map_or(at, |t| t.max(at)));
        if let Some(r) = readings {
            // Merged with what it said before, but never past the bound: a device that keeps
            // inventing names keeps only its latest message's readings.
            if st.readings.len() + r.len() > crate::telemetry::MAX_READINGS {
                st.readings.retain(|k, _| r.contains_key(k));
            }
            // (One message carries at most MAX_READINGS: parsing refuses more.)
            st.readings.extend(r);
            st.readings_at = Some(at);
        }
        let st = st.clone();
        self.batch.device_states.retain(|(d, _)| d != device_id);
        self.batch.device_states.push((device_id.to_owned(), st));
        self.device_spoke(device_id, now);
    }

    fn record(&mut self, record: TelemetryRecord) {
        let owner = self
            .devices
            .get(&record.device_id)
            .and_then(|d| d.row.device.owner.clone());
        self.event(
            "device.telemetry",
            view::telemetry_event(&record, tenant_of(owner.as_ref())),
        );
        self.batch.telemetry.push(record);
    }

    fn person_message(&mut self, contact_id: &str, text: &str, now: i64) {
        let mut command = reply::parse(text);
        // `ACK 1 2` from a contact without a PIN means nothing we know: ignored, as always.
        if matches!(command, PersonCommand::Ack(_, Some(_)))
            && self
                .contacts
                .get(contact_id)
                .is_some_and(|c| c.pin.is_none())
        {
            command = PersonCommand::Other;
        }
        // A contact with a PIN acknowledges with `ACK <alert> <PIN>` only: where a sender
        // number can be spoofed, the number alone does not stop an alert's escalation.
        let pin = self.contacts.get(contact_id).and_then(|c| c.pin.clone());
        if let (Some(pin), PersonCommand::Ack(id, given)) = (&pin, &command)
            && !given.as_deref().is_some_and(|g| same_secret(g, pin))
        {
            tracing::info!(
                contact = contact_id,
                "ACK without the contact's PIN refused"
            );
            let answer = match id {
                Some(id) => format!("Alert {id} not acknowledged: reply ACK {id} <your PIN>."),
                None => "Not acknowledged: reply ACK <alert number> <your PIN>.".to_owned(),
            };
            return self.answer_contact(contact_id, &answer, now);
        }
        let answer = match command {
            PersonCommand::Ack(None, _) => {
                let open = self.open_alerts_of(contact_id);
                match open.as_slice() {
                    [] => "No open alert to acknowledge.".to_owned(),
                    [id] => self.ack_by_sms(*id, contact_id, now),
                    many => {
                        let lines: Vec<String> =
                            many.iter().take(5).map(|id| self.alert_line(*id)).collect();
                        format!(
                            "{} open alerts: {}. Reply ACK <number>.",
                            many.len(),
                            lines.join("; ")
                        )
                    }
                }
            }
            PersonCommand::Ack(Some(id), _) => match self.alerts.get(&id) {
                Some(a) if !self.may_ack(contact_id, a) => format!("Alert {id} is not yours."),
                Some(a) if a.state == AlertState::Acknowledged => format!(
                    "Alert {id} was already acknowledged by {}.",
                    a.acked_by.as_deref().unwrap_or("someone")
                ),
                Some(_) => self.ack_by_sms(id, contact_id, now),
                None => format!("Alert {id} is not open."),
            },
            PersonCommand::Status(name) => self.status_text(contact_id, &name, now),
            PersonCommand::Other => {
                tracing::debug!(contact = contact_id, "SMS from a contact ignored");
                return;
            }
        };
        self.answer_contact(contact_id, &answer, now);
    }

    /// Texts `answer` back to a contact.
    fn answer_contact(&mut self, contact_id: &str, answer: &str, now: i64) {
        let Some((number, owner)) = self
            .contacts
            .get(contact_id)
            .map(|c| (c.number.clone(), c.owner.clone()))
        else {
            return;
        };
        let validity = self.config.alert_validity;
        self.queue_sms(&number, answer, None, validity, owner.as_ref(), now);
    }

    fn ack_by_sms(&mut self, id: i64, contact_id: &str, now: i64) -> String {
        let line = self.alert_line(id);
        match self.ack(id, contact_id, now) {
            Ok(_) => format!("Acknowledged: {line}."),
            Err(e) => e.to_string(),
        }
    }

    /// `STATUS <device>`: only for members of a group with `allow_status`, and only about the
    /// devices that group's rules cover (in the contact's own tenant): a number that can text
    /// the gateway learns nothing about other sites' devices.
    fn status_text(&self, contact_id: &str, name: &str, now: i64) -> String {
        let groups: Vec<&str> = self
            .groups
            .values()
            .filter(|g| {
                g.allow_status
                    && g.levels
                        .iter()
                        .any(|l| l.contacts.iter().any(|c| c == contact_id))
            })
            .map(|g| g.id.as_str())
            .collect();
        if groups.is_empty() {
            return "STATUS is not enabled for you (ask for allow_status on your group).".into();
        }
        let wanted = name.trim();
        let Some(dev) = self.devices.values().find(|d| {
            (d.row.device.id.eq_ignore_ascii_case(wanted)
                || d.row.device.name.eq_ignore_ascii_case(wanted))
                && self.rules.values().any(|r| {
                    r.rule.group.as_deref().is_some_and(|g| groups.contains(&g))
                        && rule_covers(&r.rule, &d.row.device)
                })
        }) else {
            return format!("Unknown device '{wanted}'.");
        };
        let d = &dev.row.device;
        let st = &dev.row.state;
        let readings = if st.readings.is_empty() {
            "no readings".to_owned()
        } else {
            format!(
                "{} ({})",
                summary(&st.readings),
                ago(now - st.readings_at.unwrap_or(now))
            )
        };
        let open = self.alerts.values().filter(|a| a.device_id == d.id).count();
        let seen = match st.last_seen_at {
            Some(t) => ago(now - t),
            None => "never".into(),
        };
        format!(
            "{}: {readings}; last seen {seen}; open alerts: {open}",
            d.name
        )
    }
}

/// Compares a given PIN with the stored one in time independent of where they differ.
fn same_secret(given: &str, stored: &str) -> bool {
    let (a, b) = (given.as_bytes(), stored.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
