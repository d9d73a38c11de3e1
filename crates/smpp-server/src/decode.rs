//! `submit_sm` (SMPP 3.4 §4.4.1) from a client, understood without I/O: addresses to the forms
//! the intake parses, the user data decoded per `data_coding` by `smsgate-sms`, the
//! concatenation counters (UDH with 8- or 16-bit reference, or SAR TLVs), `message_payload`,
//! `registered_delivery`, priority, schedule and validity. Anything unusable becomes a
//! [`Refusal`] with the SMPP status to answer.

use rusmpp::pdus::{DataSm, SubmitSm};
use rusmpp::values::{Npi, Ton};
use serde::{Deserialize, Serialize};
use smsgate_core::intake::Rejection;
use smsgate_core::message::Priority;
use smsgate_smpp::address::SmppAddr;
use smsgate_smpp::pdu::CommandStatus;
use smsgate_smpp::time;
use smsgate_smpp::view::ShortMessageView;
use smsgate_sms::{ConcatInfo, DecodeError, Encoding, UserData};

/// A submit the server will not take, with the status to answer and why (logged at debug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status:?}: {reason}")]
pub struct Refusal {
    /// The `command_status` of the `submit_sm_resp`.
    pub status: CommandStatus,
    /// What was wrong.
    pub reason: String,
}

impl Refusal {
    /// A refusal with `status` and `reason`.
    pub fn new(status: CommandStatus, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// The SMPP status for an intake rejection (the REST API's 4xx codes).
    pub fn from_rejection(r: &Rejection) -> Self {
        let status = match r.code {
            "invalid_number" => CommandStatus::EsmeRinvdstadr,
            "invalid_sender" => CommandStatus::EsmeRinvsrcadr,
            "empty_text" | "text_too_long" => CommandStatus::EsmeRinvmsglen,
            "unencodable_text" | "invalid_encoding" => CommandStatus::EsmeRinvdcs,
            "invalid_validity" => CommandStatus::EsmeRinvexpiry,
            "invalid_send_at" => CommandStatus::EsmeRinvsched,
            // SMPP 3.4 §5.1.3: the receiver's application refused it (the recipient opted out).
            "opted_out" | "no_consent" => CommandStatus::EsmeRxRAppn,
            _ => CommandStatus::EsmeRsubmitfail,
        };
        Self::new(status, format!("{}: {}", r.code, r.message))
    }
}

/// An SMPP address as the client wrote it, kept to address receipts back (SMPP 3.4 §5.2.5–8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Addr {
    /// The digits or alphanumeric id.
    pub addr: String,
    /// Type of number.
    pub ton: u8,
    /// Numbering plan indicator.
    pub npi: u8,
}

impl Addr {
    fn of(a: SmppAddr<'_>) -> Self {
        Self {
            addr: a.addr.to_owned(),
            ton: u8::from(a.ton),
            npi: u8::from(a.npi),
        }
    }

    /// The address as a PDU field again (for the receipt, which swaps them).
    pub fn as_smpp(&self) -> SmppAddr<'_> {
        SmppAddr {
            ton: Ton::from(self.ton),
            npi: Npi::from(self.npi),
            addr: &self.addr,
        }
    }
}

/// One `submit_sm`, understood.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// `source_addr` as written.
    pub source: Addr,
    /// `destination_addr` as written.
    pub dest: Addr,
    /// The recipient as the intake parses it (`+` and digits).
    pub to: String,
    /// The sender as the intake parses it; `None` for the gateway default.
    pub from: Option<String>,
    /// `registered_delivery` (SMPP 3.4 §5.2.17).
    pub registered_delivery: u8,
    /// From `priority_flag`: 0 normal, 1 and more high.
    pub priority: Priority,
    /// Absolute expiry from `validity_period`, Unix ms.
    pub expires_at: Option<i64>,
    /// Absolute send time from `schedule_delivery_time`, Unix ms.
    pub send_at: Option<i64>,
    /// `data_coding`.
    pub data_coding: u8,
    /// `esm_class` UDHI: the octets start with a UDH.
    pub udhi: bool,
    /// `short_message`, or `message_payload` when that carried the text.
    pub octets: Vec<u8>,
    /// The decoded user data.
    pub user_data: UserData,
    /// Concatenation counters from the UDH or the SAR TLVs, when the message has more than
    /// one part.
    pub concat: Option<ConcatInfo>,
}

impl Incoming {
    /// The text of this submit (of this part, for a long message).
    pub fn text(&self) -> String {
        decode_octets(self.data_coding, self.udhi, &self.octets)
            .and_then(|ud| ud.text())
            .unwrap_or_default()
    }

    /// Whether the client asked for UCS-2, which the message keeps even when its text would
    /// fit GSM 7-bit.
    pub fn wants_ucs2(&self) -> bool {
        self.user_data.encoding == Encoding::Ucs2
    }

    /// Whether the client sent 8-bit data (`data_coding` 2 or 4, or an 8-bit DCS group): the
    /// message then goes out as 8-bit data with the same octets, not re-encoded as text.
    pub fn is_binary(&self) -> bool {
        self.user_data.encoding == Encoding::Binary8
    }

    /// For 8-bit data: the octets as hex (the message's text) and what else makes it binary —
    /// the client's `data_coding` and its header elements other than concatenation (ports).
    pub fn binary(&self) -> Option<(String, smsgate_core::message::Binary)> {
        self.is_binary().then(|| {
            (
                smsgate_core::message::Binary::hex(&self.user_data.payload),
                smsgate_core::message::Binary {
                    // 2 (8-bit without a class) travels as 4, its SMPP 3.4 equivalent.
                    data_coding: if self.data_coding == 2 {
                        4
                    } else {
                        self.data_coding
                    },
                    udh: smsgate_sms::Fragment::from(&self.user_data).elements,
                },
            )
        })
    }
}

/// Reads the user data of `octets` per `data_coding` (SMPP 3.4 §5.2.19: 0 GSM 7-bit unpacked,
/// 1 IA5/ASCII and 3 Latin-1, 2 and 4 8-bit, 8 UCS-2, 0xC0–0xFF TP-DCS groups).
///
/// `data_coding` 1 with octets that IA5 text never holds (control codes other than LF and CR)
/// is read as GSM 03.38: widespread clients (npm `smpp` among them) label their GSM 7-bit
/// encoding 1, and their `@`, `£`, `$`, `_`, `€`… are exactly such codes.
pub fn decode_octets(data_coding: u8, udhi: bool, octets: &[u8]) -> Result<UserData, DecodeError> {
    let ud = UserData::from_smpp(data_coding, udhi, octets, false)?;
    let gsm_only = |b: &u8| *b < 0x20 && *b != b'\n' && *b != b'\r';
    if data_coding == 0x01
        && ud.payload.iter().any(gsm_only)
        && let Ok(gsm) = UserData::from_smpp(0x00, udhi, octets, false)
    {
        return Ok(gsm);
    }
    Ok(ud)
}

/// The recipient in the form the intake parses: international digits get their `+`; a number
/// of unknown type is read as international too (what clients that leave TON 0 mean).
fn recipient(a: SmppAddr<'_>) -> Result<String, Refusal> {
    let (addr, ton) = (a.addr, a.ton);
    let bad = |why: &str| {
        Refusal::new(
            CommandStatus::EsmeRinvdstadr,
            format!("destination_addr '{addr}': {why}"),
        )
    };
    if addr.is_empty() {
        return Err(bad("empty"));
    }
    let plain = addr.strip_prefix('+').unwrap_or(addr);
    match ton {
        Ton::International | Ton::Unknown => {
            if addr.starts_with('+') || addr.starts_with("00") {
                Ok(addr.to_owned())
            } else if plain.bytes().all(|b| b.is_ascii_digit()) {
                Ok(format!("+{plain}"))
            } else {
                Err(bad("not a number"))
            }
        }
        Ton::National => Err(bad(
            "national numbers are not accepted: send the international number (TON 1)",
        )),
        _ => Err(bad(
            "only international numbers (TON 1 or 0) can be reached",
        )),
    }
}

/// The sender in the form the intake parses; `None` when empty (the gateway's default). Beyond
/// the shared mapping, digits of unknown type longer than a short code are an international
/// number.
fn sender(a: SmppAddr<'_>) -> Option<String> {
    let addr = a.addr;
    if addr.is_empty() {
        return None;
    }
    let digits = addr.bytes().all(|b| b.is_ascii_digit());
    Some(match a.ton {
        Ton::Unknown if digits && addr.len() > 8 => format!("+{addr}"),
        _ => a.to_gateway().into_owned(),
    })
}

/// Understands a `submit_sm`; `now_ms` resolves relative times.
pub fn submit_sm(sm: &SubmitSm, now_ms: i64) -> Result<Incoming, Refusal> {
    incoming(&ShortMessageView::from(sm), now_ms)
}

/// Understands a `data_sm` (SMPP 3.4 §4.7) from a client: the same checks as `submit_sm`, with
/// the text in `message_payload` (or SAR parts of it), no schedule, and the validity from
/// `qos_time_to_live` (seconds) when given.
pub fn data_sm(sm: &DataSm, now_ms: i64) -> Result<Incoming, Refusal> {
    incoming(&ShortMessageView::from(sm), now_ms)
}

fn incoming(sm: &ShortMessageView<'_>, now_ms: i64) -> Result<Incoming, Refusal> {
    let esm = sm.esm_class;
    // SMPP 3.4 §5.2.12: bits 2-5 are the message type; a client submits "default" (0) only.
    if esm & 0x3C != 0 {
        return Err(Refusal::new(
            CommandStatus::EsmeRinvesmclass,
            format!("esm_class 0x{esm:02x} asks for a message type an ESME cannot submit"),
        ));
    }
    let udhi = sm.udhi();
    let (payload, time_to_live) = (sm.message_payload(), sm.qos_time_to_live());
    let sar = sm.sar();
    let sar = (sar.reference, sar.total, sar.sequence);
    let short = sm.short_message;
    let octets = match payload {
        Some(_) if !short.is_empty() => {
            return Err(Refusal::new(
                CommandStatus::EsmeRinvmsglen,
                "both short_message and message_payload are set (SMPP 3.4 §5.3.2.32)",
            ));
        }
        Some(p) => p.to_vec(),
        None => short.to_vec(),
    };
    let data_coding = sm.data_coding;
    let user_data = decode_octets(data_coding, udhi, &octets).map_err(|e| match e {
        DecodeError::UnsupportedDataCoding(_) => Refusal::new(
            CommandStatus::EsmeRinvdcs,
            format!(
                "data_coding 0x{data_coding:02x} is not supported: use 0 (GSM), 3 (Latin-1), \
                 4 (8-bit) or 8 (UCS-2)"
            ),
        ),
        other => Refusal::new(
            CommandStatus::EsmeRinvmsglen,
            format!("the user data does not decode: {other}"),
        ),
    })?;
    let concat = match (user_data.concat(), sar) {
        (Some(c), _) => Some(c),
        (None, (Some(r), Some(t), Some(s))) => Some(ConcatInfo::from_sar(r, t, s)),
        (None, (None, None, None)) => None,
        (None, _) => {
            return Err(Refusal::new(
                CommandStatus::EsmeRmissingtlv,
                "sar_msg_ref_num, sar_total_segments and sar_segment_seqnum go together",
            ));
        }
    };
    let concat = match concat {
        Some(c) if !c.is_valid() => {
            return Err(Refusal::new(
                CommandStatus::EsmeRinvtlvval,
                format!(
                    "concatenation counters part {} of {} are invalid",
                    c.sequence, c.total
                ),
            ));
        }
        Some(c) if c.total == 1 => None,
        other => other,
    };
    let (source, dest) = (Addr::of(sm.source), Addr::of(sm.dest));
    let to = recipient(sm.dest)?;
    let from = sender(sm.source);
    let send_at = time::parse(sm.schedule_delivery_time, now_ms)
        .map_err(|e| Refusal::new(CommandStatus::EsmeRinvsched, e.to_string()))?;
    let expires_at = time::parse(sm.validity_period, now_ms)
        .map_err(|e| Refusal::new(CommandStatus::EsmeRinvexpiry, e.to_string()))?
        .or_else(|| time_to_live.map(|secs| now_ms + i64::from(secs) * 1000));
    if let Some(e) = expires_at
        && e <= send_at.unwrap_or(now_ms)
    {
        return Err(Refusal::new(
            CommandStatus::EsmeRinvexpiry,
            "validity_period ends before the message could be sent",
        ));
    }
    let registered_delivery = sm.registered_delivery;
    let priority = if sm.priority_flag >= 1 {
        Priority::High
    } else {
        Priority::Normal
    };
    Ok(Incoming {
        source,
        dest,
        to,
        from,
        registered_delivery,
        priority,
        expires_at,
        send_at,
        data_coding,
        udhi,
        octets,
        user_data,
        concat,
    })
}

/// Whether `registered_delivery` asks for a receipt of a message that ended `delivered`
/// (`success`) or otherwise (SMPP 3.4 §5.2.17 bits 0-1: 1 always, 2 on failure; SMPP 5.0 adds
/// 3, on success).
pub fn wants_receipt(registered_delivery: u8, success: bool) -> bool {
    match registered_delivery & 0x03 {
        1 => true,
        2 => !success,
        3 => success,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::tlvs::MessageSubmissionRequestTlvValue as Stlv;
    use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
    use rusmpp::values::{DataCoding, EsmClass, MessagePayload, RegisteredDelivery};

    const NOW: i64 = 1_735_732_800_000;

    fn cs<const N: usize>(s: &str) -> COctetString<1, N> {
        COctetString::from_vec([s.as_bytes(), &[0]].concat()).unwrap()
    }

    fn sm(dc: u8, esm: u8, body: &[u8], tlvs: Vec<Stlv>) -> SubmitSm {
        SubmitSm::builder()
            .source_addr_ton(Ton::Alphanumeric)
            .source_addr(cs("ACME"))
            .dest_addr_ton(Ton::International)
            .destination_addr(cs("4915112345678"))
            .esm_class(EsmClass::from(esm))
            .registered_delivery(RegisteredDelivery::from(1))
            .data_coding(DataCoding::from(dc))
            .short_message(OctetString::from_vec(body.to_vec()).unwrap())
            .tlvs(tlvs)
            .build()
    }

    fn gsm_of(text: &str) -> Vec<u8> {
        smsgate_sms::gsm7::encode(text, smsgate_sms::Shift::DEFAULT).unwrap()
    }

    #[test]
    fn each_data_coding_decodes_through_the_codec() {
        let gsm = smsgate_sms::gsm7::encode("Hi @ £5 {x}", smsgate_sms::Shift::DEFAULT).unwrap();
        let cases: [(u8, Vec<u8>, &str); 4] = [
            (0, gsm, "Hi @ £5 {x}"),
            (3, b"Gr\xfc\xdfe".to_vec(), "Grüße"),
            (
                8,
                smsgate_sms::charsets::encode_ucs2("Привет ✓"),
                "Привет ✓",
            ),
            (4, b"raw bytes".to_vec(), "raw bytes"),
        ];
        for (dc, body, text) in cases {
            let i = submit_sm(&sm(dc, 0, &body, vec![]), NOW).unwrap();
            assert_eq!(i.text(), text, "data_coding {dc}");
            assert!(i.concat.is_none());
            assert_eq!(i.to, "+4915112345678");
            assert_eq!(i.from.as_deref(), Some("ACME"));
        }
        assert!(
            submit_sm(&sm(8, 0, b"\x00A", vec![]), NOW)
                .unwrap()
                .wants_ucs2()
        );
        // IA5 is read as ASCII, unless it holds GSM-only codes (npm `smpp` labels GSM so).
        let ia5 = submit_sm(&sm(1, 0, b"a@b.c $5", vec![]), NOW).unwrap();
        assert_eq!(ia5.text(), "a@b.c $5");
        let labelled = submit_sm(&sm(1, 0, &gsm_of("Hi @ £5 $"), vec![]), NOW).unwrap();
        assert_eq!(labelled.text(), "Hi @ £5 $");
    }

    #[test]
    fn udh_with_8_and_16_bit_references_and_sar_tlvs_give_the_counters() {
        let mut body = vec![5, 0, 3, 0x42, 3, 2];
        body.extend_from_slice(b"abc");
        let i = submit_sm(&sm(0, 0x40, &body, vec![]), NOW).unwrap();
        let c = i.concat.unwrap();
        assert_eq!(
            (c.reference, c.total, c.sequence, c.wide_reference),
            (0x42, 3, 2, false)
        );
        assert_eq!(i.text(), "abc");
        let mut body = vec![6, 8, 4, 0x12, 0x34, 2, 1];
        body.extend_from_slice(b"xy");
        let c = submit_sm(&sm(0, 0x40, &body, vec![]), NOW)
            .unwrap()
            .concat
            .unwrap();
        assert_eq!(
            (c.reference, c.total, c.sequence, c.wide_reference),
            (0x1234, 2, 1, true)
        );
        let sar = vec![
            Stlv::SarMsgRefNum(7),
            Stlv::SarTotalSegments(2),
            Stlv::SarSegmentSeqnum(2),
        ];
        let c = submit_sm(&sm(0, 0, b"zz", sar), NOW)
            .unwrap()
            .concat
            .unwrap();
        assert_eq!((c.reference, c.total, c.sequence), (7, 2, 2));
        let e = submit_sm(&sm(0, 0, b"zz", vec![Stlv::SarMsgRefNum(7)]), NOW).unwrap_err();
        assert_eq!(e.status, CommandStatus::EsmeRmissingtlv);
    }

    #[test]
    fn message_payload_carries_a_long_text_in_one_submit() {
        let long = "y".repeat(400);
        let payload = Stlv::MessagePayload(MessagePayload::new(AnyOctetString::from_vec(
            long.clone().into_bytes(),
        )));
        let i = submit_sm(&sm(3, 0, b"", vec![payload.clone()]), NOW).unwrap();
        assert_eq!(i.text(), long);
        let e = submit_sm(&sm(3, 0, b"x", vec![payload]), NOW).unwrap_err();
        assert_eq!(e.status, CommandStatus::EsmeRinvmsglen);
    }

    #[test]
    fn bad_submits_get_the_matching_status() {
        let e = submit_sm(&sm(0x05, 0, b"x", vec![]), NOW).unwrap_err();
        assert_eq!(e.status, CommandStatus::EsmeRinvdcs);
        let e = submit_sm(&sm(0, 0x04, b"x", vec![]), NOW).unwrap_err();
        assert_eq!(e.status, CommandStatus::EsmeRinvesmclass);
        let e = submit_sm(&sm(0, 0, &[0x80], vec![]), NOW).unwrap_err();
        assert_eq!(e.status, CommandStatus::EsmeRinvmsglen);
        let mut national = sm(0, 0, b"x", vec![]);
        national.dest_addr_ton = Ton::National;
        let e = submit_sm(&national, NOW).unwrap_err();
        assert_eq!(e.status, CommandStatus::EsmeRinvdstadr);
        let mut late = sm(0, 0, b"x", vec![]);
        late.validity_period =
            EmptyOrFullCOctetString::from_vec(b"250101110000000+\0".to_vec()).unwrap();
        assert_eq!(
            submit_sm(&late, NOW).unwrap_err().status,
            CommandStatus::EsmeRinvexpiry
        );
        let mut garbled = sm(0, 0, b"x", vec![]);
        garbled.schedule_delivery_time =
            EmptyOrFullCOctetString::from_vec(b"tomorrow 9am.xyz\0".to_vec()).unwrap();
        assert_eq!(
            submit_sm(&garbled, NOW).unwrap_err().status,
            CommandStatus::EsmeRinvsched
        );
    }

    #[test]
    fn addresses_become_what_the_intake_parses() {
        let at = |addr, ton| SmppAddr {
            ton,
            npi: Npi::Isdn,
            addr,
        };
        assert_eq!(
            recipient(at("4915112345678", Ton::Unknown)).unwrap(),
            "+4915112345678"
        );
        assert_eq!(
            recipient(at("+4915112345678", Ton::International)).unwrap(),
            "+4915112345678"
        );
        assert!(recipient(at("ACME", Ton::Alphanumeric)).is_err());
        assert_eq!(
            sender(at("4915112345678", Ton::Unknown)).as_deref(),
            Some("+4915112345678")
        );
        assert_eq!(sender(at("12345", Ton::Unknown)).as_deref(), Some("12345"));
        assert_eq!(
            sender(at("4930", Ton::International)).as_deref(),
            Some("+4930")
        );
        assert_eq!(sender(at("", Ton::Unknown)), None);
    }

    proptest::proptest! {
        /// Whatever a client puts in a `submit_sm` (coding, class, octets, SAR counters,
        /// payload), decoding answers a status or an `Incoming` whose record and assembly
        /// never panic.
        #[test]
        fn any_submit_decodes_or_is_refused_without_panicking(
            dc in proptest::prop_oneof![
                proptest::sample::select(vec![0u8, 1, 3, 4, 8, 0xF0]),
                proptest::prelude::any::<u8>(),
            ],
            esm in proptest::prop_oneof![
                proptest::sample::select(vec![0u8, 0x40, 0x43, 0xC0]),
                proptest::prelude::any::<u8>(),
            ],
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=254),
            sar in proptest::option::of((
                proptest::prelude::any::<u16>(),
                proptest::prelude::any::<u8>(),
                proptest::prelude::any::<u8>(),
            )),
            payload in proptest::option::of(
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            ),
        ) {
            let mut tlvs = Vec::new();
            if let Some((r, t, q)) = sar {
                tlvs.extend([
                    Stlv::SarMsgRefNum(r),
                    Stlv::SarTotalSegments(t),
                    Stlv::SarSegmentSeqnum(q),
                ]);
            }
            if let Some(p) = payload {
                tlvs.push(Stlv::MessagePayload(MessagePayload::new(AnyOctetString::from_vec(p))));
            }
            if let Ok(incoming) = submit_sm(&sm(dc, esm, &body, tlvs), NOW) {
                let _ = incoming.text();
                let record = super::super::record::Record::of(&incoming);
                if let (Some(c), Some(_)) = (incoming.concat, &record.part) {
                    let part = smsgate_core::northbound::StoredSubmission {
                        submission: smsgate_core::northbound::Submission {
                            id: "p".into(),
                            account: "a".into(),
                            part: Some(smsgate_core::northbound::PartOf {
                                group: "g".into(),
                                part_no: c.sequence,
                                total: c.total,
                                content: String::new(),
                            }),
                            data: serde_json::to_string(&record).unwrap(),
                            created_at: 0,
                        },
                        message_id: None,
                    };
                    let limits = smsgate_core::intake::IntakeLimits::default();
                    let _ = super::super::assembly::build(&[part], "o", "default", &limits, NOW);
                }
            }
        }
    }

    #[test]
    fn registered_delivery_bits_choose_the_receipts() {
        assert!(wants_receipt(1, true) && wants_receipt(1, false));
        assert!(!wants_receipt(2, true) && wants_receipt(2, false));
        assert!(wants_receipt(3, true) && !wants_receipt(3, false));
        assert!(!wants_receipt(0, true) && !wants_receipt(0x10, false));
    }
}
