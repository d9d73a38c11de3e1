//! Inbound PDUs: one `match` over what arrived, by state (STYLE §3).

use std::time::Instant;

use tracing::debug;

use super::{BindRequest, BindType, Bound, CloseReason, Event, Kind, LostReason, Session, State};
use crate::counters::Counters;
use crate::pdu::{CommandId, CommandStatus, Frame, FrameError, Pdu};

impl Session {
    /// Handles one decoded PDU (the `handle_pdu` input, for drivers that frame themselves).
    pub fn handle_frame(&mut self, now: Instant, frame: Frame) {
        if self.is_closed() {
            return;
        }
        Counters::bump(&self.counters.pdus_in);
        debug!(
            command = ?frame.command_id(),
            status = ?frame.status(),
            seq = frame.sequence_number(),
            "pdu in"
        );
        self.last_rx = now;
        if frame.is_response() {
            self.handle_response(frame);
        } else {
            self.handle_request(now, frame);
        }
    }

    pub(super) fn handle_frame_error(&mut self, error: FrameError) {
        debug!(%error, "undecodable pdu");
        match &error {
            FrameError::TooShort { .. } | FrameError::TooLong { .. } => {
                Counters::bump(&self.counters.invalid_length)
            }
            FrameError::UnknownCommand { .. } => Counters::bump(&self.counters.unknown_command),
            FrameError::Body { .. } => Counters::bump(&self.counters.malformed_body),
        }
        if let Some(reply) = error.reply() {
            self.enqueue(&reply);
        }
        if error.is_fatal() {
            self.close(CloseReason::ProtocolError(error.to_string()));
            return;
        }
        if let FrameError::Body {
            command_id,
            sequence_number,
            header_status,
            ..
        } = error
            && command_id.is_response()
        {
            self.malformed_response(sequence_number, header_status);
        }
    }

    fn malformed_response(&mut self, seq: u32, header_status: CommandStatus) {
        match self.resolve(seq) {
            Some(Kind::App) => self.events.push_back(Event::ResponseLost {
                sequence_number: seq,
                reason: LostReason::Malformed { header_status },
            }),
            Some(Kind::Bind(_)) => self.close(CloseReason::BindRejected(header_status)),
            Some(Kind::Unbind) => self.close(CloseReason::Unbound),
            Some(Kind::EnquireLink) => self.keepalive = None,
            None => Counters::bump(&self.counters.unexpected_response),
        }
    }

    fn handle_response(&mut self, frame: Frame) {
        let seq = frame.sequence_number();
        let is_nack = frame.command_id() == CommandId::GenericNack;
        if is_nack {
            Counters::bump(&self.counters.generic_nack_in);
        }
        match self.resolve(seq) {
            Some(Kind::App) => self.events.push_back(Event::Response {
                sequence_number: seq,
                status: frame.status(),
                body: frame.into_body(),
            }),
            Some(Kind::Bind(bind_type)) => self.bind_response(bind_type, frame),
            Some(Kind::Unbind) => self.close(CloseReason::Unbound),
            Some(Kind::EnquireLink) => self.keepalive = None,
            None => {
                Counters::bump(&self.counters.unexpected_response);
                // SMPP 3.4 §4.3: a generic_nack with sequence number 0 answers a PDU whose
                // header was unreadable; nothing of ours to resolve.
            }
        }
    }

    fn bind_response(&mut self, bind_type: BindType, frame: Frame) {
        if frame.status() != CommandStatus::EsmeRok {
            self.close(CloseReason::BindRejected(frame.status()));
            return;
        }
        let (peer_system_id, interface_version) = match frame.body() {
            Some(Pdu::BindTransmitterResp(r)) => {
                (r.system_id.as_str().to_owned(), r.sc_interface_version())
            }
            Some(Pdu::BindReceiverResp(r)) => {
                (r.system_id.as_str().to_owned(), r.sc_interface_version())
            }
            Some(Pdu::BindTransceiverResp(r)) => {
                (r.system_id.as_str().to_owned(), r.sc_interface_version())
            }
            _ => (String::new(), None),
        };
        self.enter_bound(Bound {
            bind_type,
            peer_system_id,
            interface_version,
        });
    }

    fn handle_request(&mut self, now: Instant, frame: Frame) {
        let id = frame.command_id();
        let seq = frame.sequence_number();
        let _ = now;
        // enquire_link is answered in every open state (SMPP 3.4 §4.11).
        if id == CommandId::EnquireLink {
            self.enqueue(&Frame::new(
                CommandStatus::EsmeRok,
                seq,
                Pdu::EnquireLinkResp,
            ));
            return;
        }
        if matches!(
            id,
            CommandId::BroadcastSm | CommandId::QueryBroadcastSm | CommandId::CancelBroadcastSm
        ) {
            // SMPP 5.0 §4.6 broadcast operations are not offered by this gateway.
            Counters::bump(&self.counters.unknown_command);
            self.enqueue(&Frame::generic_nack(CommandStatus::EsmeRinvcmdid, seq));
            return;
        }
        if let Some(bind_type) = BindType::from_command_id(id) {
            self.bind_request(bind_type, frame);
            return;
        }
        if !self.can_receive(id) {
            Counters::bump(&self.counters.invalid_bind_state);
            if id != CommandId::AlertNotification && id != CommandId::Outbind {
                let resp = id.matching_response();
                self.enqueue(&Frame::bodiless(resp, CommandStatus::EsmeRinvbndsts, seq));
            }
            return;
        }
        match (id, frame.into_body()) {
            (CommandId::Unbind, _) => {
                self.enqueue(&Frame::new(CommandStatus::EsmeRok, seq, Pdu::UnbindResp));
                self.close(CloseReason::Unbound);
            }
            (CommandId::Outbind, Some(Pdu::Outbind(o))) => self.events.push_back(Event::Outbind {
                system_id: o.system_id.as_str().to_owned(),
                password: o.password.as_str().to_owned(),
            }),
            (CommandId::AlertNotification, Some(Pdu::AlertNotification(a))) => {
                self.events.push_back(Event::Alert(a))
            }
            (_, Some(pdu)) => {
                if self.inbound.len() >= self.config.inbound_window {
                    Counters::bump(&self.counters.throttled_out);
                    let resp = id.matching_response();
                    self.enqueue(&Frame::bodiless(resp, CommandStatus::EsmeRthrottled, seq));
                    return;
                }
                self.inbound.insert(seq, id);
                self.events.push_back(Event::Request {
                    sequence_number: seq,
                    pdu,
                });
            }
            (_, None) => {
                Counters::bump(&self.counters.malformed_body);
                let resp = id.matching_response();
                self.enqueue(&Frame::bodiless(resp, CommandStatus::EsmeRinvcmdlen, seq));
            }
        }
    }

    fn bind_request(&mut self, bind_type: BindType, frame: Frame) {
        let seq = frame.sequence_number();
        let resp = bind_type.command_id().matching_response();
        let status = match &self.state {
            _ if self.role == super::Role::Esme => Some(CommandStatus::EsmeRinvbndsts),
            State::Open { bind: None } => None,
            State::Open { bind: Some(_) } => Some(CommandStatus::EsmeRinvbndsts),
            State::BoundTx(_) | State::BoundRx(_) | State::BoundTrx(_) => {
                Some(CommandStatus::EsmeRalybnd)
            }
            State::Unbound | State::Closed(_) => Some(CommandStatus::EsmeRinvbndsts),
        };
        if let Some(status) = status {
            Counters::bump(&self.counters.invalid_bind_state);
            self.enqueue(&Frame::bodiless(resp, status, seq));
            return;
        }
        let fields = match frame.into_body() {
            Some(Pdu::BindTransmitter(b)) => Some((
                b.system_id,
                b.password,
                b.system_type,
                b.interface_version,
                b.address_range,
            )),
            Some(Pdu::BindReceiver(b)) => Some((
                b.system_id,
                b.password,
                b.system_type,
                b.interface_version,
                b.address_range,
            )),
            Some(Pdu::BindTransceiver(b)) => Some((
                b.system_id,
                b.password,
                b.system_type,
                b.interface_version,
                b.address_range,
            )),
            _ => None,
        };
        let Some((system_id, password, system_type, interface_version, address_range)) = fields
        else {
            Counters::bump(&self.counters.malformed_body);
            self.enqueue(&Frame::bodiless(resp, CommandStatus::EsmeRinvcmdlen, seq));
            return;
        };
        self.state = State::Open {
            bind: Some((seq, bind_type)),
        };
        self.events.push_back(Event::BindRequest(BindRequest {
            sequence_number: seq,
            bind_type,
            system_id: system_id.as_str().to_owned(),
            password: password.as_str().to_owned(),
            system_type: system_type.as_str().to_owned(),
            interface_version,
            address_range: address_range.as_str().to_owned(),
        }));
    }
}
