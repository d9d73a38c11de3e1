//! What the server stores with each accepted `submit_sm` (the opaque `data` of a
//! [`Submission`](smsgate_core::northbound::Submission)), and the `deliver_sm`s built from it:
//! delivery receipts (SMPP 3.4 §4.6.1, Appendix B) and inbound SMS. Pure functions, no I/O.

use rusmpp::pdus::DeliverSm;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessageState};
use serde::{Deserialize, Serialize};
use smsgate_core::message::{InboundMessage, Message, Status};
use smsgate_smpp::address::SmppAddr;
use smsgate_smpp::receipt::{self, ReceiptPdu, TextReceipt};
use smsgate_smpp::session::c_string;
use smsgate_smpp::time::receipt_date;
use smsgate_sms::{Concat, SegmentOptions, segment};

use super::decode::{Addr, Incoming};

/// The server's record of one `submit_sm`, stored as JSON beside the submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `source_addr` as written; the receipt's destination.
    pub source: Addr,
    /// `destination_addr` as written; the receipt's source.
    pub dest: Addr,
    /// `registered_delivery` (SMPP 3.4 §5.2.17).
    pub registered_delivery: u8,
    /// The first 20 characters of this submit's text, for the receipt's `text:`.
    pub preview: String,
    /// For one part of a long message: what assembly needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartData>,
}

/// A part's payload and the message fields taken from it at assembly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartData {
    /// `data_coding`.
    pub data_coding: u8,
    /// Whether `octets` start with a UDH.
    pub udhi: bool,
    /// The user data octets in hex (UDH included).
    pub octets: String,
    /// Recipient as validated.
    pub to: String,
    /// Sender as validated.
    pub from: Option<String>,
    /// Absolute expiry, Unix ms.
    pub expires_at: Option<i64>,
    /// Absolute send time, Unix ms.
    pub send_at: Option<i64>,
    /// High priority.
    pub high: bool,
    /// The client chose UCS-2.
    pub ucs2: bool,
}

impl Record {
    /// The record of `incoming`; with its payload when it is one part of a long message.
    pub fn of(incoming: &Incoming) -> Self {
        let part = incoming.concat.map(|_| PartData {
            data_coding: incoming.data_coding,
            udhi: incoming.udhi,
            octets: smsgate_sms::hex::encode(&incoming.octets),
            to: incoming.to.clone(),
            from: incoming.from.clone(),
            expires_at: incoming.expires_at,
            send_at: incoming.send_at,
            high: incoming.priority == smsgate_core::message::Priority::High,
            ucs2: incoming.wants_ucs2(),
        });
        Self {
            source: incoming.source.clone(),
            dest: incoming.dest.clone(),
            registered_delivery: incoming.registered_delivery,
            preview: incoming.text().chars().take(20).collect(),
            part,
        }
    }
}

/// The Appendix B `stat:` word and `message_state` (SMPP 3.4 §5.2.28) of a final status.
pub fn receipt_state(status: Status) -> (&'static str, MessageState) {
    match status {
        Status::Delivered => ("DELIVRD", MessageState::Delivered),
        Status::Expired => ("EXPIRED", MessageState::Expired),
        Status::Failed => ("REJECTD", MessageState::Rejected),
        Status::Canceled => ("DELETED", MessageState::Deleted),
        Status::Undelivered => ("UNDELIV", MessageState::Undeliverable),
        Status::Queued | Status::Sending | Status::Sent => ("ENROUTE", MessageState::Enroute),
    }
}

/// The Appendix B `err:` field: the message's error code when it is numeric (3 digits),
/// else `000` for delivered and `001` for any failure.
fn err_field(message: &Message, status: Status) -> String {
    match message.error_code.as_deref() {
        Some(code)
            if !code.is_empty() && code.len() <= 3 && code.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{code:0>3}")
        }
        _ if status == Status::Delivered => "000".into(),
        _ => "001".into(),
    }
}

fn addr<const N: usize>(a: &str, field: &'static str) -> COctetString<1, N> {
    c_string::<N>(a, field).unwrap_or_default()
}

/// The delivery receipt for submission `id` (one shape with the simulator's:
/// [`receipt::deliver_sm`]); dates from the message's creation and `at`.
pub fn receipt(id: &str, record: &Record, message: &Message, status: Status, at: i64) -> DeliverSm {
    let (stat, state) = receipt_state(status);
    let delivered = status == Status::Delivered;
    receipt::deliver_sm(&ReceiptPdu {
        recipient: record.dest.as_smpp(),
        originator: record.source.as_smpp(),
        message_id: id,
        text: TextReceipt {
            id: id.to_owned(),
            submitted: Some("001".into()),
            delivered: Some(if delivered { "001" } else { "000" }.into()),
            submit_date: Some(receipt_date(message.created_at)),
            done_date: Some(receipt_date(at)),
            stat: stat.into(),
            err: Some(err_field(message, status)),
            text: Some(receipt::preview(&record.preview)),
        },
        state,
        network_error: None,
    })
}

/// The `deliver_sm`s carrying an inbound SMS (SMPP 3.4 §4.6.1): GSM 7-bit when every
/// character fits, else UCS-2; a long text in UDH-concatenated parts with `reference`.
pub fn inbound(message: &InboundMessage, reference: u16) -> Vec<DeliverSm> {
    let from = SmppAddr::from_gateway(&message.from);
    let to = SmppAddr::from_gateway(&message.to);
    let opts = SegmentOptions {
        concat: Concat::Udh8,
        reference,
        ..SegmentOptions::default()
    };
    // 8-bit data goes to the client as 8-bit data: the octets, the sender's header elements,
    // its data coding.
    let binary = message.binary.as_ref().and_then(|b| {
        let (octets, elements) = b.decode(&message.text).ok()?;
        let seg = smsgate_sms::segment_binary_with(&octets, &elements, &opts).ok()?;
        Some((seg, b.data_coding))
    });
    let (seg, coding) = match binary {
        Some((seg, dc)) => (seg, Some(dc)),
        None => {
            // Any text encodes in UCS-2, so segmenting only fails on a text beyond 255 parts;
            // it is cut there rather than dropped.
            let text: String = message.text.chars().take(255 * 67).collect();
            let Ok(seg) = segment(&text, &opts) else {
                return Vec::new();
            };
            (seg, None)
        }
    };
    seg.parts
        .iter()
        .map(|part| {
            DeliverSm::builder()
                .source_addr_ton(from.ton)
                .source_addr_npi(from.npi)
                .source_addr(addr::<21>(from.addr, "source_addr"))
                .dest_addr_ton(to.ton)
                .dest_addr_npi(to.npi)
                .destination_addr(addr::<21>(to.addr, "destination_addr"))
                .esm_class(EsmClass::from(if part.udhi() { 0x40 } else { 0 }))
                .data_coding(DataCoding::from(
                    coding.unwrap_or_else(|| part.encoding.smpp_data_coding()),
                ))
                .short_message(
                    OctetString::from_vec(part.smpp_short_message(false)).unwrap_or_default(),
                )
                .build()
        })
        .collect()
}

/// Whether an inbound SMS to `to` belongs to an account with these `prefixes` (`""` matches
/// all; a prefix with or without `+` matches the number with or without it).
pub fn inbound_matches(prefixes: &[String], to: &str) -> bool {
    let bare = to.strip_prefix('+').unwrap_or(to);
    prefixes.iter().any(|p| {
        let p_bare = p.strip_prefix('+').unwrap_or(p);
        to.starts_with(p.as_str()) || bare.starts_with(p_bare)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::values::Ton;
    use smsgate_core::message::{MessageId, Priority};
    use smsgate_smpp::receipt::parse_deliver_sm;

    fn message(status: Status, error_code: Option<&str>) -> Message {
        Message {
            id: MessageId::new(),
            api_key_id: Some("smpp:app1".into()),
            tenant: Some("default".into()),
            to: "+4915112345678".into(),
            from: Some("ACME".into()),
            text: "Hello".into(),
            encoding: "gsm7".into(),
            segments: 1,
            status,
            priority: Priority::Normal,
            callback_url: None,
            callback_statuses: Vec::new(),
            idempotency_key: None,
            created_at: 1_735_732_800_000,
            updated_at: 0,
            send_at: 0,
            expires_at: None,
            attempts: 1,
            connector: None,
            error_code: error_code.map(Into::into),
            error_message: None,
            undelivered_via: Vec::new(),
            binary: None,
        }
    }

    fn record() -> Record {
        Record {
            source: Addr {
                addr: "ACME".into(),
                ton: 5,
                npi: 0,
            },
            dest: Addr {
                addr: "4915112345678".into(),
                ton: 1,
                npi: 1,
            },
            registered_delivery: 1,
            preview: "Grüße aus Köln — ✓ und mehr".chars().take(20).collect(),
            part: None,
        }
    }

    #[test]
    fn a_receipt_has_appendix_b_text_tlvs_and_swapped_addresses() {
        let m = message(Status::Delivered, None);
        let sm = receipt(
            "part-1",
            &record(),
            &m,
            Status::Delivered,
            m.created_at + 60_000,
        );
        let text = String::from_utf8(sm.short_message().as_ref().to_vec()).unwrap();
        assert_eq!(
            text,
            "id:part-1 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 \
             stat:DELIVRD err:000 text:Gr??e aus K?ln ? ? u"
        );
        assert_eq!(u8::from(sm.esm_class), 0x04);
        assert_eq!(sm.source_addr.as_str(), "4915112345678");
        assert_eq!(sm.source_addr_ton, Ton::International);
        assert_eq!(
            (sm.destination_addr.as_str(), sm.dest_addr_ton),
            ("ACME", Ton::Alphanumeric)
        );
        // Our own receipt parser (used against carriers) reads it back.
        let parsed = parse_deliver_sm(&sm).unwrap();
        assert_eq!(parsed.message_id, "part-1");
        assert_eq!(parsed.state, smsgate_smpp::receipt::ReceiptState::Delivered);
    }

    #[test]
    fn failures_map_to_their_stat_words_and_error_codes() {
        for (status, code, stat, err) in [
            (Status::Undelivered, Some("34"), "UNDELIV", "034"),
            (Status::Failed, Some("invalid_number"), "REJECTD", "001"),
            (Status::Expired, None, "EXPIRED", "001"),
            (Status::Canceled, None, "DELETED", "001"),
        ] {
            let m = message(status, code);
            let sm = receipt("x", &record(), &m, status, m.created_at);
            let text = String::from_utf8(sm.short_message().as_ref().to_vec()).unwrap();
            assert!(text.contains(&format!("stat:{stat} err:{err} ")), "{text}");
            assert!(text.contains("dlvrd:000"), "{text}");
        }
    }

    #[test]
    fn inbound_sms_become_one_or_several_deliver_sm() {
        let mut m = InboundMessage {
            id: MessageId::new(),
            from: "+4915199999999".into(),
            to: "+4930123456".into(),
            text: "Pump 3 ok".into(),
            connector: "sim".into(),
            received_at: 0,
            incomplete: false,
            tenant: None,
            binary: None,
        };
        let one = inbound(&m, 1);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].source_addr.as_str(), "4915199999999");
        assert_eq!(one[0].source_addr_ton, Ton::International);
        assert_eq!(u8::from(one[0].data_coding), 0);
        m.text = "Ж".repeat(100);
        let parts = inbound(&m, 9);
        assert_eq!(parts.len(), 2);
        assert!(
            parts
                .iter()
                .all(|p| u8::from(p.esm_class) == 0x40 && u8::from(p.data_coding) == 8)
        );
        assert_eq!(&parts[1].short_message().as_ref()[..6], &[5, 0, 3, 9, 2, 2]);
    }

    #[test]
    fn inbound_prefixes_match_with_or_without_plus() {
        let p = vec!["+4930".to_string(), "1234".to_string()];
        assert!(inbound_matches(&p, "+4930555"));
        assert!(inbound_matches(&p, "12345"));
        assert!(!inbound_matches(&p, "+4940555"));
        assert!(inbound_matches(&["".into()], "+1"));
        assert!(!inbound_matches(&[], "+1"));
    }
}
