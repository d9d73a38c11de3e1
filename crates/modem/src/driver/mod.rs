//! The modem driver: one tokio task per modem that opens the device, initialises it, sends,
//! receives and watches its health, and resets it when it stops answering.
//!
//! [`Modem::start`] returns a handle; [`Modem::send`] sends one message (one `AT+CMGS` per
//! part) and [`Modem::status`] shows identity, signal, registration and state. What the modem
//! hears comes out as [`ModemEvent`]s, each with an [`Ack`] the owner completes once the event
//! is durable: only then is the message deleted from the modem (`AT+CMGD`) or acknowledged to
//! the network (`AT+CNMA`), so a crash can duplicate but never lose.
//!
//! # Layout
//! - [`link`]: the engine over a stream (`command`, cancel-safe `next_urc`).
//! - `init`: the start-up sequence (ATE0, CMEE, PIN once, CMGF=0, CSMS, CPMS, CNMI, CSCA,
//!   identity, registration, signal).
//! - `worker`: the supervisor loop (open → init → serve → reset with backoff) and sending.
//! - `inbound`: `+CMTI`/`+CDSI` → `AT+CMGR` → decode → report → `AT+CMGD`; `+CMT`/`+CDS` →
//!   report → `AT+CNMA`; the `AT+CMGL=4` sweep; reassembly.
//! - `state`: the small state file (TP-MR → remote id, `+CMT` parts awaiting siblings).

mod inbound;
mod init;
pub mod link;
mod state;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use crate::at::SendClass;
use crate::at::info::{Registration, Signal};
use crate::transport::Opener;

/// How incoming SMS reach the driver (`+CNMI`, 3GPP TS 27.005 §3.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Indications {
    /// Stored in the modem and announced (`+CMTI`, `+CDSI`); read, reported, then deleted.
    /// Survives a gateway crash: the message stays in storage until it is durable.
    #[default]
    Store,
    /// Routed directly (`+CMT`, `+CDS`) and acknowledged with `AT+CNMA` once durable.
    Direct,
}

/// Driver settings (the `[[connectors]]` keys of `type = "modem"` besides `name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModemSettings {
    /// `/dev/ttyUSB0`, a pty path, or `tcp://host:port`. Required.
    pub device: String,
    /// Serial speed. Default 115200.
    pub baud: u32,
    /// SIM PIN, entered once when the SIM asks; a wrong one is never retried. Default none.
    pub pin: Option<String>,
    /// SMSC address to put in each PDU, instead of the SIM's (`AT+CSCA?`). Default: the SIM's.
    pub smsc: Option<String>,
    /// Message storage for `AT+CPMS` (`SM` SIM, `ME` modem, `MT` both). Default `SM`.
    pub storage: String,
    /// `store` (default) or `direct`; see [`Indications`].
    pub indications: Indications,
    /// Ask for a status report per part (delivery reports). Default true.
    pub status_reports: bool,
    /// Time for an ordinary command. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// Time for `AT+CMGS` to answer after the PDU (the network is involved). Default `"60s"`.
    #[serde(with = "humantime_serde")]
    pub send_timeout: Duration,
    /// Signal, registration and storage checks. Default `"30s"`.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// Most SMS parts sent per minute by this modem. Default 30.
    pub max_per_minute: u32,
    /// First delay before reopening a modem that stopped answering; doubles per failure.
    /// Default `"1s"`.
    #[serde(with = "humantime_serde")]
    pub reset_backoff: Duration,
    /// Longest delay between reopen attempts. Default `"2m"`.
    #[serde(with = "humantime_serde")]
    pub reset_backoff_max: Duration,
    /// How long parts of a long inbound message wait for their siblings. Default `"10m"`.
    #[serde(with = "humantime_serde")]
    pub reassembly_timeout: Duration,
    /// Where the driver keeps TP-MR → message mappings and pending `+CMT` parts. The gateway
    /// sets it beside its database; default none (memory only).
    pub state_file: Option<PathBuf>,
}

impl Default for ModemSettings {
    fn default() -> Self {
        Self {
            device: String::new(),
            baud: 115_200,
            pin: None,
            smsc: None,
            storage: "SM".into(),
            indications: Indications::Store,
            status_reports: true,
            command_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            health_interval: Duration::from_secs(30),
            max_per_minute: 30,
            reset_backoff: Duration::from_secs(1),
            reset_backoff_max: Duration::from_secs(120),
            reassembly_timeout: Duration::from_secs(600),
            state_file: None,
        }
    }
}

/// What the modem knows about itself (`AT+CGMI`, `AT+CGMM`, `AT+CGSN`, `AT+CIMI`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// IMEI.
    pub imei: Option<String>,
    /// IMSI of the SIM.
    pub imsi: Option<String>,
}

/// Where the driver is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LinkState {
    /// Opening and initialising for the first time.
    Starting,
    /// Initialised and serving.
    Ready,
    /// It stopped answering (or the device went away): waiting to reopen.
    Resetting {
        /// Consecutive failed starts.
        attempt: u32,
        /// What went wrong.
        reason: String,
    },
    /// Stopped for good until the configuration is fixed (wrong PIN, SIM locked).
    Failed {
        /// What went wrong and what to do.
        reason: String,
    },
}

/// Counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Parts accepted by the network (`+CMGS`).
    pub parts_sent: u64,
    /// Sends that failed.
    pub send_failures: u64,
    /// Inbound messages reported (after reassembly).
    pub received: u64,
    /// Status reports reported.
    pub status_reports: u64,
    /// Status reports whose TP-MR matched no recent send.
    pub unmatched_reports: u64,
    /// Resets (close, reopen, re-initialise).
    pub resets: u64,
    /// Commands that timed out.
    pub timeouts: u64,
    /// Lines that belonged to no command (late answers).
    pub stray_lines: u64,
}

/// A snapshot for `/v1/connectors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModemStatus {
    /// The device as configured.
    pub device: String,
    /// Driver state.
    #[serde(flatten)]
    pub link: LinkState,
    /// Identity, once read.
    pub identity: Identity,
    /// Last `AT+CSQ`.
    pub signal: Option<Signal>,
    /// Last `AT+CSQ` in dBm.
    pub signal_dbm: Option<i32>,
    /// Last registration (`AT+CREG?`/`AT+CEREG?` or their URCs).
    pub registration: Option<Registration>,
    /// SMSC address in use.
    pub smsc: Option<String>,
    /// Storage slots used and available.
    pub storage_used: Option<u32>,
    /// Storage slots in total.
    pub storage_total: Option<u32>,
    /// Counters.
    pub counters: Counters,
    /// The last problem, for people.
    pub last_error: Option<String>,
}

impl ModemStatus {
    /// Whether the modem can send now (initialised and registered).
    pub fn can_send(&self) -> bool {
        self.link == LinkState::Ready && self.registration.is_some_and(|r| r.is_registered())
    }
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// For logs (the gateway's message id).
    pub id: String,
    /// Destination, E.164 with `+` or as dialled.
    pub to: String,
    /// The text.
    pub text: String,
    /// A forced encoding; `None` chooses GSM 7-bit when it fits, else UCS-2.
    pub encoding: Option<smsgate_sms::Encoding>,
    /// Relative validity for TP-VP.
    pub validity: Option<Duration>,
    /// Concatenation reference: the same for every attempt at one message, so a handset
    /// drops parts it already has when a retry resends them.
    pub reference: u16,
    /// 8-bit data instead of `text`: sent byte for byte in 8-bit PDUs with the header
    /// elements in every part.
    pub binary: Option<BinarySend>,
}

/// The octets of an 8-bit SMS a device sent, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundBinary {
    /// The payload (every part, in order).
    pub octets: Vec<u8>,
    /// The sender's header elements (ports, …) other than concatenation, as octets.
    pub elements: Vec<u8>,
    /// TP-DCS as received.
    pub data_coding: u8,
}

/// The octets of a binary SMS and how to send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinarySend {
    /// The payload.
    pub payload: Vec<u8>,
    /// The sender's information elements (ports, …), before the concatenation IE.
    pub elements: Vec<smsgate_sms::udh::InformationElement>,
    /// TP-DCS (`0x04` 8-bit, `0xF4`–`0xF7` 8-bit with class 0–3).
    pub data_coding: u8,
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What the caller should do.
    pub class: SendClass,
    /// Stable code: `cms_<n>`, `cme_<n>`, `timeout`, `encode`, `unavailable`, …
    pub code: String,
    /// What happened.
    pub message: String,
}

impl SendError {
    fn new(class: SendClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The state a status report gives a part (3GPP TS 23.040 §9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// Delivered.
    Delivered,
    /// The SC is still trying.
    Pending,
    /// Validity expired (TP-ST 0x46).
    Expired,
    /// Failed for good.
    Undelivered,
}

/// What the modem heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An SMS (reassembled when it came in parts).
    Inbound {
        /// Sender (`+` and digits when international, or an alphanumeric id).
        from: String,
        /// The text.
        text: String,
        /// Some parts never came within the reassembly timeout.
        incomplete: bool,
        /// Set when the SMS was 8-bit data: its octets (then `text` is only a lossy reading).
        binary: Option<InboundBinary>,
    },
    /// A status report for a part this driver sent.
    Report {
        /// The remote id [`Modem::send`] returned for that part.
        remote_id: String,
        /// Its state.
        state: ReportState,
        /// TP-ST as two hex digits.
        status: String,
    },
}

/// Completes a [`ModemEvent`]: `done(true)` once it is durable; `done(false)` or dropping it
/// leaves the message at the modem/network so it comes again.
#[derive(Debug)]
pub struct Ack(oneshot::Sender<bool>);

impl Ack {
    /// Says whether the event is durable.
    pub fn done(self, durable: bool) {
        let _ = self.0.send(durable);
    }
}

/// An event with its acknowledgement.
#[derive(Debug)]
pub struct ModemEvent {
    /// What was heard.
    pub heard: Heard,
    /// Complete it once stored.
    pub ack: Ack,
}

struct Job {
    request: SendRequest,
    reply: oneshot::Sender<Result<Vec<String>, SendError>>,
}

/// A running modem driver; dropping it stops the driver and closes the device.
pub struct Modem {
    jobs: mpsc::Sender<Job>,
    status: Arc<Mutex<ModemStatus>>,
    _stop: watch::Sender<()>,
}

impl Modem {
    /// Starts the driver task (inside a tokio runtime). Events go to `events`.
    pub fn start(
        name: &str,
        settings: ModemSettings,
        opener: Arc<dyn Opener>,
        events: mpsc::Sender<ModemEvent>,
    ) -> Self {
        let (jobs_tx, jobs_rx) = mpsc::channel(1);
        let (stop_tx, stop_rx) = watch::channel(());
        let status = Arc::new(Mutex::new(ModemStatus {
            device: opener.describe(),
            link: LinkState::Starting,
            identity: Identity::default(),
            signal: None,
            signal_dbm: None,
            registration: None,
            smsc: None,
            storage_used: None,
            storage_total: None,
            counters: Counters::default(),
            last_error: None,
        }));
        let w = worker::Worker::new(
            name,
            settings,
            opener,
            events,
            jobs_rx,
            stop_rx,
            Arc::clone(&status),
        );
        tokio::spawn(w.run());
        Self {
            jobs: jobs_tx,
            status,
            _stop: stop_tx,
        }
    }

    /// A snapshot of the driver's state.
    pub fn status(&self) -> ModemStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends every part; returns one remote id per part for status reports.
    pub async fn send(&self, request: SendRequest) -> Result<Vec<String>, SendError> {
        if !self.status().can_send() {
            let s = self.status();
            return Err(SendError::new(
                SendClass::Unavailable,
                "unavailable",
                format!(
                    "modem not ready ({})",
                    s.last_error.unwrap_or_else(|| "not registered".into())
                ),
            ));
        }
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job { request, reply }).await.is_err() {
            return Err(SendError::new(
                SendClass::Unavailable,
                "unavailable",
                "modem driver stopped",
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(SendError::new(
                SendClass::Ambiguous,
                "driver_stopped",
                "the modem driver stopped during the send",
            ))
        })
    }
}
