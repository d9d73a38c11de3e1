//! What an SMSC delivers to us, decoded without I/O: delivery receipts become core
//! [`Receipt`]s, mobile-originated `deliver_sm`/`data_sm` parts are reassembled with
//! `smsgate-sms` into [`InboundSms`].
//!
//! The acknowledgement of every part is held until the whole message is durable (SMPP 3.4
//! §4.6.2: an unanswered `deliver_sm` is redelivered), so a crash between part 1 and part 2
//! loses nothing. An SMSC that sends part 2 only after part 1 was answered would stall on that,
//! so when no part of a held message arrived for `ack_after` the held parts are acknowledged
//! and kept in memory (a crash then loses them). [`Inbox`] is generic over the acknowledgement
//! so tests can use plain values; time is passed in.

use std::collections::HashMap;

use smsgate_core::connector::{InboundSms, Receipt, ReceiptState};
use smsgate_smpp::pdu::Pdu;
use smsgate_smpp::receipt::{self, DeliveryReceipt, MessageIdFormat, ReceiptState as Stat};
use smsgate_smpp::view::ShortMessageView;
use smsgate_sms::{ConcatInfo, Encoding, Fragment, Reassembler, UserData};

use super::settings::DataCodings;

/// How a connector reads what it is delivered.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The connector name, stamped on receipts and inbound messages.
    pub connector: String,
    /// Id rule for `receipted_message_id`.
    pub tlv_ids: MessageIdFormat,
    /// Id rule for the `id:` of text receipts.
    pub text_ids: MessageIdFormat,
    /// `data_coding` overrides.
    pub data_coding: DataCodings,
    /// GSM 7-bit arrives packed.
    pub gsm7_packed: bool,
}

/// One inbound PDU, understood.
#[derive(Debug, Clone)]
pub enum Heard {
    /// A delivery receipt.
    Receipt(Receipt),
    /// One part (or the whole) of a mobile-originated message.
    Part(Part),
}

/// A mobile-originated part with its addresses and concatenation counters.
#[derive(Debug, Clone)]
pub struct Part {
    /// Sender, `+` prefixed when international.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Concatenation counters (UDH or SAR), `None` for a single SMS.
    pub concat: Option<ConcatInfo>,
    /// The user data.
    pub fragment: Fragment,
}

/// Maps an SMPP receipt state (SMPP 3.4 §5.2.28) to the core's.
pub fn receipt_state(s: &Stat) -> ReceiptState {
    match s {
        Stat::Delivered => ReceiptState::Delivered,
        Stat::Expired => ReceiptState::Expired,
        Stat::Undeliverable | Stat::Rejected | Stat::Deleted | Stat::Skipped => {
            ReceiptState::Undelivered
        }
        Stat::Enroute | Stat::Accepted | Stat::Unknown | Stat::Other(_) => ReceiptState::Pending,
    }
}

fn to_receipt(r: DeliveryReceipt, from_tlv: bool, reading: &Reading) -> Receipt {
    let rule = if from_tlv {
        reading.tlv_ids
    } else {
        reading.text_ids
    };
    let error_code = r
        .network_error
        .map(|(_, code)| code.to_string())
        .or_else(|| r.text.as_ref().and_then(|t| t.err.clone()))
        .filter(|e| !e.is_empty());
    Receipt {
        connector: reading.connector.clone(),
        remote_id: rule.normalize(&r.message_id),
        state: receipt_state(&r.state),
        error_code,
    }
}

/// Decodes user data; what cannot be decoded is kept as Latin-1 text rather than dropped.
fn user_data(reading: &Reading, data_coding: u8, udhi: bool, octets: &[u8]) -> UserData {
    let decoded = reading.data_coding.encoding_of(data_coding).and_then(|e| {
        UserData::from_smpp(e.smpp_data_coding(), udhi, octets, reading.gsm7_packed).ok()
    });
    decoded.unwrap_or_else(|| UserData::new(Encoding::Latin1, octets.to_vec()))
}

/// Understands a `deliver_sm` or `data_sm`; `None` for any other PDU.
pub fn read(pdu: &Pdu, reading: &Reading) -> Option<Heard> {
    let (f, receipt) = match pdu {
        Pdu::DeliverSm(sm) => (ShortMessageView::from(sm), receipt::parse_deliver_sm(sm)),
        Pdu::DataSm(sm) => (ShortMessageView::from(sm), receipt::parse_data_sm(sm)),
        _ => return None,
    };
    if let Some(r) = receipt {
        return Some(Heard::Receipt(to_receipt(
            r,
            f.has_receipted_message_id(),
            reading,
        )));
    }
    let octets = if f.short_message.is_empty() {
        f.message_payload().unwrap_or(&[])
    } else {
        f.short_message
    };
    let ud = user_data(reading, f.data_coding, f.udhi(), octets);
    let sar = f.sar();
    let concat = ud
        .concat()
        .or(match (sar.reference, sar.total, sar.sequence) {
            (Some(r), Some(t), Some(s)) => Some(ConcatInfo::from_sar(r, t, s)),
            _ => None,
        });
    Some(Heard::Part(Part {
        from: f.source.to_gateway().into_owned(),
        to: f.dest.to_gateway().into_owned(),
        concat,
        fragment: Fragment::from(ud),
    }))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HeldKey {
    key: String,
    reference: Option<u16>,
    total: u8,
}

struct Held<A> {
    from: String,
    to: String,
    since_ms: i64,
    last_ms: i64,
    acks: Vec<A>,
}

/// A finished inbound message and the acknowledgements to send once it is durable.
#[derive(Debug)]
pub struct Ready<A> {
    /// The message to store.
    pub sms: InboundSms,
    /// Every part's acknowledgement.
    pub acks: Vec<A>,
}

/// Reassembly with held acknowledgements; see the module documentation.
pub struct Inbox<A> {
    connector: String,
    timeout_ms: i64,
    ack_after_ms: i64,
    reassembler: Reassembler,
    held: HashMap<HeldKey, Held<A>>,
}

impl<A> Inbox<A> {
    /// An inbox that acknowledges held parts after `ack_after_ms` without progress and gives
    /// up waiting for missing parts after `timeout_ms`.
    pub fn new(connector: &str, ack_after_ms: i64, timeout_ms: i64) -> Self {
        Self {
            connector: connector.to_owned(),
            timeout_ms,
            ack_after_ms,
            reassembler: Reassembler::new(timeout_ms),
            held: HashMap::new(),
        }
    }

    /// Takes one part; returns the message when it is complete.
    pub fn handle_part(&mut self, part: Part, ack: A, now_ms: i64) -> Option<Ready<A>> {
        let key = format!("{}\u{1f}{}", part.from, part.to);
        // Keyed as the reassembler keys its output (invalid counters mean a single SMS).
        let (reference, total) = match part.concat.filter(|c| c.is_valid()) {
            Some(c) => (Some(c.reference), c.total.max(1)),
            None => (None, 1),
        };
        let hk = HeldKey {
            key: key.clone(),
            reference,
            total,
        };
        let held = self.held.entry(hk.clone()).or_insert_with(|| Held {
            from: part.from.clone(),
            to: part.to.clone(),
            since_ms: now_ms,
            last_ms: now_ms,
            acks: Vec::new(),
        });
        held.last_ms = now_ms;
        held.acks.push(ack);
        let done = self
            .reassembler
            .handle_part(&key, part.concat, part.fragment, now_ms)?;
        let hk = HeldKey {
            key: done.key.clone(),
            reference: done.reference,
            total: done.total,
        };
        let held = self.held.remove(&hk);
        Some(self.ready(done, held))
    }

    fn ready(&self, done: smsgate_sms::Complete, held: Option<Held<A>>) -> Ready<A> {
        let incomplete = done.incomplete;
        // 8-bit data stays octets (as hex), with the sender's header elements.
        let (text, binary) = match done.binary {
            Some(octets) => (
                smsgate_core::message::Binary::hex(&octets),
                Some(smsgate_core::message::Binary {
                    data_coding: 0x04,
                    udh: done.elements,
                }),
            ),
            None => (done.text, None),
        };
        let (from, to, acks) = held.map_or_else(
            || (String::new(), String::new(), Vec::new()),
            |h| (h.from, h.to, h.acks),
        );
        Ready {
            sms: InboundSms {
                connector: self.connector.clone(),
                from,
                to,
                text,
                incomplete,
                binary,
            },
            acks,
        }
    }

    /// Messages whose missing parts did not come in time (stored incomplete), and the
    /// acknowledgements to send now: late copies of parts already stored, and parts held
    /// `ack_after` without progress.
    pub fn poll_expired(&mut self, now_ms: i64) -> (Vec<Ready<A>>, Vec<A>) {
        let mut out = Vec::new();
        for done in self.reassembler.poll_expired(now_ms) {
            let hk = HeldKey {
                key: done.key.clone(),
                reference: done.reference,
                total: done.total,
            };
            let held = self.held.remove(&hk);
            out.push(self.ready(done, held));
        }
        // Whatever is still held after the timeout belongs to no pending message: copies of
        // parts of a message stored before (an SMSC retransmission). Acknowledge them.
        let stale: Vec<HeldKey> = self
            .held
            .iter()
            .filter(|(_, h)| now_ms >= h.since_ms.saturating_add(self.timeout_ms))
            .map(|(k, _)| k.clone())
            .collect();
        let mut release = Vec::new();
        for k in stale {
            if let Some(h) = self.held.remove(&k) {
                release.extend(h.acks);
            }
        }
        for h in self.held.values_mut() {
            if now_ms >= h.last_ms.saturating_add(self.ack_after_ms) {
                release.append(&mut h.acks);
            }
        }
        (out, release)
    }

    /// When [`Inbox::poll_expired`] should run next (Unix ms).
    pub fn poll_timeout(&self) -> Option<i64> {
        let held = self
            .held
            .values()
            .map(|h| {
                let stale = h.since_ms.saturating_add(self.timeout_ms);
                if h.acks.is_empty() {
                    stale
                } else {
                    stale.min(h.last_ms.saturating_add(self.ack_after_ms))
                }
            })
            .min();
        match (held, self.reassembler.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::pdus::DeliverSm;
    use rusmpp::tlvs::MessageDeliveryRequestTlvValue as DTlv;
    use rusmpp::types::{COctetString, OctetString};
    use rusmpp::values::Ton;
    use rusmpp::values::{DataCoding, EsmClass, MessageState};

    fn reading() -> Reading {
        Reading {
            connector: "c".into(),
            tlv_ids: MessageIdFormat::HEX,
            text_ids: MessageIdFormat::DECIMAL,
            data_coding: DataCodings::default(),
            gsm7_packed: false,
        }
    }

    fn cs<const N: usize>(s: &str) -> COctetString<1, N> {
        COctetString::from_vec([s.as_bytes(), &[0]].concat()).unwrap()
    }

    fn deliver(esm: u8, dc: DataCoding, body: &[u8], tlvs: Vec<DTlv>) -> Pdu {
        DeliverSm::builder()
            .source_addr_ton(Ton::International)
            .source_addr(cs("4915112345678"))
            .destination_addr(cs("1234"))
            .esm_class(EsmClass::from(esm))
            .data_coding(dc)
            .short_message(OctetString::from_vec(body.to_vec()).unwrap())
            .tlvs(tlvs)
            .build()
            .into()
    }

    #[test]
    fn receipts_use_the_tlv_id_rule_or_the_text_id_rule() {
        let tlv = deliver(
            0x04,
            DataCoding::McSpecific,
            b"id:4660 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:",
            vec![
                DTlv::ReceiptedMessageId(cs("0000123A")),
                DTlv::MessageState(MessageState::Delivered),
            ],
        );
        let Some(Heard::Receipt(r)) = read(&tlv, &reading()) else {
            panic!("not a receipt")
        };
        assert_eq!(
            (r.remote_id.as_str(), r.state),
            ("4666", ReceiptState::Delivered)
        );
        let text = deliver(
            0x04,
            DataCoding::McSpecific,
            b"id:0004666 sub:001 dlvrd:000 submit date:2501011200 done date:2501011201 stat:UNDELIV err:034 text:",
            vec![],
        );
        let Some(Heard::Receipt(r)) = read(&text, &reading()) else {
            panic!("not a receipt")
        };
        assert_eq!(r.remote_id, "4666");
        assert_eq!(r.state, ReceiptState::Undelivered);
        assert_eq!(r.error_code.as_deref(), Some("034"));
    }

    #[test]
    fn udh_parts_are_reassembled_and_every_ack_is_released_with_the_message() {
        let mut inbox = Inbox::new("c", 60_000, 60_000);
        let p = |seq: u8, text: &str| {
            let mut body = vec![5, 0, 3, 9, 2, seq];
            body.extend(smsgate_sms::gsm7::encode(text, smsgate_sms::Shift::DEFAULT).unwrap());
            match read(
                &deliver(0x40, DataCoding::McSpecific, &body, vec![]),
                &reading(),
            ) {
                Some(Heard::Part(p)) => p,
                other => panic!("{other:?}"),
            }
        };
        assert!(inbox.handle_part(p(2, " world"), "ack2", 10).is_none());
        assert_eq!(inbox.poll_timeout(), Some(60_010));
        let ready = inbox.handle_part(p(1, "hello"), "ack1", 20).unwrap();
        assert_eq!(ready.sms.text, "hello world");
        assert_eq!(ready.sms.from, "+4915112345678");
        assert_eq!(ready.sms.to, "1234");
        assert!(!ready.sms.incomplete);
        assert_eq!(ready.acks, vec!["ack2", "ack1"]);
        // A late copy of part 1 is held, then acknowledged as a duplicate after the timeout.
        assert!(inbox.handle_part(p(1, "hello"), "dup", 30).is_none());
        let (msgs, dupes) = inbox.poll_expired(60_030);
        assert!(msgs.is_empty());
        assert_eq!(dupes, vec!["dup"]);
    }

    #[test]
    fn parts_held_without_progress_are_acknowledged_and_still_reassembled() {
        let mut inbox = Inbox::new("c", 2_000, 60_000);
        let p = |seq: u8| Part {
            from: "a".into(),
            to: "b".into(),
            concat: Some(ConcatInfo {
                reference: 1,
                total: 2,
                sequence: seq,
                wide_reference: false,
            }),
            fragment: Fragment::from(UserData::new(Encoding::Latin1, vec![b'0' + seq])),
        };
        assert!(inbox.handle_part(p(1), "ack1", 0).is_none());
        assert_eq!(inbox.poll_timeout(), Some(2_000));
        let (ready, release) = inbox.poll_expired(2_000);
        assert!(ready.is_empty());
        assert_eq!(release, vec!["ack1"]);
        assert_eq!(inbox.poll_timeout(), Some(60_000));
        let done = inbox.handle_part(p(2), "ack2", 5_000).unwrap();
        assert_eq!(done.sms.text, "12");
        assert_eq!(done.acks, vec!["ack2"]);
    }

    #[test]
    fn a_missing_part_yields_an_incomplete_message_after_the_timeout() {
        let mut inbox = Inbox::new("c", 1_000, 1_000);
        let sar = vec![
            DTlv::SarMsgRefNum(0x1234),
            DTlv::SarTotalSegments(3),
            DTlv::SarSegmentSeqnum(1),
        ];
        let body = smsgate_sms::charsets::encode_ucs2("Привет");
        let Some(Heard::Part(part)) = read(&deliver(0, DataCoding::Ucs2, &body, sar), &reading())
        else {
            panic!()
        };
        assert!(inbox.handle_part(part, 1, 0).is_none());
        let (msgs, dupes) = inbox.poll_expired(1_000);
        assert!(dupes.is_empty());
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].sms.incomplete);
        assert!(msgs[0].sms.text.starts_with("Привет"));
        assert_eq!(msgs[0].acks, vec![1]);
    }
}
