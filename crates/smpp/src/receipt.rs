//! Delivery receipts: parsing what SMSCs send and normalising message ids for correlation.
//!
//! A receipt is a `deliver_sm` (or `data_sm`) with `esm_class` message type 0x04 (SMPP 3.4
//! §5.2.12). Its facts come from the `receipted_message_id`, `message_state` and
//! `network_error_code` TLVs (SMPP 3.4 §5.3.2.12, §5.3.2.35, §5.3.2.31) when present, and from
//! the de-facto text format of SMPP 3.4 Appendix B otherwise:
//! `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
//! err:E text:...`. SMSCs disagree on how they write ids (hex in `submit_sm_resp`, decimal in
//! the receipt, leading zeros, case), so [`MessageIdFormat`] normalises both sides.

use rusmpp::pdus::{DataSm, DeliverSm};
use rusmpp::tlvs::MessageDeliveryRequestTlvValue as DeliveryTlv;
use rusmpp::tlvs::{Tlv, TlvValue};
use rusmpp::types::OctetString;
use rusmpp::values::{DataCoding, EsmClass, MessageState, NetworkErrorCode};

use crate::address::SmppAddr;
use crate::session::c_string;

/// The final (or intermediate) state a receipt reports (SMPP 3.4 §5.2.28 and Appendix B).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReceiptState {
    /// ENROUTE: still trying (intermediate).
    Enroute,
    /// DELIVRD: delivered to the handset.
    Delivered,
    /// EXPIRED: validity period passed.
    Expired,
    /// DELETED: deleted by the SMSC or a `cancel_sm`.
    Deleted,
    /// UNDELIV: undeliverable.
    Undeliverable,
    /// ACCEPTD: accepted on behalf of the subscriber (intermediate in most networks).
    Accepted,
    /// UNKNOWN: state unknown.
    Unknown,
    /// REJECTD: rejected by the network.
    Rejected,
    /// SKIPPED (SMPP 5.0): skipped.
    Skipped,
    /// Anything else an SMSC wrote.
    Other(String),
}

impl ReceiptState {
    /// Parses the `stat:` field, accepting the 7-letter Appendix B words and spelled-out forms.
    pub fn from_text(stat: &str) -> Self {
        match stat.trim().to_ascii_uppercase().as_str() {
            "ENROUTE" => Self::Enroute,
            "DELIVRD" | "DELIVERED" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" | "UNDELIVERABLE" => Self::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => Self::Accepted,
            "UNKNOWN" => Self::Unknown,
            "REJECTD" | "REJECTED" => Self::Rejected,
            "SKIPPED" => Self::Skipped,
            other => Self::Other(other.to_owned()),
        }
    }

    /// From the `message_state` TLV (SMPP 3.4 §5.2.28).
    pub fn from_message_state(state: MessageState) -> Self {
        match state {
            MessageState::Enroute => Self::Enroute,
            MessageState::Delivered => Self::Delivered,
            MessageState::Expired => Self::Expired,
            MessageState::Deleted => Self::Deleted,
            MessageState::Undeliverable => Self::Undeliverable,
            MessageState::Accepted => Self::Accepted,
            MessageState::Unknown => Self::Unknown,
            MessageState::Rejected => Self::Rejected,
            MessageState::Skipped => Self::Skipped,
            other => Self::Other(format!("{:?}", other)),
        }
    }

    /// The `message_state` TLV value for this state.
    pub fn to_message_state(&self) -> MessageState {
        match self {
            Self::Enroute => MessageState::Enroute,
            Self::Delivered => MessageState::Delivered,
            Self::Expired => MessageState::Expired,
            Self::Deleted => MessageState::Deleted,
            Self::Undeliverable => MessageState::Undeliverable,
            Self::Accepted => MessageState::Accepted,
            Self::Rejected => MessageState::Rejected,
            Self::Skipped => MessageState::Skipped,
            Self::Unknown | Self::Other(_) => MessageState::Unknown,
        }
    }

    /// The Appendix B `stat:` word.
    pub fn as_text(&self) -> &str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
            Self::Skipped => "SKIPPED",
            Self::Other(s) => s,
        }
    }

    /// Whether no further receipt is expected for the message.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Enroute | Self::Accepted | Self::Unknown)
    }
}

/// The fields of an Appendix B text receipt; every field optional except `id` and `stat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextReceipt {
    /// `id:` as written.
    pub id: String,
    /// `sub:` messages submitted.
    pub submitted: Option<String>,
    /// `dlvrd:` messages delivered.
    pub delivered: Option<String>,
    /// `submit date:` (`YYMMDDhhmm`, optionally `ss`).
    pub submit_date: Option<String>,
    /// `done date:` (`YYMMDDhhmm`, optionally `ss`).
    pub done_date: Option<String>,
    /// `stat:` word.
    pub stat: String,
    /// `err:` network-specific error code.
    pub err: Option<String>,
    /// `text:` first characters of the message.
    pub text: Option<String>,
}

const KEYS: [&str; 8] = [
    "id:",
    "sub:",
    "dlvrd:",
    "submit date:",
    "done date:",
    "stat:",
    "err:",
    "text:",
];

/// Parses an Appendix B text receipt. Keys are matched case-insensitively at word starts, in any
/// order; `text:` takes the rest of the line. `None` without both `id:` and `stat:`.
pub fn parse_text(receipt: &str) -> Option<TextReceipt> {
    let lower = receipt.to_ascii_lowercase();
    let mut found: Vec<(usize, usize)> = Vec::new(); // (position, key index)
    for (k, key) in KEYS.iter().enumerate() {
        let mut from = 0;
        while let Some(rel) = lower[from..].find(key) {
            let pos = from + rel;
            let at_word_start = pos == 0 || lower.as_bytes()[pos - 1].is_ascii_whitespace();
            // "submit date:"/"done date:" must not be mistaken for a bare "date:"-like key.
            if at_word_start && !found.iter().any(|&(p, _)| p == pos) {
                found.push((pos, k));
                break;
            }
            from = pos + key.len();
        }
    }
    found.sort_unstable();
    let mut out = TextReceipt::default();
    let (mut has_id, mut has_stat) = (false, false);
    for (i, &(pos, k)) in found.iter().enumerate() {
        let start = pos + KEYS[k].len();
        let end = if k == 7 {
            receipt.len()
        } else {
            found.get(i + 1).map_or(receipt.len(), |n| n.0)
        };
        let value = receipt
            .get(start..end.max(start))
            .unwrap_or("")
            .trim()
            .to_owned();
        match k {
            0 => (out.id, has_id) = (value, true),
            1 => out.submitted = Some(value),
            2 => out.delivered = Some(value),
            3 => out.submit_date = Some(value),
            4 => out.done_date = Some(value),
            5 => (out.stat, has_stat) = (value, true),
            6 => out.err = Some(value),
            _ => out.text = Some(value),
        }
        if k == 7 {
            break;
        }
    }
    (has_id && has_stat && !out.id.is_empty()).then_some(out)
}

/// Formats an Appendix B text receipt (used by the simulator).
pub fn format_text(r: &TextReceipt) -> String {
    format!(
        "id:{} sub:{} dlvrd:{} submit date:{} done date:{} stat:{} err:{} text:{}",
        r.id,
        r.submitted.as_deref().unwrap_or("001"),
        r.delivered.as_deref().unwrap_or("001"),
        r.submit_date.as_deref().unwrap_or(""),
        r.done_date.as_deref().unwrap_or(""),
        r.stat,
        r.err.as_deref().unwrap_or("000"),
        r.text.as_deref().unwrap_or(""),
    )
}

/// The `text:` of a receipt: the first 20 characters of the message, in the ASCII range every
/// client reads a `data_coding` 0 receipt body as (others become `?`).
pub fn preview(text: &str) -> String {
    text.chars()
        .take(20)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// What one receipt `deliver_sm` says; [`deliver_sm`] writes it.
#[derive(Debug, Clone)]
pub struct ReceiptPdu<'a> {
    /// The receipted message's `destination_addr`: the receipt's source.
    pub recipient: SmppAddr<'a>,
    /// The receipted message's `source_addr`: the receipt's destination.
    pub originator: SmppAddr<'a>,
    /// The id for the `receipted_message_id` TLV (as the `submit_sm_resp` gave it).
    pub message_id: &'a str,
    /// The Appendix B text body.
    pub text: TextReceipt,
    /// The `message_state` TLV.
    pub state: MessageState,
    /// The `network_error_code` TLV, for a failure that has one.
    pub network_error: Option<NetworkErrorCode>,
}

/// A delivery receipt (SMPP 3.4 §4.6.1, Appendix B): addresses swapped against the receipted
/// message, `esm_class` 0x04, the text body with `data_coding` 0, and the
/// `receipted_message_id`, `message_state` and `network_error_code` TLVs. Written once for the
/// SMSC simulator and the gateway's SMPP server, so clients see one receipt shape from both.
pub fn deliver_sm(r: &ReceiptPdu<'_>) -> DeliverSm {
    let mut tlvs = Vec::with_capacity(3);
    if let Ok(id) = c_string::<65>(r.message_id, "receipted_message_id") {
        tlvs.push(DeliveryTlv::ReceiptedMessageId(id));
    }
    tlvs.push(DeliveryTlv::MessageState(r.state));
    if let Some(code) = r.network_error.clone() {
        tlvs.push(DeliveryTlv::NetworkErrorCode(code));
    }
    let body = format_text(&r.text).into_bytes();
    DeliverSm::builder()
        .source_addr_ton(r.recipient.ton)
        .source_addr_npi(r.recipient.npi)
        .source_addr(c_string::<21>(r.recipient.addr, "source_addr").unwrap_or_default())
        .dest_addr_ton(r.originator.ton)
        .dest_addr_npi(r.originator.npi)
        .destination_addr(c_string::<21>(r.originator.addr, "destination_addr").unwrap_or_default())
        .esm_class(EsmClass::from(0x04))
        .data_coding(DataCoding::McSpecific)
        .short_message(OctetString::from_vec(body).unwrap_or_default())
        .tlvs(tlvs)
        .build()
}

/// A delivery receipt, merged from TLVs (preferred) and the text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The SMSC's id of the receipted message: `receipted_message_id` TLV, else text `id:`.
    pub message_id: String,
    /// The state: `message_state` TLV, else text `stat:`.
    pub state: ReceiptState,
    /// `network_error_code` TLV as (network type, error code).
    pub network_error: Option<(u8, u16)>,
    /// The text receipt, when the body held one.
    pub text: Option<TextReceipt>,
}

fn receipt_from_parts(tlvs: &[Tlv], body: &[u8], esm_class: u8) -> Option<DeliveryReceipt> {
    let mut id = None;
    let mut state = None;
    let mut network_error = None;
    let mut payload: Option<Vec<u8>> = None;
    for tlv in tlvs {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(v)) => id = Some(v.as_str().to_owned()),
            Some(TlvValue::MessageState(s)) => state = Some(ReceiptState::from_message_state(*s)),
            Some(TlvValue::NetworkErrorCode(n)) => {
                network_error = Some((u8::from(n.network_type), n.error_code))
            }
            Some(TlvValue::MessagePayload(p)) => payload = Some(p.value.as_ref().to_vec()),
            _ => {}
        }
    }
    let body = if body.is_empty() {
        payload.as_deref().unwrap_or(&[])
    } else {
        body
    };
    // Receipts are ASCII; read as Latin-1 so stray octets cannot fail the parse.
    let text: String = body.iter().map(|&b| b as char).collect();
    let text = parse_text(&text);
    let message_type = esm_class & 0x3C;
    let flagged = message_type == 0x04 || message_type == 0x08 || message_type == 0x20;
    if !flagged && id.is_none() && text.is_none() {
        return None;
    }
    let message_id = id.or_else(|| text.as_ref().map(|t| t.id.clone()))?;
    let state = state
        .or_else(|| text.as_ref().map(|t| ReceiptState::from_text(&t.stat)))
        .unwrap_or(ReceiptState::Unknown);
    Some(DeliveryReceipt {
        message_id,
        state,
        network_error,
        text,
    })
}

/// Parses a `deliver_sm` as a receipt; `None` if it is an ordinary mobile-originated message.
pub fn parse_deliver_sm(sm: &DeliverSm) -> Option<DeliveryReceipt> {
    receipt_from_parts(
        sm.tlvs(),
        sm.short_message().as_ref(),
        u8::from(sm.esm_class),
    )
}

/// Parses a `data_sm` as a receipt (SMPP 3.4 §4.7; text, if any, in `message_payload`).
pub fn parse_data_sm(sm: &DataSm) -> Option<DeliveryReceipt> {
    receipt_from_parts(sm.tlvs(), &[], u8::from(sm.esm_class))
}

/// How a peer writes message ids in one place (`submit_sm_resp` or receipts), so both sides
/// normalise to the same canonical string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdRadix {
    /// Opaque text: compared after trimming (and case folding, see `case_insensitive`).
    #[default]
    Text,
    /// Hexadecimal digits: canonicalised to the decimal value.
    Hex,
    /// Decimal digits: canonicalised to the decimal value (leading zeros dropped).
    Decimal,
}

/// A per-connector rule for normalising message ids before correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageIdFormat {
    /// How the id is written.
    pub radix: IdRadix,
    /// For [`IdRadix::Text`]: fold to lower case.
    pub case_insensitive: bool,
    /// For [`IdRadix::Text`]: drop leading zeros.
    pub strip_leading_zeros: bool,
}

impl MessageIdFormat {
    /// Ids written in hex (e.g. in `submit_sm_resp`).
    pub const HEX: Self = Self {
        radix: IdRadix::Hex,
        case_insensitive: true,
        strip_leading_zeros: true,
    };
    /// Ids written in decimal (e.g. in text receipts).
    pub const DECIMAL: Self = Self {
        radix: IdRadix::Decimal,
        case_insensitive: false,
        strip_leading_zeros: true,
    };

    /// The canonical form of `id`. Numeric formats fall back to the text rule when the id does
    /// not parse (too long or not digits), so nothing is ever lost.
    pub fn normalize(&self, id: &str) -> String {
        let id = id.trim();
        let numeric = match self.radix {
            IdRadix::Text => None,
            IdRadix::Hex => u128::from_str_radix(id, 16).ok(),
            IdRadix::Decimal => id.parse::<u128>().ok(),
        };
        if let Some(n) = numeric {
            return n.to_string();
        }
        let mut out = if self.case_insensitive {
            id.to_ascii_lowercase()
        } else {
            id.to_owned()
        };
        if self.strip_leading_zeros || self.radix != IdRadix::Text {
            let trimmed = out.trim_start_matches('0');
            out = if trimmed.is_empty() && !out.is_empty() {
                "0".into()
            } else {
                trimmed.into()
            };
        }
        out
    }
}
