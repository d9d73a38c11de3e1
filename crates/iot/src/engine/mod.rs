//! The IoT engine: a plain state machine with time passed in, no I/O.
//!
//! # Calling order
//! 1. Build it from a [`Snapshot`] of the store ([`Engine::new`]).
//! 2. Feed inputs: [`Engine::handle_inbound`] for each received SMS (in store order),
//!    [`Engine::handle_timeout`] when [`Engine::poll_timeout`] is due,
//!    [`Engine::handle_message_status`] for the SMS of outstanding commands
//!    ([`Engine::awaiting_network`]), and the registry, ack and command requests.
//! 3. Take [`Engine::poll_batch`] and commit it to the store in one transaction before telling
//!    anyone the outcome. If the commit fails, drop the engine and rebuild it from the store:
//!    memory never runs ahead of what is durable.
//!
//! # Layout
//! - this module: state, construction, polling, timers, condition clocks, outgoing SMS;
//! - `registry`: devices, contacts, groups and rules: validation, create/replace, delete, list;
//! - `inbound`: SMS from devices (telemetry, replies) and from people (`ACK`, `STATUS`);
//! - `alerts`: rule evaluation, raising, escalation, acknowledgement, resolution, timers;
//! - `commands`: commands to devices and their correlation.

mod alerts;
mod commands;
mod inbound;
mod registry;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use smsgate_core::intake::{self, IntakeLimits, SendRequest};
use smsgate_core::message::{MessageId, NewMessage, Priority};

use crate::expr::Condition;
use crate::model::{
    Alert, Command, ConditionState, Contact, Device, DeviceState, DeviceType, Format, Group, Rule,
    TelemetryRecord,
};

pub use commands::CommandRequest;

/// Engine settings (`[iot]` in the config file).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Validity of alert and reply SMS: one not sent within it expires instead of arriving
    /// late (after an outage, stale alerts are not sent in a burst). Default `"1h"`.
    #[serde(with = "humantime_serde")]
    pub alert_validity: Duration,
    /// Time a device has to answer a command when the request names none. Default `"5m"`.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// Telemetry history older than this is deleted. Default `"30d"`.
    #[serde(with = "humantime_serde")]
    pub telemetry_retention: Duration,
    /// Sender id of the SMS the engine sends; default none (the connector's).
    pub sender: Option<String>,
    /// Device types whose format, pattern and commands devices inherit
    /// (`[[iot.device_types]]`).
    pub device_types: Vec<DeviceType>,
    /// Contacts created or replaced at start (`[[iot.contacts]]`).
    pub contacts: Vec<Contact>,
    /// On-call groups created or replaced at start (`[[iot.groups]]`).
    pub groups: Vec<Group>,
    /// Devices created or replaced at start (`[[iot.devices]]`).
    pub devices: Vec<Device>,
    /// Rules created or replaced at start (`[[iot.rules]]`).
    pub rules: Vec<Rule>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            alert_validity: Duration::from_secs(3600),
            command_timeout: Duration::from_secs(300),
            telemetry_retention: Duration::from_secs(30 * 24 * 3600),
            sender: None,
            device_types: Vec::new(),
            contacts: Vec::new(),
            groups: Vec::new(),
            devices: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// A device with what the engine knows of it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRow {
    /// The registry entry.
    pub device: Device,
    /// Unix ms when registered (silence is counted from here until it first speaks).
    pub created_at: i64,
    /// Last seen and last readings.
    pub state: DeviceState,
}

/// Everything the engine needs from the store at start.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Devices.
    pub devices: Vec<DeviceRow>,
    /// Contacts.
    pub contacts: Vec<Contact>,
    /// On-call groups.
    pub groups: Vec<Group>,
    /// Rules.
    pub rules: Vec<Rule>,
    /// Alerts not yet resolved.
    pub alerts: Vec<Alert>,
    /// Commands still waiting for the network or the device.
    pub commands: Vec<Command>,
    /// `for` and cooldown clocks by (rule id, device id).
    pub conditions: Vec<(String, String, ConditionState)>,
    /// Largest alert id ever given.
    pub max_alert_id: i64,
    /// Largest command id ever given.
    pub max_command_id: i64,
    /// The last inbound message the engine has taken.
    pub inbound_cursor: Option<MessageId>,
}

/// Changes to commit together, in this order: registry, states, records, messages, events.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Unix ms of the changes (`updated_at`).
    pub now: i64,
    /// Devices created or replaced.
    pub devices: Vec<Device>,
    /// Devices removed.
    pub deleted_devices: Vec<String>,
    /// Contacts created or replaced.
    pub contacts: Vec<Contact>,
    /// Contacts removed.
    pub deleted_contacts: Vec<String>,
    /// Groups created or replaced.
    pub groups: Vec<Group>,
    /// Groups removed.
    pub deleted_groups: Vec<String>,
    /// Rules created or replaced.
    pub rules: Vec<Rule>,
    /// Rules removed.
    pub deleted_rules: Vec<String>,
    /// Devices' last seen and last readings.
    pub device_states: Vec<(String, DeviceState)>,
    /// Telemetry history rows to add.
    pub telemetry: Vec<TelemetryRecord>,
    /// Alerts created or changed (insert or replace by id).
    pub alerts: Vec<Alert>,
    /// Commands created or changed (insert or replace by id).
    pub commands: Vec<Command>,
    /// Condition clocks; a default (empty) state deletes the row.
    pub conditions: Vec<(String, String, ConditionState)>,
    /// SMS to queue, already validated by intake.
    pub messages: Vec<NewMessage>,
    /// Webhook events: name and data.
    pub events: Vec<(String, serde_json::Value)>,
    /// The last inbound message taken, when it moved.
    pub inbound_cursor: Option<MessageId>,
    /// Delete telemetry received before this Unix ms.
    pub prune_telemetry_before: Option<i64>,
}

impl Batch {
    /// Nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
            && self.deleted_devices.is_empty()
            && self.contacts.is_empty()
            && self.deleted_contacts.is_empty()
            && self.groups.is_empty()
            && self.deleted_groups.is_empty()
            && self.rules.is_empty()
            && self.deleted_rules.is_empty()
            && self.device_states.is_empty()
            && self.telemetry.is_empty()
            && self.alerts.is_empty()
            && self.commands.is_empty()
            && self.conditions.is_empty()
            && self.messages.is_empty()
            && self.events.is_empty()
            && self.inbound_cursor.is_none()
            && self.prune_telemetry_before.is_none()
    }
}

/// Whether a registry write may replace an existing entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// Fail with `already_exists` when the id is taken (`POST`).
    Create,
    /// Create or replace (`PUT`, config seeding).
    Replace,
}

struct DeviceEntry {
    row: DeviceRow,
    format: Format,
    pattern: Option<Regex>,
    commands: Vec<String>,
}

struct RuleEntry {
    rule: Rule,
    condition: Option<Condition>,
    clear: Option<Condition>,
}

/// How often old telemetry is pruned.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// The engine. See the module doc for the calling order.
pub struct Engine {
    config: EngineConfig,
    limits: IntakeLimits,
    types: HashMap<String, DeviceType>,
    devices: BTreeMap<String, DeviceEntry>,
    device_numbers: HashMap<String, String>,
    contacts: BTreeMap<String, Contact>,
    contact_numbers: HashMap<String, String>,
    groups: BTreeMap<String, Group>,
    rules: BTreeMap<String, RuleEntry>,
    alerts: BTreeMap<i64, Alert>,
    commands: BTreeMap<i64, commands::Outstanding>,
    conditions: HashMap<(String, String), ConditionState>,
    next_alert_id: i64,
    next_command_id: i64,
    next_prune_at: i64,
    inbound_cursor: Option<MessageId>,
    batch: Batch,
    /// Who texted STOP: never sent to (alerts skip them and say so).
    optouts: Option<std::sync::Arc<smsgate_core::compliance::OptOuts>>,
}

impl Engine {
    /// Builds the engine from what the store holds. Entries that no longer validate (a rule
    /// whose expression this version rejects) are kept but inert, and logged.
    pub fn new(config: EngineConfig, limits: IntakeLimits, snap: Snapshot, now: i64) -> Self {
        let types = config
            .device_types
            .iter()
            .map(|t| (t.name.clone(), t.clone()))
            .collect();
        let mut e = Self {
            config,
            limits,
            types,
            devices: BTreeMap::new(),
            device_numbers: HashMap::new(),
            contacts: BTreeMap::new(),
            contact_numbers: HashMap::new(),
            groups: BTreeMap::new(),
            rules: BTreeMap::new(),
            alerts: BTreeMap::new(),
            commands: BTreeMap::new(),
            conditions: HashMap::new(),
            next_alert_id: snap.max_alert_id + 1,
            next_command_id: snap.max_command_id + 1,
            next_prune_at: now,
            inbound_cursor: snap.inbound_cursor,
            batch: Batch::default(),
            optouts: None,
        };
        for c in snap.contacts {
            e.contact_numbers.insert(c.number.clone(), c.id.clone());
            e.contacts.insert(c.id.clone(), c);
        }
        for g in snap.groups {
            e.groups.insert(g.id.clone(), g);
        }
        for row in snap.devices {
            match e.device_entry(row) {
                Ok(entry) => {
                    let d = &entry.row.device;
                    e.device_numbers.insert(d.number.clone(), d.id.clone());
                    e.devices.insert(d.id.clone(), entry);
                }
                Err(err) => tracing::error!(error = %err, "stored device no longer valid; ignored"),
            }
        }
        for r in snap.rules {
            let id = r.id.clone();
            let entry = registry::compile_rule(&r).unwrap_or_else(|err| {
                tracing::error!(rule = %id, error = %err, "stored rule no longer valid; inert");
                RuleEntry {
                    rule: Rule {
                        enabled: false,
                        ..r
                    },
                    condition: None,
                    clear: None,
                }
            });
            e.rules.insert(id, entry);
        }
        for a in snap.alerts {
            e.alerts.insert(a.id, a);
        }
        for c in snap.commands {
            let entry = commands::Outstanding::new(c);
            e.commands.insert(entry.cmd.id, entry);
        }
        for (r, d, st) in snap.conditions {
            e.conditions.insert((r, d), st);
        }
        e
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The last inbound SMS taken; the next read starts after it.
    pub fn inbound_cursor(&self) -> Option<MessageId> {
        self.inbound_cursor
    }

    /// Takes the changes to commit, if any.
    pub fn poll_batch(&mut self) -> Option<Batch> {
        if self.batch.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.batch))
    }

    /// Unix ms of the next timer (a `for` duration, escalation, silence deadline, command
    /// timeout or telemetry pruning).
    pub fn poll_timeout(&self) -> Option<i64> {
        let mut next = Some(self.next_prune_at);
        let mut take = |t: Option<i64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: i64| n.min(t)));
            }
        };
        take(self.next_condition_due());
        take(self.next_escalation_due());
        take(self.next_silence_due());
        take(self.commands.values().map(|c| c.cmd.deadline).min());
        next
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: i64) {
        self.batch.now = now;
        self.run_condition_timers(now);
        self.run_escalations(now);
        self.run_silence(now);
        self.run_command_timeouts(now);
        if now >= self.next_prune_at {
            let horizon = self.config.telemetry_retention.as_millis() as i64;
            self.batch.prune_telemetry_before = Some(now - horizon);
            self.next_prune_at = now + PRUNE_EVERY_MS;
        }
    }

    // ---- condition clocks --------------------------------------------------------------

    fn forget_conditions(&mut self, pred: impl Fn(&str, &str) -> bool) {
        let keys: Vec<(String, String)> = self
            .conditions
            .keys()
            .filter(|(r, d)| pred(r, d))
            .cloned()
            .collect();
        for (r, d) in keys {
            self.conditions.remove(&(r.clone(), d.clone()));
            self.batch
                .conditions
                .push((r, d, ConditionState::default()));
        }
    }

    fn set_condition(&mut self, key: (String, String), f: impl FnOnce(&mut ConditionState)) {
        let st = self.conditions.entry(key.clone()).or_default();
        let before = st.clone();
        f(st);
        if *st != before {
            let st = st.clone();
            if st == ConditionState::default() {
                self.conditions.remove(&key);
            }
            self.batch.conditions.push((key.0, key.1, st));
        }
    }

    // ---- outgoing SMS ------------------------------------------------------------------

    /// Queues an SMS through the same intake as the REST API. Returns its id, or `None` when
    /// intake refused it (logged: a template that renders too long, say).
    fn queue_sms(
        &mut self,
        to: &str,
        text: &str,
        encoding: Option<&str>,
        validity: Duration,
        tenant: Option<&String>,
        now: i64,
    ) -> Option<MessageId> {
        // Binary commands go as real 8-bit data (byte for byte, as the REST API's `binary`):
        // `binary` takes the command's own bytes, `hex` the octets it spells.
        let (text, encoding, binary) = match encoding {
            Some("binary") => (
                hex::encode(text.as_bytes()),
                None,
                Some(smsgate_core::message::Binary {
                    data_coding: 0x04,
                    udh: Vec::new(),
                }),
            ),
            Some("hex") => {
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                if hex::decode(&compact).is_err() {
                    tracing::warn!(to, "IoT command refused: encoding hex needs hex octets");
                    return None;
                }
                (
                    compact.to_ascii_lowercase(),
                    None,
                    Some(smsgate_core::message::Binary {
                        data_coding: 0x04,
                        udh: Vec::new(),
                    }),
                )
            }
            other => (text.to_owned(), other.map(str::to_owned), None),
        };
        let req = SendRequest {
            to: to.to_owned(),
            text,
            binary,
            from: self.config.sender.clone(),
            encoding,
            validity: Some(
                humantime::format_duration(validity.max(Duration::from_secs(1))).to_string(),
            ),
            priority: Priority::High,
            tenant: Some(crate::model::tenant_of(tenant).to_owned()),
            ..SendRequest::default()
        };
        if self.opted_out(tenant, to) {
            tracing::info!(to, "IoT SMS not sent: the recipient opted out");
            return None;
        }
        match intake::prepare(req, &self.limits, now) {
            Ok(m) => {
                let id = m.id;
                self.batch.messages.push(m);
                Some(id)
            }
            Err(e) => {
                tracing::warn!(to, code = e.code, error = %e, "IoT SMS refused by intake");
                None
            }
        }
    }

    /// Uses the gateway's opt-outs: the engine's SMS go to nobody who texted STOP.
    pub fn set_optouts(&mut self, optouts: std::sync::Arc<smsgate_core::compliance::OptOuts>) {
        self.optouts = Some(optouts);
    }

    /// Whether `number` opted out of `tenant`'s messages.
    fn opted_out(&self, tenant: Option<&String>, number: &str) -> bool {
        self.optouts.as_ref().is_some_and(|o| {
            o.blocks(
                crate::model::tenant_of(tenant),
                number,
                self.config.sender.as_deref(),
            )
        })
    }

    fn event(&mut self, name: &str, data: serde_json::Value) {
        self.batch.events.push((name.to_owned(), data));
    }
}

/// `5 min ago` — an age for SMS replies.
pub fn ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests;
