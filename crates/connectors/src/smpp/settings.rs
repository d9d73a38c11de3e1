//! The keys of a `type = "smpp"` `[[connectors]]` entry, with their defaults, and their
//! translation into the `smsgate-smpp` supervisor configuration.

use std::path::PathBuf;
use std::time::Duration;

use rusmpp::values::{InterfaceVersion, Npi, Ton};
use serde::Deserialize;
use smsgate_smpp::client::ClientConfig;
use smsgate_smpp::receipt::{IdRadix, MessageIdFormat};
use smsgate_smpp::session::{BindParams, BindType, SessionConfig};
use smsgate_smpp::supervisor::SupervisorConfig;
use smsgate_smpp::tls::ClientTls;
use smsgate_sms::{Concat, Encoding};

use crate::InvalidSetting;

macro_rules! bail {
    ($($t:tt)*) => {
        return Err(InvalidSetting(format!($($t)*)))
    };
}

/// One SMPP carrier link (SPEC `[[connectors]]` with `type = "smpp"`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppSettings {
    /// SMSC host name or address. Required.
    pub host: String,
    /// SMSC port. Default 2775, or 3550 with `tls = true`.
    #[serde(default)]
    pub port: Option<u16>,
    /// SMPP over TLS (rustls; TLS 1.2 and 1.3). Default false.
    #[serde(default)]
    pub tls: bool,
    /// PEM file with the CA certificates that may sign the SMSC's certificate. Default: the
    /// public web roots (Mozilla's list), which fits SMSCs with a public certificate.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// The name the SMSC's certificate must carry. Default: `host`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// PEM certificate chain for SMSCs that require a client certificate (mutual TLS).
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of `tls_cert_file`.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// `system_id` of the bind (≤ 15 characters). Required.
    pub system_id: String,
    /// `password` of the bind (≤ 8 characters). Default empty.
    #[serde(default)]
    pub password: String,
    /// `system_type` of the bind (≤ 12 characters). Default empty.
    #[serde(default)]
    pub system_type: String,
    /// `address_range` of the bind (≤ 40 characters): which MO numbers this ESME serves.
    /// Default empty.
    #[serde(default)]
    pub address_range: String,
    /// `transceiver` (default), `pair` (a transmitter and a receiver session side by side,
    /// the classic two-bind setup for SMSCs without transceiver support; receipts arriving on
    /// the receiver complete the transmitter's submits), `transmitter` (no receipts, no
    /// inbound) or `receiver` (inbound only).
    #[serde(default)]
    pub bind: BindMode,
    /// `"3.4"` (default) or `"5.0"`: the `interface_version` of the bind.
    #[serde(default = "default_version")]
    pub interface_version: String,
    /// Sessions (TCP connections) opened to the SMSC. Default 1.
    #[serde(default = "one")]
    pub sessions: usize,
    /// Unacknowledged `submit_sm` per session. Default 10.
    #[serde(default = "ten")]
    pub window: usize,
    /// Submits per second on this connector, across all its sessions. Default: unpaced.
    #[serde(default)]
    pub max_tps: Option<u32>,
    /// Time to wait for any response before the request counts as lost. Default `"30s"`.
    #[serde(default = "secs30", with = "humantime_serde")]
    pub response_timeout: Duration,
    /// Idle time before an `enquire_link`. Default `"30s"`.
    #[serde(default = "secs30", with = "humantime_serde")]
    pub enquire_link_interval: Duration,
    /// TCP connect and bind timeout. Default `"10s"`.
    #[serde(default = "secs10", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First reconnect delay, doubled per failed attempt with jitter. Default `"1s"`.
    #[serde(default = "secs1", with = "humantime_serde")]
    pub reconnect_initial: Duration,
    /// Longest reconnect delay. Default `"60s"`.
    #[serde(default = "secs60", with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// How long messages travel: `udh` (default; 8-bit reference UDH, `esm_class` 0x40), `sar`
    /// (SAR TLVs) or `message_payload` (one PDU, the SMSC splits).
    #[serde(default)]
    pub long_messages: LongMessages,
    /// `data_coding` per encoding; unset encodings keep SMPP 3.4 §5.2.19 values.
    #[serde(default)]
    pub data_coding: DataCodings,
    /// Send GSM 7-bit packed (7 bits per character) instead of one septet per octet, for SMSCs
    /// that expect it. Default false.
    #[serde(default)]
    pub gsm7_packed: bool,
    /// Ask for delivery receipts (`registered_delivery` 1). Default true.
    #[serde(default = "yes")]
    pub registered_delivery: bool,
    /// How the SMSC writes ids in `submit_sm_resp` and `receipted_message_id`: `text` (default,
    /// compared as written), `text_ignore_case`, `hex` or `decimal` (leading zeros ignored).
    #[serde(default)]
    pub message_id_format: IdFormat,
    /// How the SMSC writes the `id:` of text receipts (when no `receipted_message_id` TLV
    /// came). Default: as `message_id_format`.
    #[serde(default)]
    pub receipt_id_format: Option<IdFormat>,
    /// A submit whose response never came: `retry` (default; may duplicate) or `fail` (the
    /// message fails with code `ambiguous`). Counted either way.
    #[serde(default)]
    pub on_ambiguous: OnAmbiguous,
    /// Extra `command_status` values to treat as temporary (vendor codes are permanent
    /// otherwise). Default none.
    #[serde(default)]
    pub temporary_statuses: Vec<u32>,
    /// `service_type` of submits (≤ 5 characters). Default empty.
    #[serde(default)]
    pub service_type: String,
    /// Originator used when a message names none. Default empty (the SMSC decides).
    #[serde(default)]
    pub source_addr: String,
    /// Override the `source_addr_ton` that is otherwise derived from the sender.
    #[serde(default)]
    pub source_ton: Option<u8>,
    /// Override the `source_addr_npi` that is otherwise derived from the sender.
    #[serde(default)]
    pub source_npi: Option<u8>,
    /// Pause after `ESME_RTHROTTLED`/`ESME_RMSGQFUL`, doubled while throttling goes on (up to
    /// 32×). Default `"1s"`.
    #[serde(default = "secs1", with = "humantime_serde")]
    pub throttle_pause: Duration,
    /// How long an inbound part's `deliver_sm_resp` waits for the rest of its message (it goes
    /// out once the whole message is stored). SMSCs that send part 2 only after part 1 was
    /// answered would stall, so after this long without a new part the held parts are
    /// acknowledged and kept in memory (a crash then loses them). Default `"2s"`.
    #[serde(default = "secs2", with = "humantime_serde")]
    pub part_ack_timeout: Duration,
    /// How long parts of an inbound long message are waited for; then what arrived is stored,
    /// marked incomplete. Default `"60s"`.
    #[serde(default = "secs60", with = "humantime_serde")]
    pub reassembly_timeout: Duration,
}

/// The three bind types (SMPP 3.4 §4.1).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// Submit only.
    Transmitter,
    /// Receive only (receipts, MO).
    Receiver,
    /// Both on one session.
    #[default]
    Transceiver,
    /// A transmitter and a receiver session per `sessions`, under this one connector.
    Pair,
}

/// How long messages are carried (see `smsgate_sms::Concat`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LongMessages {
    /// A concatenation UDH with an 8-bit reference in each part.
    #[default]
    Udh,
    /// SAR TLVs (SMPP 3.4 §5.3.2.22–24).
    Sar,
    /// One `message_payload` TLV (SMPP 3.4 §5.3.2.32).
    MessagePayload,
}

/// `data_coding` octets per encoding.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataCodings {
    /// For GSM 7-bit. Default 0 (SMSC default alphabet); some SMSCs want 1.
    pub gsm7: Option<u8>,
    /// For UCS-2. Default 8.
    pub ucs2: Option<u8>,
    /// For Latin-1. Default 3.
    pub latin1: Option<u8>,
    /// For 8-bit binary. Default 4.
    pub binary: Option<u8>,
}

impl DataCodings {
    /// The octet for `encoding`.
    pub fn octet(&self, encoding: Encoding) -> u8 {
        let o = match encoding {
            Encoding::Gsm7 => self.gsm7,
            Encoding::Ucs2 => self.ucs2,
            Encoding::Latin1 => self.latin1,
            Encoding::Binary8 => self.binary,
        };
        o.unwrap_or_else(|| encoding.smpp_data_coding())
    }

    /// The encoding an inbound `data_coding` stands for, honouring the overrides first.
    pub fn encoding_of(&self, octet: u8) -> Option<Encoding> {
        [
            (self.gsm7, Encoding::Gsm7),
            (self.ucs2, Encoding::Ucs2),
            (self.latin1, Encoding::Latin1),
            (self.binary, Encoding::Binary8),
        ]
        .into_iter()
        .find(|(o, _)| *o == Some(octet))
        .map(|(_, e)| e)
        .or_else(|| Encoding::from_smpp_data_coding(octet))
    }
}

/// How a peer writes message ids (see `smsgate_smpp::receipt::MessageIdFormat`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IdFormat {
    /// Opaque, compared as written (trimmed).
    #[default]
    Text,
    /// Opaque, case folded.
    TextIgnoreCase,
    /// Hexadecimal digits.
    Hex,
    /// Decimal digits.
    Decimal,
}

impl IdFormat {
    /// The normalisation rule.
    pub fn rule(self) -> MessageIdFormat {
        match self {
            Self::Text => MessageIdFormat::default(),
            Self::TextIgnoreCase => MessageIdFormat {
                radix: IdRadix::Text,
                case_insensitive: true,
                strip_leading_zeros: false,
            },
            Self::Hex => MessageIdFormat::HEX,
            Self::Decimal => MessageIdFormat::DECIMAL,
        }
    }
}

/// What to do when a submit's response never came.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnAmbiguous {
    /// Hand it back for a retry (at-least-once).
    #[default]
    Retry,
    /// Fail the message with code `ambiguous` (at-most-once).
    Fail,
}

fn default_version() -> String {
    "3.4".into()
}
fn one() -> usize {
    1
}
fn ten() -> usize {
    10
}
fn yes() -> bool {
    true
}
fn secs1() -> Duration {
    Duration::from_secs(1)
}
fn secs2() -> Duration {
    Duration::from_secs(2)
}
fn secs10() -> Duration {
    Duration::from_secs(10)
}
fn secs30() -> Duration {
    Duration::from_secs(30)
}
fn secs60() -> Duration {
    Duration::from_secs(60)
}

impl SmppSettings {
    /// Checks limits serde cannot express; errors name the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let lengths = [
            ("system_id", &self.system_id, 15),
            ("password", &self.password, 8),
            ("system_type", &self.system_type, 12),
            ("address_range", &self.address_range, 40),
            ("service_type", &self.service_type, 5),
            ("source_addr", &self.source_addr, 20),
        ];
        for (key, value, max) in lengths {
            if value.len() > max {
                bail!("{key} is {} characters; SMPP allows {max}", value.len());
            }
        }
        if self.host.is_empty() {
            bail!("host is empty");
        }
        if self.sessions == 0 || self.sessions > 64 {
            bail!("sessions = {} must be between 1 and 64", self.sessions);
        }
        if self.window == 0 || self.window > 10_000 {
            bail!("window = {} must be between 1 and 10000", self.window);
        }
        if self.max_tps == Some(0) {
            bail!("max_tps = 0 would never send; leave it out for unpaced");
        }
        self.version()?;
        if let Some(tls) = self.tls()? {
            // Load now, so a missing or broken file stops the start-up with its name instead
            // of showing up later as a connector that never binds.
            tls.load().map_err(|e| InvalidSetting(e.to_string()))?;
            tls.server_name(&self.host)
                .map_err(|e| InvalidSetting(e.to_string()))?;
        }
        Ok(())
    }

    /// The SMSC port: `port`, or the SMPP default for plain (2775) or TLS (3550) links.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls { 3550 } else { 2775 })
    }

    /// The TLS settings when `tls = true`; an error when `tls_*` keys are set without it, as
    /// such a connector would silently send in the clear.
    pub fn tls(&self) -> Result<Option<ClientTls>, InvalidSetting> {
        let tls = ClientTls {
            ca_file: self.tls_ca_file.clone(),
            server_name: self.tls_server_name.clone(),
            cert_file: self.tls_cert_file.clone(),
            key_file: self.tls_key_file.clone(),
        };
        if !self.tls {
            if tls != ClientTls::default() {
                bail!("tls_* keys are set but tls = false; add tls = true to use them");
            }
            return Ok(None);
        }
        Ok(Some(tls))
    }

    fn version(&self) -> Result<InterfaceVersion, InvalidSetting> {
        match self.interface_version.as_str() {
            "3.4" | "34" => Ok(InterfaceVersion::Smpp3_4),
            "5.0" | "50" | "5" => Ok(InterfaceVersion::Smpp5_0),
            other => bail!("interface_version '{other}' must be \"3.4\" or \"5.0\""),
        }
    }

    /// How long messages are segmented.
    pub fn concat(&self) -> Concat {
        match self.long_messages {
            LongMessages::Udh => Concat::Udh8,
            LongMessages::Sar => Concat::Sar,
            LongMessages::MessagePayload => Concat::MessagePayload,
        }
    }

    /// The id rule for `submit_sm_resp` and `receipted_message_id`.
    pub fn submit_ids(&self) -> MessageIdFormat {
        self.message_id_format.rule()
    }

    /// The id rule for text receipts.
    pub fn text_receipt_ids(&self) -> MessageIdFormat {
        self.receipt_id_format
            .unwrap_or(self.message_id_format)
            .rule()
    }

    /// The bind of each session: one per `sessions`, two (transmitter, receiver) for `pair`.
    pub fn bind_types(&self) -> Vec<BindType> {
        let per_session: &[BindType] = match self.bind {
            BindMode::Transmitter => &[BindType::Transmitter],
            BindMode::Receiver => &[BindType::Receiver],
            BindMode::Transceiver => &[BindType::Transceiver],
            BindMode::Pair => &[BindType::Transmitter, BindType::Receiver],
        };
        (0..self.sessions)
            .flat_map(|_| per_session.iter().copied())
            .collect()
    }

    /// The supervisor configuration of a session binding as `bind_type`.
    pub fn supervisor(&self, bind_type: BindType) -> Result<SupervisorConfig, InvalidSetting> {
        let mut bind = BindParams::new(bind_type, &self.system_id, &self.password);
        bind.system_type = self.system_type.clone();
        bind.address_range = self.address_range.clone();
        bind.interface_version = self.version()?;
        bind.addr_ton = Ton::Unknown;
        bind.addr_npi = Npi::Unknown;
        let mut client = ClientConfig::new(bind);
        client.session = SessionConfig {
            window: self.window,
            response_timeout: self.response_timeout,
            bind_timeout: self.connect_timeout,
            enquire_link_interval: self.enquire_link_interval,
            ..SessionConfig::default()
        };
        client.connect_timeout = self.connect_timeout;
        client.temporary_statuses = self.temporary_statuses.clone();
        let mut sup = SupervisorConfig::new(client);
        sup.backoff_initial = self.reconnect_initial;
        sup.backoff_max = self.reconnect_max.max(self.reconnect_initial);
        Ok(sup)
    }
}
