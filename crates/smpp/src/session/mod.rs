//! The SMPP session core, without I/O (STYLE §1, quinn-proto's contract).
//!
//! One [`Session`] type serves both roles ([`Role::Esme`], [`Role::Smsc`]) and both SMPP 3.4 and
//! 5.0. It owns sequence numbers, the window of unacknowledged requests, response timeouts,
//! `enquire_link` keep-alive with dead-peer detection, the unbind handshake and the per-state
//! PDU tables (SMPP 3.4 §2.3, answered with `ESME_RINVBNDSTS`).
//!
//! # Calling order
//! 1. Feed inputs: [`Session::handle_bytes`] (or [`Session::handle_frame`]) with what the
//!    transport read, [`Session::handle_timeout`] when the deadline from
//!    [`Session::poll_timeout`] passes, [`Session::handle_transport_closed`] on EOF/error, and
//!    the application's calls ([`Session::bind`], [`Session::send_request`],
//!    [`Session::respond`], [`Session::unbind`], …).
//! 2. After any input, drain [`Session::poll_transmit`] into the transport and
//!    [`Session::poll_event`] into the application.
//! 3. Re-arm the timer with [`Session::poll_timeout`].
//! 4. Once [`Session::is_closed`], flush the remaining transmit bytes and close the transport.
//!
//! Time is passed in as `std::time::Instant`; tests drive a simulated clock by adding durations.

mod recv;
mod types;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tracing::debug;

use crate::counters::Counters;
use crate::pdu::{CommandId, CommandStatus, Frame, FrameDecoder, Pdu};
pub use types::*;

/// What an outstanding request of ours is, so its response or timeout is routed right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    App,
    Bind(BindType),
    Unbind,
    EnquireLink,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    kind: Kind,
    deadline: Instant,
}

/// An SMPP session: see the [module documentation](self) for the calling order.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    state: State,
    decoder: FrameDecoder,
    transmit: BytesMut,
    events: VecDeque<Event>,
    next_seq: u32,
    outstanding: HashMap<u32, Outstanding>,
    deadlines: BTreeSet<(Instant, u32)>,
    app_outstanding: usize,
    inbound: HashMap<u32, CommandId>,
    keepalive: Option<u32>,
    last_rx: Instant,
    opened_at: Instant,
    counters: Arc<Counters>,
}

impl Session {
    /// A session in state `Open` on a fresh connection.
    pub fn new(role: Role, config: SessionConfig, now: Instant) -> Self {
        Self::with_counters(role, config, now, Arc::default())
    }

    /// Like [`Session::new`], counting into shared counters.
    pub fn with_counters(
        role: Role,
        config: SessionConfig,
        now: Instant,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            role,
            decoder: FrameDecoder::new(config.max_command_length),
            config,
            state: State::Open { bind: None },
            transmit: BytesMut::new(),
            events: VecDeque::new(),
            next_seq: 1,
            outstanding: HashMap::new(),
            deadlines: BTreeSet::new(),
            app_outstanding: 0,
            inbound: HashMap::new(),
            keepalive: None,
            last_rx: now,
            opened_at: now,
            counters,
        }
    }

    /// This session's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current state (SMPP 3.4 §2.3).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The counters this session bumps.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Whether the session reached `Closed`.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Our application requests awaiting a response.
    pub fn in_flight(&self) -> usize {
        self.app_outstanding
    }

    /// Free slots in the window (0 when full).
    pub fn window_available(&self) -> usize {
        self.config.window.saturating_sub(self.app_outstanding)
    }

    /// Whether the current state lets us send `command` (SMPP 3.4 §2.3 tables).
    pub fn can_send(&self, command: CommandId) -> bool {
        let state = self.state.as_rusmpp();
        match self.role {
            Role::Esme => state.can_send_as_esme(command),
            Role::Smsc => state.can_send_as_mc(command),
        }
    }

    fn can_receive(&self, command: CommandId) -> bool {
        let state = self.state.as_rusmpp();
        match self.role {
            Role::Esme => state.can_receive_as_esme(command),
            Role::Smsc => state.can_receive_as_mc(command),
        }
    }

    // ---- outputs ----------------------------------------------------------------------------

    /// Bytes to write to the transport, all pending PDUs in one buffer; `None` if nothing.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.transmit.is_empty()).then(|| self.transmit.split().freeze())
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next instant at which [`Session::handle_timeout`] must be called; `None` if no timer
    /// is armed (closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.deadlines.first().map(|(deadline, _)| *deadline);
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match &self.state {
            State::Open { .. } if self.role == Role::Smsc => {
                consider(self.opened_at + self.config.bind_timeout)
            }
            State::BoundTx(_) | State::BoundRx(_) | State::BoundTrx(_)
                if self.keepalive.is_none() =>
            {
                consider(self.last_rx + self.config.enquire_link_interval)
            }
            _ => {}
        }
        next
    }

    // ---- inputs: time and transport ---------------------------------------------------------

    /// Fires the timers due at `now`: response timeouts, bind/unbind timeouts, keep-alive.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, seq)) = self.deadlines.first() {
            if deadline > now || self.is_closed() {
                break;
            }
            self.deadlines.pop_first();
            let Some(entry) = self.outstanding.remove(&seq) else {
                continue;
            };
            match entry.kind {
                Kind::App => {
                    self.app_outstanding -= 1;
                    Counters::bump(&self.counters.response_timeouts);
                    self.events.push_back(Event::ResponseLost {
                        sequence_number: seq,
                        reason: LostReason::Timeout,
                    });
                }
                Kind::Bind(_) => self.close(CloseReason::BindTimeout),
                Kind::Unbind => self.close(CloseReason::UnbindTimeout),
                Kind::EnquireLink => {
                    Counters::bump(&self.counters.dead_peer);
                    self.close(CloseReason::DeadPeer);
                }
            }
        }
        match &self.state {
            State::Open { .. }
                if self.role == Role::Smsc && now >= self.opened_at + self.config.bind_timeout =>
            {
                self.close(CloseReason::BindTimeout)
            }
            State::BoundTx(_) | State::BoundRx(_) | State::BoundTrx(_)
                if self.keepalive.is_none()
                    && now >= self.last_rx + self.config.enquire_link_interval =>
            {
                Counters::bump(&self.counters.enquire_links_sent);
                let seq = self.start_request(now, Pdu::EnquireLink, Kind::EnquireLink);
                self.keepalive = Some(seq);
            }
            _ => {}
        }
    }

    /// Feeds bytes read from the transport; decodes and handles every complete PDU.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.decoder.extend(bytes);
        while let Some(result) = self.decoder.next_frame() {
            match result {
                Ok(frame) => self.handle_frame(now, frame),
                Err(error) => self.handle_frame_error(error),
            }
            if self.is_closed() {
                break;
            }
        }
    }

    /// The transport reached EOF or failed: the session closes and every outstanding request is
    /// reported lost.
    pub fn handle_transport_closed(&mut self, reason: &str) {
        if !self.is_closed() {
            self.close(CloseReason::TransportClosed(reason.to_owned()));
        }
    }

    // ---- inputs: the application ------------------------------------------------------------

    /// ESME role: sends the bind (SMPP 3.4 §4.1). Allowed once, in `Open`.
    pub fn bind(&mut self, now: Instant, params: &BindParams) -> Result<u32, SendError> {
        if self.role != Role::Esme || !matches!(self.state, State::Open { bind: None }) {
            return Err(if self.is_closed() {
                SendError::Closed
            } else {
                SendError::InvalidState
            });
        }
        let pdu = params.to_pdu()?;
        let seq = self.start_request(now, pdu, Kind::Bind(params.bind_type));
        self.state = State::Open {
            bind: Some((seq, params.bind_type)),
        };
        Ok(seq)
    }

    /// SMSC role: accepts the pending bind, answering `bind_*_resp` with our `system_id` and the
    /// `sc_interface_version` TLV (SMPP 3.4 §4.1.2), and moves to the bound state.
    pub fn accept_bind(
        &mut self,
        sequence_number: u32,
        request: &BindRequest,
        our_system_id: &str,
    ) -> Result<(), RespondError> {
        self.check_pending_bind(sequence_number)?;
        let system_id = c_string::<16>(our_system_id, "system_id").unwrap_or_default();
        let version = Some(rusmpp::values::InterfaceVersion::Smpp3_4);
        let body: Pdu = match request.bind_type {
            BindType::Transmitter => {
                rusmpp::pdus::BindTransmitterResp::new(system_id, version).into()
            }
            BindType::Receiver => rusmpp::pdus::BindReceiverResp::new(system_id, version).into(),
            BindType::Transceiver => {
                rusmpp::pdus::BindTransceiverResp::new(system_id, version).into()
            }
        };
        self.enqueue(&Frame::new(CommandStatus::EsmeRok, sequence_number, body));
        let bound = Bound {
            bind_type: request.bind_type,
            peer_system_id: request.system_id.clone(),
            interface_version: Some(request.interface_version),
        };
        self.enter_bound(bound);
        Ok(())
    }

    /// SMSC role: rejects the pending bind with `status` (e.g. `ESME_RINVPASWD`) and stays
    /// `Open`, as SMPP 3.4 §4.1 allows the ESME to try again.
    pub fn reject_bind(
        &mut self,
        sequence_number: u32,
        bind_type: BindType,
        status: CommandStatus,
    ) -> Result<(), RespondError> {
        self.check_pending_bind(sequence_number)?;
        let id = bind_type.command_id().matching_response();
        self.enqueue(&Frame::bodiless(id, status, sequence_number));
        self.state = State::Open { bind: None };
        Ok(())
    }

    fn check_pending_bind(&self, sequence_number: u32) -> Result<(), RespondError> {
        match &self.state {
            State::Open {
                bind: Some((seq, _)),
            } if *seq == sequence_number => Ok(()),
            State::Closed(_) => Err(RespondError::Closed),
            _ => Err(RespondError::UnknownRequest(sequence_number)),
        }
    }

    /// Sends an application request (`submit_sm`, `deliver_sm`, `query_sm`, …) and returns its
    /// sequence number. Fails if the state forbids it or the window is full.
    pub fn send_request(&mut self, now: Instant, pdu: impl Into<Pdu>) -> Result<u32, SendError> {
        let pdu = pdu.into();
        let id = pdu.command_id();
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let dedicated = BindType::from_command_id(id).is_some()
            || matches!(id, CommandId::Unbind | CommandId::Outbind);
        if dedicated || !id.is_operation() {
            return Err(SendError::NotARequest);
        }
        if !self.can_send(id) {
            return Err(SendError::InvalidState);
        }
        if id == CommandId::AlertNotification {
            // SMPP 3.4 §4.12: alert_notification has no response.
            let seq = self.next_sequence_number();
            self.enqueue(&Frame::new(CommandStatus::EsmeRok, seq, pdu));
            return Ok(seq);
        }
        if self.app_outstanding >= self.config.window {
            return Err(SendError::WindowFull);
        }
        self.app_outstanding += 1;
        Ok(self.start_request(now, pdu, Kind::App))
    }

    /// Answers a peer request delivered as [`Event::Request`]. With `ESME_ROK` and no body, the
    /// default body of the response type is sent (e.g. `deliver_sm_resp` with an empty
    /// `message_id`); with an error status the response has no body (SMPP 3.4 §4).
    pub fn respond(
        &mut self,
        sequence_number: u32,
        status: CommandStatus,
        body: Option<Pdu>,
    ) -> Result<(), RespondError> {
        if self.is_closed() {
            return Err(RespondError::Closed);
        }
        let id = self
            .inbound
            .remove(&sequence_number)
            .ok_or(RespondError::UnknownRequest(sequence_number))?;
        let resp_id = id.matching_response();
        let frame = match body {
            Some(body) if body.command_id() == resp_id => Frame::new(status, sequence_number, body),
            _ if status != CommandStatus::EsmeRok => {
                Frame::bodiless(resp_id, status, sequence_number)
            }
            _ => match default_response_body(resp_id) {
                Some(body) => Frame::new(status, sequence_number, body),
                None => Frame::bodiless(resp_id, status, sequence_number),
            },
        };
        self.enqueue(&frame);
        Ok(())
    }

    /// Starts the unbind handshake (SMPP 3.4 §4.2): sends `unbind`, moves to `Unbound` and
    /// closes on `unbind_resp` or after `response_timeout`. Outside a bound state the session
    /// simply closes.
    pub fn unbind(&mut self, now: Instant) {
        if self.state.bound().is_some() {
            self.start_request(now, Pdu::Unbind, Kind::Unbind);
            self.state = State::Unbound;
        } else if !self.is_closed() && !matches!(self.state, State::Unbound) {
            self.close(CloseReason::Unbound);
        }
    }

    /// Closes at once without unbinding; outstanding requests are reported lost.
    pub fn close_now(&mut self) {
        if !self.is_closed() {
            self.close(CloseReason::Local);
        }
    }

    // ---- internals --------------------------------------------------------------------------

    fn next_sequence_number(&mut self) -> u32 {
        // SMPP 3.4 §5.1.4 (sequence_number): 0x00000001 ..= 0x7FFFFFFF, then wrap.
        loop {
            let seq = self.next_seq;
            self.next_seq = if seq >= 0x7FFF_FFFF { 1 } else { seq + 1 };
            if !self.outstanding.contains_key(&seq) {
                return seq;
            }
        }
    }

    fn start_request(&mut self, now: Instant, pdu: Pdu, kind: Kind) -> u32 {
        let seq = self.next_sequence_number();
        let timeout = match kind {
            Kind::Bind(_) => self.config.bind_timeout,
            _ => self.config.response_timeout,
        };
        let deadline = now + timeout;
        self.outstanding.insert(seq, Outstanding { kind, deadline });
        self.deadlines.insert((deadline, seq));
        self.enqueue(&Frame::new(CommandStatus::EsmeRok, seq, pdu));
        seq
    }

    fn resolve(&mut self, seq: u32) -> Option<Kind> {
        let entry = self.outstanding.remove(&seq)?;
        self.deadlines.remove(&(entry.deadline, seq));
        if entry.kind == Kind::App {
            self.app_outstanding -= 1;
        }
        Some(entry.kind)
    }

    fn enqueue(&mut self, frame: &Frame) {
        debug!(
            command = ?frame.command_id(),
            status = ?frame.status(),
            seq = frame.sequence_number(),
            "pdu out"
        );
        Counters::bump(&self.counters.pdus_out);
        frame.encode(&mut self.transmit);
    }

    fn enter_bound(&mut self, bound: Bound) {
        self.state = match bound.bind_type {
            BindType::Transmitter => State::BoundTx(bound.clone()),
            BindType::Receiver => State::BoundRx(bound.clone()),
            BindType::Transceiver => State::BoundTrx(bound.clone()),
        };
        self.events.push_back(Event::Bound(bound));
    }

    fn close(&mut self, reason: CloseReason) {
        debug!(%reason, "session closed");
        let mut lost: Vec<(u32, Kind)> = self
            .outstanding
            .drain()
            .map(|(seq, entry)| (seq, entry.kind))
            .collect();
        lost.sort_unstable_by_key(|(seq, _)| *seq);
        for (seq, kind) in lost {
            if kind == Kind::App {
                self.events.push_back(Event::ResponseLost {
                    sequence_number: seq,
                    reason: LostReason::Closed(reason.clone()),
                });
            }
        }
        self.deadlines.clear();
        self.app_outstanding = 0;
        self.inbound.clear();
        self.keepalive = None;
        self.state = State::Closed(reason.clone());
        self.events.push_back(Event::Closed(reason));
    }
}

/// The body of a successful response that the application did not supply.
fn default_response_body(resp_id: CommandId) -> Option<Pdu> {
    use rusmpp::pdus::{DataSmResp, DeliverSmResp, SubmitSmResp};
    let empty = || c_string::<65>("", "message_id").unwrap_or_default();
    match resp_id {
        CommandId::DeliverSmResp => Some(DeliverSmResp::new(empty(), Vec::new()).into()),
        CommandId::DataSmResp => Some(DataSmResp::new(empty(), Vec::new()).into()),
        CommandId::SubmitSmResp => Some(SubmitSmResp::new(empty(), Vec::new()).into()),
        CommandId::CancelSmResp => Some(Pdu::CancelSmResp),
        CommandId::ReplaceSmResp => Some(Pdu::ReplaceSmResp),
        _ => None,
    }
}
