//! Handle-side types of the ESME driver: errors, events and inbound acknowledgements.

use rusmpp::pdus::{AlertNotification, DataSm, DeliverSm};
use tokio::sync::{mpsc, oneshot};

use crate::pdu::{CommandStatus, Pdu};
use crate::receipt::{self, DeliveryReceipt};
use crate::session::{Bound, CloseReason, LostReason};

/// What the driver reports for one request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Never handed to the session (not bound, or closed first): certainly not sent.
    NotSent,
    /// Written, but no usable response.
    Lost(LostReason),
}

pub(crate) type Reply = oneshot::Sender<Result<(CommandStatus, Option<Pdu>), Outcome>>;

pub(crate) enum Command {
    Request {
        pdu: Box<Pdu>,
        reply: Reply,
    },
    Respond {
        sequence_number: u32,
        status: CommandStatus,
    },
    Unbind {
        done: oneshot::Sender<()>,
    },
    Abort,
}

/// Why no response can be trusted: the SMSC may or may not have accepted the message, so the
/// gateway must not blindly resend (risking a duplicate) nor drop it (risking a loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmbiguousReason {
    /// No response within the response timeout.
    Timeout,
    /// The connection was lost after the request was written.
    ConnectionLost,
    /// The response said `ESME_ROK` but its body did not decode (no message id).
    MalformedResponse,
}

/// A failed submit, classified for the dispatcher's retry logic (SMPP 3.4 §5.1.3 statuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// `ESME_RTHROTTLED` or `ESME_RMSGQFUL`: slow down, then retry on any connector.
    #[error("throttled by the SMSC ({0:?})")]
    Throttled(CommandStatus),
    /// A transient SMSC failure (`ESME_RSYSERR`, `ESME_RSUBMITFAIL`, `ESME_RX_T_APPN`, …):
    /// retry later.
    #[error("temporary failure ({0:?})")]
    Temporary(CommandStatus),
    /// The SMSC refused the message for good (bad address, bad coding, …): do not retry.
    #[error("rejected ({0:?})")]
    Permanent(CommandStatus),
    /// The outcome is unknown: see [`AmbiguousReason`].
    #[error("outcome unknown: {0:?}")]
    Ambiguous(AmbiguousReason),
    /// The session is not bound (or closed before the request was written): safe to retry.
    #[error("not bound")]
    NotBound,
}

/// Why [`crate::client::bind`] or [`crate::client::connect`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// TCP connect failed or timed out.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The SMSC answered the bind with this error (`ESME_RINVPASWD`, `ESME_RINVSYSID`, …).
    #[error("bind rejected: {0:?}")]
    Rejected(CommandStatus),
    /// No bind response within `bind_timeout`.
    #[error("bind timed out")]
    Timeout,
    /// The connection closed during the bind.
    #[error("closed during bind: {0}")]
    Closed(String),
    /// A bind field exceeds its SMPP 3.4 §4.1.1 limit.
    #[error("invalid bind parameters: {0}")]
    Invalid(String),
}

impl BindError {
    pub(crate) fn from_close(reason: CloseReason) -> Self {
        match reason {
            CloseReason::BindRejected(status) => Self::Rejected(status),
            CloseReason::BindTimeout => Self::Timeout,
            other => Self::Closed(other.to_string()),
        }
    }
}

/// Events of one ESME session, in order; the stream ends after `Disconnected`.
#[derive(Debug)]
pub enum ClientEvent {
    /// The bind completed (always the first event).
    Bound(Bound),
    /// An inbound `deliver_sm` or `data_sm` (MO message or delivery receipt). Acknowledge it
    /// with [`Inbound::ack`] once stored; the response goes out only then.
    Inbound(Inbound),
    /// SMPP 3.4 §4.12 alert_notification.
    Alert(AlertNotification),
    /// The session closed; `CloseReason::Unbound` for an orderly unbind by either side.
    Disconnected(CloseReason),
}

/// The receiving end of a session's events.
#[derive(Debug)]
pub struct Events {
    pub(crate) rx: mpsc::UnboundedReceiver<ClientEvent>,
}

impl Events {
    /// The next event; `None` after the session ended and every event was taken.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.rx.recv().await
    }
}

/// An inbound `deliver_sm`/`data_sm` awaiting acknowledgement (SMPP 3.4 §4.6, §4.7).
///
/// Dropping it unacknowledged answers `ESME_RX_T_APPN` (temporary application error), which asks
/// the SMSC to deliver again later: nothing is acknowledged that was not handled.
#[derive(Debug)]
pub struct Inbound {
    sequence_number: u32,
    pdu: Pdu,
    responder: Option<mpsc::UnboundedSender<Command>>,
}

impl Inbound {
    pub(crate) fn new(
        sequence_number: u32,
        pdu: Pdu,
        responder: mpsc::UnboundedSender<Command>,
    ) -> Self {
        Self {
            sequence_number,
            pdu,
            responder: Some(responder),
        }
    }

    /// The request body (`Pdu::DeliverSm` or `Pdu::DataSm`).
    pub fn pdu(&self) -> &Pdu {
        &self.pdu
    }

    /// The `deliver_sm`, if that is what arrived.
    pub fn deliver_sm(&self) -> Option<&DeliverSm> {
        match &self.pdu {
            Pdu::DeliverSm(sm) => Some(sm),
            _ => None,
        }
    }

    /// The `data_sm`, if that is what arrived.
    pub fn data_sm(&self) -> Option<&DataSm> {
        match &self.pdu {
            Pdu::DataSm(sm) => Some(sm),
            _ => None,
        }
    }

    /// The delivery receipt this carries, if it is one (see [`crate::receipt`]).
    pub fn receipt(&self) -> Option<DeliveryReceipt> {
        match &self.pdu {
            Pdu::DeliverSm(sm) => receipt::parse_deliver_sm(sm),
            Pdu::DataSm(sm) => receipt::parse_data_sm(sm),
            _ => None,
        }
    }

    /// Sends the `ESME_ROK` response.
    pub fn ack(mut self) {
        self.answer(CommandStatus::EsmeRok);
    }

    /// Sends an error response, e.g. `ESME_RX_T_APPN` (retry later) or `ESME_RX_P_APPN`
    /// (permanent rejection).
    pub fn reject(mut self, status: CommandStatus) {
        self.answer(status);
    }

    fn answer(&mut self, status: CommandStatus) {
        if let Some(tx) = self.responder.take() {
            let _ = tx.send(Command::Respond {
                sequence_number: self.sequence_number,
                status,
            });
        }
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        self.answer(CommandStatus::EsmeRxTAppn);
    }
}
