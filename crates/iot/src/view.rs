//! How alerts, commands, telemetry and devices look to the outside (API responses and webhook
//! `data`): RFC 3339 times, 1-based escalation levels, secrets withheld, the owning
//! `tenant` named (it scopes webhooks to that tenant's subscriptions).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use smsgate_core::clock::rfc3339;
use utoipa::ToSchema;

use crate::engine::DeviceRow;
use crate::model::{
    Alert, AlertState, Command, CommandEncoding, CommandState, Device, Reading, RuleKind, Severity,
    TelemetryRecord, TelemetryStatus,
};

fn time(t: Option<i64>) -> Option<String> {
    t.map(rfc3339)
}

/// An alert as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// Number (what people text after `ACK`).
    pub id: i64,
    /// The rule.
    pub rule_id: String,
    /// The device.
    pub device_id: String,
    /// `condition` or `silence`.
    pub kind: RuleKind,
    /// Severity.
    pub severity: Severity,
    /// `open`, `acknowledged` or `resolved`.
    pub state: AlertState,
    /// Escalation level reached, from 1.
    pub level: u32,
    /// The alert SMS text.
    pub text: String,
    /// Readings when raised.
    #[schema(value_type = Object)]
    pub readings: BTreeMap<String, Reading>,
    /// RFC 3339.
    pub raised_at: String,
    /// RFC 3339.
    pub acknowledged_at: Option<String>,
    /// Contact id or `api:<key id>`.
    pub acknowledged_by: Option<String>,
    /// RFC 3339.
    pub resolved_at: Option<String>,
    /// RFC 3339: when the next level is told if nobody acknowledges.
    pub next_escalation_at: Option<String>,
    /// Contact ids told so far.
    pub notified: Vec<String>,
    /// Contact ids not told because they opted out.
    pub skipped: Vec<String>,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> Self {
        Self {
            id: a.id,
            rule_id: a.rule_id.clone(),
            device_id: a.device_id.clone(),
            kind: a.kind,
            severity: a.severity,
            state: a.state,
            level: a.level + 1,
            text: a.text.clone(),
            readings: a.readings.clone(),
            raised_at: rfc3339(a.raised_at),
            acknowledged_at: time(a.acked_at),
            acknowledged_by: a.acked_by.clone(),
            resolved_at: time(a.resolved_at),
            next_escalation_at: time(a.next_escalation_at),
            notified: a.notified.clone(),
            skipped: a.skipped.clone(),
        }
    }
}

/// The `data` of `alert.*` webhooks.
pub fn alert_event(a: &Alert, device_name: &str, rule_name: &str) -> Value {
    let mut v = serde_json::to_value(AlertView::from(a)).unwrap_or(Value::Null);
    v["device_name"] = json!(device_name);
    v["rule_name"] = json!(rule_name);
    v["tenant"] = json!(crate::model::tenant_of(a.owner.as_ref()));
    v
}

/// A command as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommandView {
    /// Number.
    pub id: i64,
    /// The device.
    pub device_id: String,
    /// What was sent.
    pub command: String,
    /// `text` or `binary`.
    pub encoding: CommandEncoding,
    /// `pending`, `sent`, `acknowledged`, `failed` or `timed_out`.
    pub state: CommandState,
    /// The SMS carrying it (see `/v1/messages/{id}`).
    pub message_id: Option<String>,
    /// Expected reply pattern.
    pub expect: Option<String>,
    /// Error reply pattern.
    pub error_pattern: Option<String>,
    /// The device's reply.
    pub reply: Option<String>,
    /// Why it failed or timed out.
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// RFC 3339: it times out then.
    pub deadline: String,
    /// The alert whose rule sent it.
    pub alert_id: Option<i64>,
}

impl From<&Command> for CommandView {
    fn from(c: &Command) -> Self {
        Self {
            id: c.id,
            device_id: c.device_id.clone(),
            command: c.command.clone(),
            encoding: c.encoding,
            state: c.state,
            message_id: c.message_id.map(|m| m.to_string()),
            expect: c.expect.clone(),
            error_pattern: c.error_pattern.clone(),
            reply: c.reply.clone(),
            error: c.error.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            deadline: rfc3339(c.deadline),
            alert_id: c.alert_id,
        }
    }
}

/// The `data` of `command.*` webhooks.
pub fn command_json(c: &Command) -> Value {
    let mut v = serde_json::to_value(CommandView::from(c)).unwrap_or(Value::Null);
    v["tenant"] = json!(crate::model::tenant_of(c.owner.as_ref()));
    v
}

/// One telemetry history entry as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TelemetryView {
    /// The device.
    pub device_id: String,
    /// The inbound message (see `/v1/inbound`).
    pub inbound_id: String,
    /// RFC 3339.
    pub received_at: String,
    /// `ok`, `unparsed`, `suspicious` or `reply`.
    pub status: TelemetryStatus,
    /// The text (secret removed).
    pub text: String,
    /// Readings found.
    #[schema(value_type = Object)]
    pub readings: BTreeMap<String, Reading>,
    /// Why it was not taken as readings.
    pub reason: Option<String>,
}

impl From<&TelemetryRecord> for TelemetryView {
    fn from(t: &TelemetryRecord) -> Self {
        Self {
            device_id: t.device_id.clone(),
            inbound_id: t.inbound_id.to_string(),
            received_at: rfc3339(t.received_at),
            status: t.status,
            text: t.text.clone(),
            readings: t.readings.clone(),
            reason: t.reason.clone(),
        }
    }
}

/// The `data` of `device.telemetry` webhooks.
pub fn telemetry_event(t: &TelemetryRecord, tenant: &str) -> Value {
    let mut v = serde_json::to_value(TelemetryView::from(t)).unwrap_or(Value::Null);
    v["tenant"] = json!(tenant);
    v
}

/// A device as the API shows it: the registry entry (secret withheld) and what it last said.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// The registry entry; `secret` is always null here.
    #[serde(flatten)]
    pub device: Device,
    /// Whether a shared secret is set.
    pub has_secret: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339 of the last trusted message.
    pub last_seen_at: Option<String>,
    /// Latest value of each reading.
    #[schema(value_type = Object)]
    pub readings: BTreeMap<String, Reading>,
    /// RFC 3339 of the latest reading.
    pub readings_at: Option<String>,
}

impl From<&DeviceRow> for DeviceView {
    fn from(r: &DeviceRow) -> Self {
        let mut device = r.device.clone();
        let has_secret = device.secret.take().is_some();
        Self {
            device,
            has_secret,
            created_at: rfc3339(r.created_at),
            last_seen_at: time(r.state.last_seen_at),
            readings: r.state.readings.clone(),
            readings_at: time(r.state.readings_at),
        }
    }
}

/// A contact as the API shows it: the registry entry with its PIN withheld.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    /// The registry entry; `pin` is never shown.
    #[serde(flatten)]
    pub contact: crate::model::Contact,
    /// Whether an ACK from this contact needs its PIN.
    pub has_pin: bool,
}

impl From<&crate::model::Contact> for ContactView {
    fn from(c: &crate::model::Contact) -> Self {
        let mut contact = c.clone();
        let has_pin = contact.pin.take().is_some();
        Self { contact, has_pin }
    }
}
