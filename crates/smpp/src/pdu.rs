//! PDU framing: the 16-octet header, bodies through `rusmpp`, and the stream splitter.
//!
//! SMPP 3.4 §3.2 / SMPP 5.0 §3.2: every PDU is `command_length`, `command_id`, `command_status`,
//! `sequence_number` (four big-endian u32) followed by a body. We parse the header ourselves so
//! that a bad length, an unknown command or an undecodable body still yields the sequence number
//! needed to answer with `generic_nack` or the command's `_resp` and the right error status
//! (SMPP 3.4 §5.1.3). Bodies are decoded and encoded by `rusmpp`, the chosen codec.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rusmpp::decode::{DecodeError, DecodeErrorKind, DecodeWithKeyOptional};
use rusmpp::encode::{Length, owned::Encode};
use rusmpp::fields::SmppField;

pub use rusmpp::{CommandId, CommandStatus, Pdu};

/// SMPP 3.4 §3.2: the header is four u32 fields.
pub const HEADER_LEN: usize = 16;

/// Default upper bound for `command_length`. SMPP 3.4 sets no maximum; the largest legal body
/// carries a 64 KiB `message_payload` TLV (§5.3.2.32), so anything larger is garbage.
pub const DEFAULT_MAX_COMMAND_LENGTH: usize = 64 * 1024 + 1024;

/// One PDU with its header (SMPP 3.4 §3.2).
///
/// `body` is `None` for responses sent without a body, which SMPP 3.4 §4 allows (and requires)
/// when `command_status` is not `ESME_ROK`, e.g. a failed `submit_sm_resp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    command_id: CommandId,
    status: CommandStatus,
    sequence_number: u32,
    body: Option<Pdu>,
}

impl Frame {
    /// A PDU whose `command_id` is taken from its body.
    pub fn new(status: CommandStatus, sequence_number: u32, pdu: impl Into<Pdu>) -> Self {
        let pdu = pdu.into();
        Self {
            command_id: pdu.command_id(),
            status,
            sequence_number,
            body: Some(pdu),
        }
    }

    /// A PDU without a body, e.g. an error `_resp` (SMPP 3.4 §4.4.2: "the body is not returned if
    /// the command_status field contains a non-zero value").
    /// Commands that never carry a body (`enquire_link`, `generic_nack`, …) get their unit
    /// `Pdu` variant, so that a frame compares equal to its decoded self.
    pub fn bodiless(command_id: CommandId, status: CommandStatus, sequence_number: u32) -> Self {
        Self {
            command_id,
            status,
            sequence_number,
            body: unit_pdu(command_id),
        }
    }

    /// SMPP 3.4 §4.3.1 generic_nack: the answer to a PDU whose header we could not accept.
    pub fn generic_nack(status: CommandStatus, sequence_number: u32) -> Self {
        Self::bodiless(CommandId::GenericNack, status, sequence_number)
    }

    /// The command this PDU carries (SMPP 3.4 §5.1.2).
    pub fn command_id(&self) -> CommandId {
        self.command_id
    }

    /// `command_status`: `ESME_ROK` in requests, the result in responses (SMPP 3.4 §5.1.3).
    pub fn status(&self) -> CommandStatus {
        self.status
    }

    /// `sequence_number`, which ties a response to its request (SMPP 3.4 §3.2).
    pub fn sequence_number(&self) -> u32 {
        self.sequence_number
    }

    /// The decoded body, if the PDU has one.
    pub fn body(&self) -> Option<&Pdu> {
        self.body.as_ref()
    }

    /// Takes the body out of the frame.
    pub fn into_body(self) -> Option<Pdu> {
        self.body
    }

    /// Whether this PDU is a response (the high bit of `command_id` is set; SMPP 3.4 §5.1.2).
    pub fn is_response(&self) -> bool {
        self.command_id.is_response()
    }

    /// The encoded length of the whole PDU, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body.as_ref().map_or(0, Length::length)
    }

    /// Appends the encoded PDU to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = self.encoded_len();
        dst.reserve(len);
        // A body is at most a few KiB plus a 64 KiB TLV, so the length always fits in u32.
        dst.put_u32(len as u32);
        dst.put_u32(self.command_id.into());
        dst.put_u32(self.status.into());
        dst.put_u32(self.sequence_number);
        if let Some(body) = &self.body {
            body.encode(dst);
        }
    }

    /// The encoded PDU as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        buf.freeze()
    }
}

/// The four header fields as read from the wire, before any validation (SMPP 3.4 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total PDU length, header included.
    pub command_length: u32,
    /// Raw command id.
    pub command_id: u32,
    /// Raw command status.
    pub command_status: u32,
    /// Sequence number.
    pub sequence_number: u32,
}

impl Header {
    /// Reads a header from the first 16 octets of `buf`, if there are that many.
    pub fn peek(buf: &[u8]) -> Option<Header> {
        let mut b = buf.get(..HEADER_LEN)?;
        Some(Header {
            command_length: b.get_u32(),
            command_id: b.get_u32(),
            command_status: b.get_u32(),
            sequence_number: b.get_u32(),
        })
    }
}

/// Why a PDU could not be accepted. Each variant knows the status and the answer the spec asks
/// for (SMPP 3.4 §5.1.3); peers' garbage surfaces here and in counters, never as a panic or log
/// above `debug`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// `command_length` is below the 16-octet header. The stream cannot be re-synchronised: the
    /// session answers `generic_nack` with `ESME_RINVCMDLEN` and closes.
    #[error("command_length {length} is shorter than the 16-octet header")]
    TooShort {
        /// The declared length.
        length: u32,
        /// The sequence number, when the rest of the header was available.
        sequence_number: Option<u32>,
    },
    /// `command_length` exceeds the configured maximum. Answered like [`FrameError::TooShort`]:
    /// `generic_nack` + `ESME_RINVCMDLEN`, then the session closes rather than buffer the body.
    #[error("command_length {length} exceeds the maximum of {max}")]
    TooLong {
        /// The declared length.
        length: u32,
        /// The configured maximum.
        max: usize,
        /// The sequence number from the header.
        sequence_number: u32,
    },
    /// `command_id` is not an SMPP operation: `generic_nack` with `ESME_RINVCMDID` (SMPP 3.4
    /// §4.3); framing is intact and the session continues.
    #[error("unknown command_id {command_id:#010x}")]
    UnknownCommand {
        /// The raw command id.
        command_id: u32,
        /// The sequence number from the header.
        sequence_number: u32,
    },
    /// The body does not decode (truncated, bad C-string, bad TLV, …). A request is answered
    /// with its `_resp` carrying `status`; a response resolves its request as malformed.
    #[error("{command_id:?} body does not decode: {detail}")]
    Body {
        /// The command whose body failed.
        command_id: CommandId,
        /// The status the header carried (relevant for malformed responses).
        header_status: CommandStatus,
        /// The sequence number from the header.
        sequence_number: u32,
        /// The error status to answer with (`ESME_RINVCMDLEN`, `ESME_RINVMSGLEN`, …).
        status: CommandStatus,
        /// What `rusmpp` reported.
        detail: String,
    },
}

impl FrameError {
    /// Whether the byte stream can no longer be framed and the session must close.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FrameError::TooShort { .. } | FrameError::TooLong { .. }
        )
    }

    /// The error status for this failure (SMPP 3.4 §5.1.3).
    pub fn status(&self) -> CommandStatus {
        match self {
            FrameError::TooShort { .. } | FrameError::TooLong { .. } => {
                CommandStatus::EsmeRinvcmdlen
            }
            FrameError::UnknownCommand { .. } => CommandStatus::EsmeRinvcmdid,
            FrameError::Body { status, .. } => *status,
        }
    }

    /// The PDU to send back, if any: `generic_nack` for header faults, the command's error
    /// `_resp` for a bad request body, nothing for a bad response body (responses are never
    /// answered; SMPP 3.4 §2.7).
    pub fn reply(&self) -> Option<Frame> {
        match self {
            FrameError::TooShort {
                sequence_number, ..
            } => Some(Frame::generic_nack(
                self.status(),
                sequence_number.unwrap_or(0),
            )),
            FrameError::TooLong {
                sequence_number, ..
            }
            | FrameError::UnknownCommand {
                sequence_number, ..
            } => Some(Frame::generic_nack(self.status(), *sequence_number)),
            FrameError::Body {
                command_id,
                sequence_number,
                status,
                ..
            } => {
                if command_id.is_response() {
                    None
                } else {
                    Some(Frame::bodiless(
                        command_id.matching_response(),
                        *status,
                        *sequence_number,
                    ))
                }
            }
        }
    }
}

/// The unit `Pdu` variant of a command without a body.
fn unit_pdu(id: CommandId) -> Option<Pdu> {
    Some(match id {
        CommandId::Unbind => Pdu::Unbind,
        CommandId::UnbindResp => Pdu::UnbindResp,
        CommandId::EnquireLink => Pdu::EnquireLink,
        CommandId::EnquireLinkResp => Pdu::EnquireLinkResp,
        CommandId::GenericNack => Pdu::GenericNack,
        CommandId::CancelSmResp => Pdu::CancelSmResp,
        CommandId::ReplaceSmResp => Pdu::ReplaceSmResp,
        CommandId::CancelBroadcastSmResp => Pdu::CancelBroadcastSmResp,
        _ => return None,
    })
}

/// Maps a body decode failure to the most specific error status (SMPP 3.4 §5.1.3).
fn status_for(error: &DecodeError) -> CommandStatus {
    use SmppField as F;
    let table = [
        (F::short_message, CommandStatus::EsmeRinvmsglen),
        (F::sm_length, CommandStatus::EsmeRinvmsglen),
        (F::message_payload, CommandStatus::EsmeRinvmsglen),
        (F::tlvs, CommandStatus::EsmeRinvtlvstream),
        (F::source_addr, CommandStatus::EsmeRinvsrcadr),
        (F::destination_addr, CommandStatus::EsmeRinvdstadr),
        (F::system_id, CommandStatus::EsmeRinvsysid),
        (F::password, CommandStatus::EsmeRinvpaswd),
        (F::service_type, CommandStatus::EsmeRinvsertyp),
        (F::schedule_delivery_time, CommandStatus::EsmeRinvsched),
        (F::validity_period, CommandStatus::EsmeRinvexpiry),
        (F::message_id, CommandStatus::EsmeRinvmsgid),
        (F::system_type, CommandStatus::EsmeRinvsystyp),
        (F::number_of_dests, CommandStatus::EsmeRinvnumdests),
    ];
    for (field, status) in table {
        if error.field_exists(field) {
            return status;
        }
    }
    match error.kind() {
        DecodeErrorKind::UnexpectedEof => CommandStatus::EsmeRinvcmdlen,
        _ => CommandStatus::EsmeRinvcmdlen,
    }
}

/// Decodes exactly one PDU. `pdu` must hold the whole PDU, header included, and
/// `command_length` must equal `pdu.len()` (the [`FrameDecoder`] guarantees both).
pub fn decode_frame(pdu: &[u8]) -> Result<Frame, FrameError> {
    let Some(header) = Header::peek(pdu) else {
        return Err(FrameError::TooShort {
            length: pdu.len() as u32,
            sequence_number: None,
        });
    };
    let id = CommandId::from(header.command_id);
    let status = CommandStatus::from(header.command_status);
    let seq = header.sequence_number;
    if let CommandId::Other(raw) = id {
        return Err(FrameError::UnknownCommand {
            command_id: raw,
            sequence_number: seq,
        });
    }
    let body_len = pdu.len() - HEADER_LEN;
    let body_error = |status: CommandStatus, detail: String| FrameError::Body {
        command_id: id,
        header_status: CommandStatus::from(header.command_status),
        sequence_number: seq,
        status,
        detail,
    };
    if let Some(unit) = unit_pdu(id) {
        // Padding after a bodiless command is tolerated: command_length rules (SMPP 3.4 §3.2).
        return Ok(Frame {
            command_id: id,
            status,
            sequence_number: seq,
            body: Some(unit),
        });
    }
    if body_len == 0 {
        if id.is_response() {
            return Ok(Frame {
                command_id: id,
                status,
                sequence_number: seq,
                body: None,
            });
        }
        return Err(body_error(
            CommandStatus::EsmeRinvcmdlen,
            "empty body".into(),
        ));
    }
    let mut src = BytesMut::from(&pdu[HEADER_LEN..]);
    match Pdu::decode(id, &mut src, body_len) {
        // rusmpp believes inner lengths (a TLV's value_length, a C-string inside a TLV) without
        // checking them against each other, and leaves octets after the last field unread. Accept
        // only a body it read whole and would write back at the same length, so that what we act
        // on is what the peer sent (found by the `smpp_pdu` fuzz target: a replace_sm whose
        // message_payload slot held another TLV with a value_length past the body).
        Ok(Some((body, read))) if read != body_len || body.length() != body_len => Err(body_error(
            CommandStatus::EsmeRinvcmdlen,
            format!(
                "body of {body_len} octets decodes from {read} octets and re-encodes to {}",
                body.length()
            ),
        )),
        Ok(Some((body, _))) => Ok(Frame {
            command_id: id,
            status,
            sequence_number: seq,
            body: Some(body),
        }),
        Ok(None) => Err(body_error(
            CommandStatus::EsmeRinvcmdlen,
            "no body decoded".into(),
        )),
        Err(error) => Err(body_error(status_for(&error), error.to_string())),
    }
}

/// Splits a byte stream into PDUs, checking `command_length` against the maximum before the
/// body is buffered (SMPP 3.4 §3.2). Fed with [`FrameDecoder::extend`], drained with
/// [`FrameDecoder::next_frame`] until it returns `None`.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_command_length: usize,
    poisoned: bool,
}

impl FrameDecoder {
    /// A decoder that rejects PDUs longer than `max_command_length` octets.
    pub fn new(max_command_length: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_command_length,
            poisoned: false,
        }
    }

    /// Buffers bytes read from the transport.
    pub fn extend(&mut self, bytes: &[u8]) {
        if !self.poisoned {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Octets buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete PDU, a framing error, or `None` when more bytes are needed. After a
    /// fatal error the decoder yields nothing more.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        if self.poisoned || self.buf.len() < 4 {
            return None;
        }
        let length = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let header = Header::peek(&self.buf);
        if (length as usize) < HEADER_LEN {
            self.poisoned = true;
            self.buf.clear();
            let sequence_number = header.map(|h| h.sequence_number);
            return Some(Err(FrameError::TooShort {
                length,
                sequence_number,
            }));
        }
        let header = header?;
        if length as usize > self.max_command_length {
            self.poisoned = true;
            self.buf.clear();
            return Some(Err(FrameError::TooLong {
                length,
                max: self.max_command_length,
                sequence_number: header.sequence_number,
            }));
        }
        if self.buf.len() < length as usize {
            self.buf.reserve(length as usize - self.buf.len());
            return None;
        }
        let pdu = self.buf.split_to(length as usize);
        Some(decode_frame(&pdu))
    }
}
