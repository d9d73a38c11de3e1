//! The southbound contract: what the dispatcher hands a connector and what comes back.
//!
//! A connector (SMPP session, GSM modem, the simulated network, an HTTP upstream) never touches
//! the store. The dispatcher calls [`Connector::submit`] and records the [`SubmitOutcome`];
//! delivery reports and inbound SMS flow back through a [`ConnectorEvents`] sink, and the gateway
//! acknowledges them to the network only after they are durable (the `ack` in each event).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::message::{MessageId, Priority};

/// One message as a connector needs it: already validated, never touched by the store again
/// until the outcome is recorded.
#[derive(Clone, Debug)]
pub struct OutboundSms {
    /// The gateway's id, for logs and for connectors that pass it on (HTTP upstreams).
    pub id: MessageId,
    /// Destination, E.164 with `+`.
    pub to: String,
    /// Originator, if the client chose one.
    pub from: Option<String>,
    /// The text to encode.
    pub text: String,
    /// The encoding the API estimated (`gsm7`, `ucs2`); a connector may re-encode per its
    /// own overrides but must not exceed `segments` parts.
    pub encoding: String,
    /// Parts the API promised the client.
    pub segments: u32,
    /// Unix ms after which the network should give up (SMPP `validity_period`).
    pub expires_at: Option<i64>,
    /// Urgency (SMPP `priority_flag`).
    pub priority: Priority,
    /// How many times this message was handed to a connector before (0 on the first try).
    pub previous_attempts: u32,
    /// Set for 8-bit data: `text` is the payload as hex, sent byte for byte with these
    /// header elements and data coding. A connector that cannot carry it fails the message
    /// (permanently) rather than alter it.
    pub binary: Option<crate::message::Binary>,
}

/// Why a submit did not go through, classified so the dispatcher knows what to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitErrorKind {
    /// Try again later (network congestion, system error, connection lost before sending).
    Temporary,
    /// The peer asked us to slow down (SMPP `ESME_RTHROTTLED`, `ESME_RMSGQFUL`): retry soon
    /// and reduce the rate.
    Throttled,
    /// Never going to work (bad destination, barred, message too long).
    Permanent,
    /// The request was written but its answer never came: the network may or may not have it.
    Ambiguous,
    /// The connector is not bound or its device is down: another connector may take it.
    Unavailable,
}

/// A classified failure with a machine-readable code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitError {
    /// What the dispatcher should do.
    pub kind: SubmitErrorKind,
    /// Short stable code, e.g. `smpp_0x00000058` or `cms_500`.
    pub code: String,
    /// What happened, in words.
    pub message: String,
}

impl SubmitError {
    /// Convenience constructor.
    pub fn new(kind: SubmitErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What a connector reports for one submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The network took every part; one remote id per part, in part order, for receipts.
    Accepted {
        /// Network message ids (SMPP `message_id`, modem `+CMGS` reference).
        remote_ids: Vec<String>,
    },
    /// It did not go through.
    Rejected(SubmitError),
}

/// Final or intermediate state of one part as a delivery report tells it (SMPP `message_state`,
/// 3GPP TS 23.040 §9.2.3.15 TP-Status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptState {
    /// The handset has the part.
    Delivered,
    /// The network gave up (or rejected, or deleted) the part.
    Undelivered,
    /// Validity ran out in the network.
    Expired,
    /// Still trying (enroute/accepted); informational.
    Pending,
}

/// A delivery report for one part, as a connector read it off the wire.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The connector that reported it (remote ids are unique only per connector).
    pub connector: String,
    /// The network's id of the part, normalised the way the connector normalises submit ids.
    pub remote_id: String,
    /// The part's state.
    pub state: ReceiptState,
    /// Network error code, when the report carried one.
    pub error_code: Option<String>,
}

/// A mobile-originated SMS, already reassembled by the connector.
#[derive(Clone, Debug)]
pub struct InboundSms {
    /// The connector it came in on.
    pub connector: String,
    /// Sender as the network gave it (E.164 with `+` when international).
    pub from: String,
    /// Recipient (our number or short code).
    pub to: String,
    /// Decoded text.
    pub text: String,
    /// Some parts never arrived before the reassembly timeout.
    pub incomplete: bool,
    /// Set when every part was 8-bit data: `text` is then the octets as hex, and this holds
    /// the sender's header elements (ports, …).
    pub binary: Option<crate::message::Binary>,
}

/// Something a connector heard from the network.
#[derive(Debug)]
pub enum ConnectorEvent {
    /// A delivery report.
    Receipt(Receipt),
    /// An inbound SMS.
    Inbound(InboundSms),
}

/// An event together with the way to tell the connector it is durable.
#[derive(Debug)]
pub struct Reported {
    /// What was heard.
    pub event: ConnectorEvent,
    /// Fired once the event is committed; the connector then acknowledges it to the network
    /// (SMPP `deliver_sm_resp`, modem `AT+CMGD`/`AT+CNMA`). Dropped unanswered if storing
    /// failed, so the network redelivers.
    pub ack: Option<oneshot::Sender<()>>,
}

/// The sink connectors report into; cheap to clone.
#[derive(Clone, Debug)]
pub struct ConnectorEvents {
    tx: mpsc::Sender<Reported>,
}

impl ConnectorEvents {
    /// A sink and the receiver the gateway's ingest task drains.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Reported>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Reports an event and waits until it is durable; `false` when the gateway is shutting
    /// down or could not store it (do not acknowledge to the network then).
    pub async fn report_durably(&self, event: ConnectorEvent) -> bool {
        let (ack, done) = oneshot::channel();
        if self
            .tx
            .send(Reported {
                event,
                ack: Some(ack),
            })
            .await
            .is_err()
        {
            return false;
        }
        done.await.is_ok()
    }

    /// Reports an event without waiting (for networks that do not redeliver anyway).
    pub async fn report(&self, event: ConnectorEvent) -> bool {
        self.tx.send(Reported { event, ack: None }).await.is_ok()
    }
}

/// A connector's health as `/v1/connectors` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    /// Ready to submit (SMPP bound, modem registered).
    Bound,
    /// Lost its link and is trying again.
    Reconnecting,
    /// Not usable; the dispatcher routes around it.
    Down,
}

/// A snapshot of a connector for the API and the dashboard.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectorInfo {
    /// Configured name.
    pub name: String,
    /// `smpp`, `modem`, `simulator`, `http`.
    pub kind: String,
    /// Health.
    pub state: ConnectorState,
    /// Submits accepted since start.
    pub submitted: u64,
    /// Submits that failed since start.
    pub failed: u64,
    /// Delivery reports received since start.
    pub receipts: u64,
    /// Inbound SMS received since start.
    pub inbound: u64,
    /// Submits currently waiting for the network.
    pub in_flight: u64,
    /// Free-form details (modem identity, signal, SMSC address, bind mode).
    pub details: serde_json::Value,
}

/// A southbound link to the mobile network.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The configured name, unique in the gateway.
    fn name(&self) -> &str;

    /// Health and counters for `/v1/connectors`.
    fn info(&self) -> ConnectorInfo;

    /// How many submits the dispatcher may have outstanding on this connector at once (SMPP
    /// window × sessions, 1 for a modem).
    fn capacity(&self) -> usize {
        16
    }

    /// `nodes` gateway nodes share this connector's carrier account (a cluster on one store):
    /// a connector with a configured rate (`max_tps`) takes a `1/nodes` share of it, so the
    /// carrier sees the configured rate in total. Others ignore it.
    fn share_rate(&self, nodes: u32) {
        let _ = nodes;
    }

    /// Sends one message (all its parts). Must not hang forever: a connector applies its own
    /// response timeout and reports `Ambiguous` when the answer never came.
    async fn submit(&self, sms: &OutboundSms) -> SubmitOutcome;

    /// For connectors whose provider posts delivery reports over HTTP
    /// (`/v1/upstreams/{name}/dlr`): the reader of those requests. `None` for the others.
    fn http_dlr(&self) -> Option<&dyn HttpDlr> {
        None
    }
}

/// Reads a delivery report an HTTP provider sent to `/v1/upstreams/{name}/dlr` and reports it
/// durably. The API calls it without an API key (the provider has none): the connector checks
/// what its provider offers (a token in the URL, a signature).
#[async_trait]
pub trait HttpDlr: Send + Sync {
    /// `query`: the URL's parameters; `form`: the body's (a form, or a JSON object flattened
    /// to `a.b` keys); `signature`: an `X-Twilio-Signature` header. `Ok` once the report is
    /// stored (or is one of no interest); `Err` says why it was refused.
    async fn report(
        &self,
        query: &std::collections::BTreeMap<String, String>,
        form: &std::collections::BTreeMap<String, String>,
        signature: Option<&str>,
    ) -> Result<(), String>;
}

/// Plays a phone texting the gateway (`POST /v1/sim/inbound`): the message enters exactly as
/// one from the network would. The simulated network implements it; the API only sees this.
#[async_trait]
pub trait InboundInjector: Send + Sync {
    /// Reports an inbound SMS from `from` to `to`; true once it is stored.
    async fn inject_inbound(&self, from: &str, to: &str, text: &str) -> bool;
}

/// A shared connector handle.
pub type DynConnector = Arc<dyn Connector>;
