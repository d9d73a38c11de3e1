//! The registry and the records the engine keeps: devices, contacts, on-call groups, rules,
//! alerts, commands and telemetry. Plain serde types: the API shows them as JSON, the store keeps
//! the registry entries as JSON documents, and the config file seeds them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smsgate_core::message::MessageId;
use smsgate_core::number::Msisdn;
use utoipa::ToSchema;

use crate::error::IotError;

/// How a device's SMS are read into readings (see [`crate::telemetry`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// JSON when the text starts with `{`, `key=value` pairs otherwise. A text that yields no
    /// reading is kept as `unparsed`.
    #[default]
    Auto,
    /// `key=value` pairs separated by `;`, `,` or spaces. A mismatch is `suspicious`.
    Kv,
    /// A JSON object. A mismatch is `suspicious`.
    Json,
    /// The device's (or its type's) `pattern`, a regular expression with named captures. A
    /// mismatch is `suspicious`.
    Regex,
}

/// A device that reports by SMS and may take commands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Stable id used in URLs and in `STATUS <id>` texts (letters, digits, `.`, `_`, `-`).
    pub id: String,
    /// Display name, shown in alert texts; defaults to the id.
    #[serde(default)]
    pub name: String,
    /// The SIM's number (E.164). Only SMS from this number are the device's.
    pub number: String,
    /// Group of devices, for rule scopes (`device_group`).
    #[serde(default)]
    pub group: Option<String>,
    /// Tags, for rule scopes (`tag`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// A `[[iot.device_types]]` name whose format, pattern and commands apply unless the device
    /// sets its own.
    #[serde(default)]
    pub device_type: Option<String>,
    /// How its SMS are parsed; `auto` (default) or the device type's.
    #[serde(default)]
    pub format: Option<Format>,
    /// Regular expression with named captures, for `format = "regex"`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Shared secret: when set, every SMS must start with it as its first word, or it is
    /// flagged `suspicious` and not trusted. Never shown by the API.
    #[serde(default)]
    pub secret: Option<String>,
    /// Command words the device accepts (first word of a command, case-insensitive); empty
    /// means any.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Expected time between two messages; silent-device rules raise when it passes.
    #[serde(default, with = "humantime_serde")]
    #[schema(value_type = Option<String>, example = "1h")]
    pub heartbeat: Option<Duration>,
    /// Free-form data, visible to rule conditions and templates as `device.metadata`.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The tenant it belongs to (scopes listings, rules and webhooks); `None`: `default`.
    /// Set by the gateway from the key that registers it; config entries may name it.
    #[serde(default, rename = "tenant", alias = "owner")]
    pub owner: Option<String>,
}

/// Settings shared by devices of one kind (`[[iot.device_types]]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceType {
    /// The name devices refer to in `device_type`.
    pub name: String,
    /// How SMS of this type are parsed.
    #[serde(default)]
    pub format: Format,
    /// Regular expression with named captures, for `format = "regex"`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Command words devices of this type accept.
    #[serde(default)]
    pub commands: Vec<String>,
}

/// A person who can be alerted and may answer by SMS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Stable id.
    pub id: String,
    /// Name, shown as who acknowledged.
    #[serde(default)]
    pub name: String,
    /// Mobile number (E.164); SMS from it are read as `ACK` / `STATUS` replies.
    pub number: String,
    /// When set, an `ACK` from this contact must carry it (`ACK 42 7391`): for sites where a
    /// sender number can be spoofed. The API never shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// The tenant it belongs to; `None`: `default`. Set by the gateway from the key.
    #[serde(default, rename = "tenant", alias = "owner")]
    pub owner: Option<String>,
}

/// One step of an escalation: who is told, and how long they have to acknowledge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Contact ids told at this level.
    pub contacts: Vec<String>,
    /// Time to acknowledge before the next level is told. Default `"15m"`.
    #[serde(default = "default_level_delay", with = "humantime_serde")]
    #[schema(value_type = String, example = "5m")]
    pub delay: Duration,
}

fn default_level_delay() -> Duration {
    Duration::from_secs(15 * 60)
}

/// An on-call group: ordered escalation levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Stable id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Levels in escalation order; the first is told when an alert is raised.
    pub levels: Vec<Level>,
    /// Whether members may text `STATUS <device>` to get the last readings of the devices
    /// this group's rules cover.
    #[serde(default)]
    pub allow_status: bool,
    /// The tenant it belongs to; `None`: `default`. Set by the gateway from the key.
    #[serde(default, rename = "tenant", alias = "owner")]
    pub owner: Option<String>,
}

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention (default).
    #[default]
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// What a rule watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A condition over the device's last readings.
    #[default]
    Condition,
    /// No message from the device within its heartbeat interval (or the rule's `silence`).
    Silence,
}

/// A command a rule sends to the device when it raises an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The command text.
    pub command: String,
    /// Regular expression the device's reply must match to acknowledge it.
    #[serde(default)]
    pub expect: Option<String>,
}

/// An alert rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id.
    pub id: String,
    /// Display name, shown in alert texts.
    #[serde(default)]
    pub name: String,
    /// Disabled rules raise nothing. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `condition` (default) or `silence`.
    #[serde(default)]
    pub kind: RuleKind,
    /// CEL expression over the readings, e.g. `temp > 80 && pressure < 2`. Required for
    /// `kind = "condition"`.
    #[serde(default)]
    pub condition: Option<String>,
    /// CEL expression that resolves the alert (hysteresis, e.g. `temp < 75`); default: the
    /// condition no longer holds.
    #[serde(default)]
    pub clear: Option<String>,
    /// Only this device.
    #[serde(default)]
    pub device: Option<String>,
    /// Only devices of this group.
    #[serde(default)]
    pub device_group: Option<String>,
    /// Only devices with this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// How long the condition must hold before the alert is raised. Default `"0s"`.
    #[serde(default, rename = "for", with = "humantime_serde")]
    #[schema(value_type = String, example = "2m")]
    pub for_: Duration,
    /// After a resolution, no new alert of this rule for the same device for this long.
    /// Default `"0s"`.
    #[serde(default, with = "humantime_serde")]
    #[schema(value_type = String, example = "10m")]
    pub cooldown: Duration,
    /// Severity of its alerts.
    #[serde(default)]
    pub severity: Severity,
    /// On-call group told, level by level, until someone acknowledges.
    #[serde(default)]
    pub group: Option<String>,
    /// Further contacts told when the alert is raised (no escalation).
    #[serde(default)]
    pub contacts: Vec<String>,
    /// Alert SMS template (minijinja), e.g. `{{device.name}}: temperature {{temp}} C`.
    #[serde(default)]
    pub template: Option<String>,
    /// Send an SMS to everyone told when the alert resolves.
    #[serde(default)]
    pub notify_resolved: bool,
    /// Template of that SMS.
    #[serde(default)]
    pub resolved_template: Option<String>,
    /// For `kind = "silence"`: the allowed silence; default the device's `heartbeat`.
    #[serde(default, with = "humantime_serde")]
    #[schema(value_type = Option<String>, example = "1h")]
    pub silence: Option<Duration>,
    /// Validity of its SMS: an alert SMS not sent within it expires instead of arriving late.
    /// Default `iot.alert_validity`.
    #[serde(default, with = "humantime_serde")]
    #[schema(value_type = Option<String>, example = "1h")]
    pub validity: Option<Duration>,
    /// Command sent to the device when the alert is raised.
    #[serde(default)]
    pub action: Option<Action>,
    /// The tenant it belongs to (only that tenant's devices, groups and contacts take part);
    /// `None`: `default`. Set by the gateway from the key that creates it.
    #[serde(default, rename = "tenant", alias = "owner")]
    pub owner: Option<String>,
}

fn yes() -> bool {
    true
}

/// Where an alert stands: `open` → `acknowledged` → `resolved`, or `open` → `resolved`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised, nobody acknowledged yet; escalates.
    Open,
    /// Someone took it; no more escalation.
    Acknowledged,
    /// The clear condition held (or the device spoke again, for a silence alert).
    Resolved,
}

impl AlertState {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Parses [`AlertState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Resolved]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// An alert raised by a rule for a device. Ids are small integers so people can text
/// `ACK 42`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Number.
    pub id: i64,
    /// The rule.
    pub rule_id: String,
    /// The device.
    pub device_id: String,
    /// `condition` or `silence`.
    pub kind: RuleKind,
    /// Severity.
    pub severity: Severity,
    /// State.
    pub state: AlertState,
    /// Escalation level reached (0 = first level).
    pub level: u32,
    /// The alert SMS text.
    pub text: String,
    /// The readings when it was raised.
    #[schema(value_type = Object)]
    pub readings: BTreeMap<String, Reading>,
    /// Unix ms.
    pub raised_at: i64,
    /// Unix ms.
    pub acked_at: Option<i64>,
    /// Contact id, or `api:<key id>`.
    pub acked_by: Option<String>,
    /// Unix ms.
    pub resolved_at: Option<i64>,
    /// Unix ms when the next level is told if nobody acknowledges.
    pub next_escalation_at: Option<i64>,
    /// Contact ids told so far.
    pub notified: Vec<String>,
    /// Contact ids not told because they opted out (texted STOP) of the tenant.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// The tenant of its rule (scopes listings and webhooks).
    pub owner: Option<String>,
}

/// Where a command stands: `pending → sent → acknowledged | failed | timed_out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Queued as an SMS.
    Pending,
    /// The network accepted the SMS.
    Sent,
    /// The device answered with the expected reply.
    Acknowledged,
    /// The SMS failed, or the device answered with an error.
    Failed,
    /// No matching reply within the timeout.
    TimedOut,
}

impl CommandState {
    /// The lower-case name (also the webhook event suffix, `command.timed_out`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Acknowledged => "acknowledged",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
        }
    }

    /// Parses [`CommandState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Sent,
            Self::Acknowledged,
            Self::Failed,
            Self::TimedOut,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Still waiting for the device.
    pub fn is_outstanding(self) -> bool {
        matches!(self, Self::Pending | Self::Sent)
    }
}

/// How a command travels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandEncoding {
    /// A normal text SMS.
    #[default]
    Text,
    /// 8-bit data (data coding 0x04): the command's bytes as they are.
    Binary,
    /// 8-bit data given as hex (`command = "0a1b2c"`): arbitrary octets for device
    /// protocols, sent byte for byte.
    Hex,
}

/// A command sent to a device and its correlated reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Command {
    /// Number.
    pub id: i64,
    /// The device.
    pub device_id: String,
    /// What was sent.
    pub command: String,
    /// Text or binary.
    pub encoding: CommandEncoding,
    /// State.
    pub state: CommandState,
    /// The SMS that carries it.
    #[schema(value_type = Option<String>)]
    pub message_id: Option<MessageId>,
    /// Regular expression a reply must match to acknowledge (any reply when absent).
    pub expect: Option<String>,
    /// Regular expression that marks a reply as an error.
    pub error_pattern: Option<String>,
    /// The device's reply.
    pub reply: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last change.
    pub updated_at: i64,
    /// Unix ms after which it times out.
    pub deadline: i64,
    /// The alert whose rule action sent it.
    pub alert_id: Option<i64>,
    /// The tenant of the device it was sent to.
    pub owner: Option<String>,
}

/// One reading: a value as the device sent it and its unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// A number, string or boolean.
    pub value: serde_json::Value,
    /// The unit written after a number (`C` in `T=85.2C`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// How an inbound SMS from a device was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TelemetryStatus {
    /// Readings parsed and fed to the rules.
    Ok,
    /// No reading found; kept for people to read.
    Unparsed,
    /// Failed the device's secret or format check: kept, not trusted.
    Suspicious,
    /// The device's answer to a command.
    Reply,
}

impl TelemetryStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unparsed => "unparsed",
            Self::Suspicious => "suspicious",
            Self::Reply => "reply",
        }
    }

    /// Parses [`TelemetryStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ok, Self::Unparsed, Self::Suspicious, Self::Reply]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One inbound SMS of a device, as history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TelemetryRecord {
    /// The device.
    pub device_id: String,
    /// The inbound message.
    #[schema(value_type = String)]
    pub inbound_id: MessageId,
    /// Unix ms.
    pub received_at: i64,
    /// How it was taken.
    pub status: TelemetryStatus,
    /// The text (with a secret first word removed).
    pub text: String,
    /// The readings found.
    #[schema(value_type = Object)]
    pub readings: BTreeMap<String, Reading>,
    /// Why it is unparsed or suspicious.
    pub reason: Option<String>,
}

/// What the engine knows of a device at run time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceState {
    /// Unix ms of the last trusted message.
    pub last_seen_at: Option<i64>,
    /// Latest value of each reading.
    #[schema(value_type = Object)]
    pub readings: BTreeMap<String, Reading>,
    /// Unix ms of the latest reading.
    pub readings_at: Option<i64>,
}

/// A registry entry as stored: the document and when it was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored<T> {
    /// The entry.
    pub value: T,
    /// Unix ms.
    pub created_at: i64,
}

/// Condition timers of one rule for one device, kept across restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConditionState {
    /// Unix ms since when the condition holds (the `for` clock).
    pub pending_since: Option<i64>,
    /// Unix ms of the last resolution (the cooldown clock).
    pub last_resolved_at: Option<i64>,
}

/// Checks an id: 1–64 letters, digits, `.`, `_` or `-`.
pub fn check_id(kind: &str, id: &str) -> Result<(), IotError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(IotError::invalid(
            "invalid_id",
            format!("{kind} id '{id}': use 1 to 64 letters, digits, '.', '_' or '-'"),
        ))
    }
}

/// Normalises a phone number to E.164 or says what is wrong with it.
pub fn check_number(number: &str) -> Result<String, IotError> {
    Msisdn::parse(number)
        .map(|m| m.as_str().to_owned())
        .map_err(|e| IotError::invalid("invalid_number", e.to_string()))
}

/// The tenant an object's `owner` names: `default` when it names none.
pub fn tenant_of(owner: Option<&String>) -> &str {
    owner.map_or(smsgate_core::store::DEFAULT_TENANT, String::as_str)
}
