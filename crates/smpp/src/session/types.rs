//! Vocabulary of the session core: roles, bind types, states, configuration, events, errors.

use std::time::Duration;

use rusmpp::pdus::{AlertNotification, BindReceiver, BindTransceiver, BindTransmitter};
use rusmpp::types::COctetString;
use rusmpp::values::{InterfaceVersion, Npi, Ton};

use crate::pdu::{CommandId, CommandStatus, DEFAULT_MAX_COMMAND_LENGTH, Pdu};

/// Which end of the link this session is (SMPP 3.4 §2.1): the ESME (client, binds) or the SMSC
/// ("Message Centre" in SMPP 5.0; server, accepts binds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// External Short Messaging Entity: connects and binds.
    Esme,
    /// Short Message Service Centre: listens and authenticates binds.
    Smsc,
}

/// The three ways to bind (SMPP 3.4 §2.2, §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindType {
    /// `bind_transmitter`: the ESME only submits.
    Transmitter,
    /// `bind_receiver`: the ESME only receives `deliver_sm`/`data_sm`.
    Receiver,
    /// `bind_transceiver` (SMPP 3.4 §4.1.5): both directions on one session.
    Transceiver,
}

impl BindType {
    /// The bind type a bind request or response command stands for.
    pub fn from_command_id(id: CommandId) -> Option<Self> {
        match id {
            CommandId::BindTransmitter | CommandId::BindTransmitterResp => Some(Self::Transmitter),
            CommandId::BindReceiver | CommandId::BindReceiverResp => Some(Self::Receiver),
            CommandId::BindTransceiver | CommandId::BindTransceiverResp => Some(Self::Transceiver),
            _ => None,
        }
    }

    /// The bind request's command id.
    pub fn command_id(self) -> CommandId {
        match self {
            Self::Transmitter => CommandId::BindTransmitter,
            Self::Receiver => CommandId::BindReceiver,
            Self::Transceiver => CommandId::BindTransceiver,
        }
    }

    /// Whether the ESME may submit on such a bind (transmitter, transceiver).
    pub fn can_submit(self) -> bool {
        !matches!(self, Self::Receiver)
    }

    /// Whether the SMSC may deliver on such a bind (receiver, transceiver).
    pub fn can_receive(self) -> bool {
        !matches!(self, Self::Transmitter)
    }
}

/// What the peer told us when the bind succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The bind type in force.
    pub bind_type: BindType,
    /// The peer's `system_id` (the SMSC's from `bind_*_resp`, or the ESME's from `bind_*`).
    pub peer_system_id: String,
    /// The peer's interface version (`interface_version` of the bind, or the
    /// `sc_interface_version` TLV of the response; SMPP 3.4 §5.3.2.25). `None` if not sent.
    pub interface_version: Option<InterfaceVersion>,
}

/// Session states as SMPP 3.4 §2.3 and SMPP 5.0 §2.3 name them; each carries its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Connected, not bound. `bind` is the bind in progress: sent by the ESME and awaiting the
    /// response, or received by the SMSC and awaiting the application's decision.
    Open {
        /// The pending bind, if one is in progress.
        bind: Option<(u32, BindType)>,
    },
    /// Bound as transmitter.
    BoundTx(Bound),
    /// Bound as receiver.
    BoundRx(Bound),
    /// Bound as transceiver.
    BoundTrx(Bound),
    /// We sent `unbind` and await `unbind_resp` (SMPP 3.4 §4.2); only keep-alive flows.
    Unbound,
    /// The session is over; the driver flushes what is left to transmit and closes the transport.
    Closed(CloseReason),
}

impl State {
    /// The bind details, if bound.
    pub fn bound(&self) -> Option<&Bound> {
        match self {
            State::BoundTx(b) | State::BoundRx(b) | State::BoundTrx(b) => Some(b),
            _ => None,
        }
    }

    /// The equivalent `rusmpp` state, whose tables say which PDU may flow in which state.
    pub(crate) fn as_rusmpp(&self) -> rusmpp::session::SessionState {
        use rusmpp::session::SessionState as S;
        match self {
            State::Open { .. } => S::Open,
            State::BoundTx(_) => S::BoundTx,
            State::BoundRx(_) => S::BoundRx,
            State::BoundTrx(_) => S::BoundTrx,
            State::Unbound => S::Unbound,
            State::Closed(_) => S::Closed,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// Orderly `unbind`/`unbind_resp`, started by either side (SMPP 3.4 §4.2).
    #[error("unbound")]
    Unbound,
    /// The SMSC rejected our bind with this status (SMPP 3.4 §4.1).
    #[error("bind rejected: {0:?}")]
    BindRejected(CommandStatus),
    /// No bind (response) within `bind_timeout`.
    #[error("bind timed out")]
    BindTimeout,
    /// No `unbind_resp` within `response_timeout`.
    #[error("unbind timed out")]
    UnbindTimeout,
    /// Our keep-alive `enquire_link` got no answer within `response_timeout` (SMPP 3.4 §4.11).
    #[error("peer stopped answering enquire_link")]
    DeadPeer,
    /// The peer sent bytes that cannot be framed (ESME_RINVCMDLEN); we nacked and closed.
    #[error("protocol error: {0}")]
    ProtocolError(String),
    /// The transport closed or failed.
    #[error("transport closed: {0}")]
    TransportClosed(String),
    /// The local application closed the session without unbinding.
    #[error("closed locally")]
    Local,
}

/// Session limits and timers. Defaults are documented on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our requests awaiting a response at once (the window). Default 10.
    pub window: usize,
    /// Peer requests awaiting the application's answer at once; more are answered with
    /// `ESME_RTHROTTLED`. Default 100.
    pub inbound_window: usize,
    /// Time to wait for any response before reporting it lost. Default 30 s.
    pub response_timeout: Duration,
    /// Time allowed to complete a bind (both roles). Default 10 s.
    pub bind_timeout: Duration,
    /// Idle time after which we send `enquire_link` (SMPP 3.4 §4.11). Default 30 s.
    pub enquire_link_interval: Duration,
    /// Largest `command_length` accepted. Default [`DEFAULT_MAX_COMMAND_LENGTH`] (65 KiB).
    pub max_command_length: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            window: 10,
            inbound_window: 100,
            response_timeout: Duration::from_secs(30),
            bind_timeout: Duration::from_secs(10),
            enquire_link_interval: Duration::from_secs(30),
            max_command_length: DEFAULT_MAX_COMMAND_LENGTH,
        }
    }
}

/// What an ESME sends in its bind (SMPP 3.4 §4.1.1). Its `Debug` leaves the password out, so
/// a config or a bind logged with `?` never writes it to the logs.
#[derive(Clone, PartialEq, Eq)]
pub struct BindParams {
    /// Bind as transmitter, receiver or transceiver.
    pub bind_type: BindType,
    /// `system_id`, at most 15 characters.
    pub system_id: String,
    /// `password`, at most 8 characters.
    pub password: String,
    /// `system_type`, at most 12 characters; often empty.
    pub system_type: String,
    /// `interface_version`: 0x34 for SMPP 3.4 (default), 0x50 for 5.0.
    pub interface_version: InterfaceVersion,
    /// `addr_ton` of `address_range`.
    pub addr_ton: Ton,
    /// `addr_npi` of `address_range`.
    pub addr_npi: Npi,
    /// `address_range`, at most 40 characters; often empty.
    pub address_range: String,
}

impl BindParams {
    /// A bind with the given credentials and SMPP 3.4 defaults for the rest.
    pub fn new(bind_type: BindType, system_id: &str, password: &str) -> Self {
        Self {
            bind_type,
            system_id: system_id.into(),
            password: password.into(),
            system_type: String::new(),
            interface_version: InterfaceVersion::Smpp3_4,
            addr_ton: Ton::Unknown,
            addr_npi: Npi::Unknown,
            address_range: String::new(),
        }
    }

    /// The bind PDU, or an error naming the field that exceeds its SMPP 3.4 §4.1.1 limit.
    pub fn to_pdu(&self) -> Result<Pdu, SendError> {
        let system_id = c_string::<16>(&self.system_id, "system_id")?;
        let password = c_string::<9>(&self.password, "password")?;
        let system_type = c_string::<13>(&self.system_type, "system_type")?;
        let address_range = c_string::<41>(&self.address_range, "address_range")?;
        let (v, t, n) = (self.interface_version, self.addr_ton, self.addr_npi);
        Ok(match self.bind_type {
            BindType::Transmitter => {
                BindTransmitter::new(system_id, password, system_type, v, t, n, address_range)
                    .into()
            }
            BindType::Receiver => {
                BindReceiver::new(system_id, password, system_type, v, t, n, address_range).into()
            }
            BindType::Transceiver => {
                BindTransceiver::new(system_id, password, system_type, v, t, n, address_range)
                    .into()
            }
        })
    }
}

/// Builds a C-octet string of at most `N` octets including the NUL (SMPP 3.4 §3.1).
pub fn c_string<const N: usize>(
    value: &str,
    field: &'static str,
) -> Result<COctetString<1, N>, SendError> {
    let mut bytes = Vec::with_capacity(value.len() + 1);
    bytes.extend_from_slice(value.as_bytes());
    bytes.push(0);
    COctetString::from_vec(bytes).map_err(|_| SendError::InvalidField(field))
}

/// A bind the SMSC received; answer with `Session::accept_bind` or `Session::reject_bind`.
/// Its `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct BindRequest {
    /// Sequence number of the bind, to pass back.
    pub sequence_number: u32,
    /// The bind type asked for.
    pub bind_type: BindType,
    /// `system_id`.
    pub system_id: String,
    /// `password`.
    pub password: String,
    /// `system_type`.
    pub system_type: String,
    /// `interface_version` of the ESME.
    pub interface_version: InterfaceVersion,
    /// `address_range`.
    pub address_range: String,
}

impl std::fmt::Debug for BindParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindParams")
            .field("bind_type", &self.bind_type)
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("interface_version", &self.interface_version)
            .field("addr_ton", &self.addr_ton)
            .field("addr_npi", &self.addr_npi)
            .field("address_range", &self.address_range)
            .finish()
    }
}

impl std::fmt::Debug for BindRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindRequest")
            .field("sequence_number", &self.sequence_number)
            .field("bind_type", &self.bind_type)
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("interface_version", &self.interface_version)
            .field("address_range", &self.address_range)
            .finish()
    }
}

/// Why one of our requests will never get a usable response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LostReason {
    /// Nothing came back within `response_timeout`.
    #[error("no response within the response timeout")]
    Timeout,
    /// A response came back whose body did not decode; `header_status` is what it said.
    #[error("malformed response (header status {header_status:?})")]
    Malformed {
        /// `command_status` of the malformed response.
        header_status: CommandStatus,
    },
    /// The session closed while the request was outstanding.
    #[error("session closed: {0}")]
    Closed(CloseReason),
}

/// Outputs of the session for the application, drained with `Session::poll_event`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The bind completed (ESME: `bind_*_resp` OK; SMSC: the application accepted).
    Bound(Bound),
    /// SMSC role: a peer asks to bind (SMPP 3.4 §4.1). Answer with `accept_bind`/`reject_bind`.
    BindRequest(BindRequest),
    /// ESME role: the SMSC sent `outbind` (SMPP 3.4 §4.1.7); the ESME should bind as receiver.
    Outbind {
        /// The SMSC's `system_id`.
        system_id: String,
        /// The password the SMSC presented.
        password: String,
    },
    /// A peer request for the application (`submit_sm` at the SMSC, `deliver_sm`/`data_sm` at
    /// the ESME, …). Answer with `Session::respond`.
    Request {
        /// Sequence number to answer.
        sequence_number: u32,
        /// The request body.
        pdu: Pdu,
    },
    /// SMPP 3.4 §4.12 alert_notification (no response is sent).
    Alert(AlertNotification),
    /// The response to one of our requests (a `generic_nack` arrives here too, with no body).
    Response {
        /// Sequence number of our request.
        sequence_number: u32,
        /// The response's `command_status`.
        status: CommandStatus,
        /// The response's body, if it had one.
        body: Option<Pdu>,
    },
    /// One of our requests will get no usable response; whether the peer acted on it is unknown.
    ResponseLost {
        /// Sequence number of our request.
        sequence_number: u32,
        /// Why.
        reason: LostReason,
    },
    /// The session reached `Closed`; emitted once, last.
    Closed(CloseReason),
}

/// Why a request could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The state does not allow this PDU (e.g. `submit_sm` before binding or on a receiver bind);
    /// SMPP 3.4 §2.3.
    #[error("not allowed in the current session state")]
    InvalidState,
    /// The window is full; wait for a response.
    #[error("window full")]
    WindowFull,
    /// The session is closed.
    #[error("session closed")]
    Closed,
    /// Bind, unbind and responses have their own methods.
    #[error("use the dedicated method for this PDU")]
    NotARequest,
    /// A field exceeds its spec limit.
    #[error("field {0} exceeds its SMPP limit")]
    InvalidField(&'static str),
}

/// Why `Session::respond` (or `accept_bind`/`reject_bind`) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    /// No peer request with that sequence number awaits an answer.
    #[error("no pending request with sequence number {0}")]
    UnknownRequest(u32),
    /// The session is closed; the answer cannot be sent.
    #[error("session closed")]
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_bind_never_shows_its_password() {
        let params = BindParams::new(BindType::Transceiver, "acme", "s3cr3t!");
        let shown = format!("{params:?}");
        assert!(
            shown.contains("acme") && !shown.contains("s3cr3t!"),
            "{shown}"
        );
        let request = BindRequest {
            sequence_number: 1,
            bind_type: BindType::Transmitter,
            system_id: "acme".into(),
            password: "s3cr3t!".into(),
            system_type: String::new(),
            interface_version: params.interface_version,
            address_range: String::new(),
        };
        let shown = format!("{request:?}");
        assert!(
            shown.contains("acme") && !shown.contains("s3cr3t!"),
            "{shown}"
        );
    }
}
