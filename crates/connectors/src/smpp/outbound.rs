//! Turns one [`OutboundSms`] into the `submit_sm` PDUs that carry it (SMPP 3.4 §4.4.1): the
//! text is encoded and split by `smsgate-sms`, parts are tied by UDH, SAR TLVs or one
//! `message_payload`, and addresses, validity and priority are filled in. Pure: time is passed
//! in, nothing is sent.

use rusmpp::pdus::SubmitSm;
use rusmpp::tlvs::MessageSubmissionRequestTlvValue as Tlv;
use rusmpp::types::{AnyOctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{
    DataCoding, EsmClass, MessagePayload, Npi, PriorityFlag, RegisteredDelivery, ServiceType, Ton,
};
use smsgate_core::connector::OutboundSms;
use smsgate_core::message::Priority;
use smsgate_smpp::address::SmppAddr;
use smsgate_smpp::session::c_string;
use smsgate_sms::{Concat, Encoding, SegmentOptions, segment};

use super::settings::SmppSettings;

/// Why a message cannot be put into `submit_sm`s; always permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The text does not fit the message's encoding.
    #[error("cannot encode the text: {0}")]
    Encoding(String),
    /// More parts than the API promised the client.
    #[error("the text needs {needed} parts on this connector; {promised} were promised")]
    TooManyParts {
        /// Parts needed here.
        needed: usize,
        /// `segments` of the message.
        promised: u32,
    },
    /// An address exceeds SMPP's 20 characters.
    #[error("{0} is too long for SMPP (20 characters)")]
    Address(&'static str),
}

/// The `submit_sm`s for `sms`, in part order. `reference` is this message's concatenation
/// reference (the connector keeps the counter).
pub fn build(
    sms: &OutboundSms,
    s: &SmppSettings,
    reference: u16,
    now_ms: i64,
) -> Result<Vec<SubmitSm>, BuildError> {
    let encoding = sms.encoding.parse::<Encoding>().ok();
    let opts = SegmentOptions {
        encoding,
        concat: s.concat(),
        reference,
        ..SegmentOptions::default()
    };
    // Binary: the payload byte for byte, the sender's header elements in every part.
    let seg = match &sms.binary {
        Some(b) => {
            let (payload, elements) = b
                .decode(&sms.text)
                .map_err(|e| BuildError::Encoding(e.message))?;
            smsgate_sms::segment_binary_with(&payload, &elements, &opts)
        }
        None => segment(&sms.text, &opts),
    }
    .map_err(|e| BuildError::Encoding(e.to_string()))?;
    if seg.segments > sms.segments.max(1) as usize {
        return Err(BuildError::TooManyParts {
            needed: seg.segments,
            promised: sms.segments,
        });
    }
    let to = SmppAddr::from_gateway(&sms.to);
    let (dest_ton, dest_npi) = (to.ton, to.npi);
    let from = SmppAddr::from_gateway(sms.from.as_deref().unwrap_or(&s.source_addr));
    let src_ton = s.source_ton.map_or(from.ton, Ton::from);
    let src_npi = s.source_npi.map_or(from.npi, Npi::from);
    let dest = c_string::<21>(to.addr, "destination_addr")
        .map_err(|_| BuildError::Address("destination_addr"))?;
    let src =
        c_string::<21>(from.addr, "source_addr").map_err(|_| BuildError::Address("source_addr"))?;
    let service_type = ServiceType::new(
        c_string::<6>(&s.service_type, "service_type")
            .map_err(|_| BuildError::Address("service_type"))?,
    );
    let validity = match sms.expires_at {
        Some(exp) => EmptyOrFullCOctetString::from_vec(
            [smsgate_smpp::time::relative(exp - now_ms).as_bytes(), &[0]].concat(),
        )
        .unwrap_or_else(|_| EmptyOrFullCOctetString::empty()),
        None => EmptyOrFullCOctetString::empty(),
    };
    let data_coding = DataCoding::from(match &sms.binary {
        Some(b) => b.data_coding,
        None => s.data_coding.octet(seg.encoding),
    });
    let priority = PriorityFlag::from(u8::from(sms.priority == Priority::High));
    let registered = RegisteredDelivery::from(u8::from(s.registered_delivery));
    let single = seg.parts.len() == 1 && seg.segments == 1;
    let mut out = Vec::with_capacity(seg.parts.len());
    for part in &seg.parts {
        let body = part.smpp_short_message(s.gsm7_packed);
        let mut esm = 0u8;
        let mut tlvs = Vec::new();
        let mut short = body;
        if part.udhi() {
            esm |= 0x40;
        }
        if seg.concat == Concat::MessagePayload && !single {
            tlvs.push(Tlv::MessagePayload(MessagePayload::new(
                AnyOctetString::from_vec(std::mem::take(&mut short)),
            )));
        }
        if let Some(sar) = part.sar {
            tlvs.push(Tlv::SarMsgRefNum(sar.msg_ref_num));
            tlvs.push(Tlv::SarTotalSegments(sar.total_segments));
            tlvs.push(Tlv::SarSegmentSeqnum(sar.segment_seqnum));
        }
        let short = OctetString::from_vec(short).map_err(|_| {
            BuildError::Encoding("a part exceeds 255 octets of short_message".into())
        })?;
        out.push(
            SubmitSm::builder()
                .service_type(service_type.clone())
                .source_addr_ton(src_ton)
                .source_addr_npi(src_npi)
                .source_addr(src.clone())
                .dest_addr_ton(dest_ton)
                .dest_addr_npi(dest_npi)
                .destination_addr(dest.clone())
                .esm_class(EsmClass::from(esm))
                .priority_flag(priority)
                .validity_period(validity.clone())
                .registered_delivery(registered)
                .data_coding(data_coding)
                .short_message(short)
                .tlvs(tlvs)
                .build(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::message::MessageId;

    fn settings(extra: serde_json::Value) -> SmppSettings {
        let mut v = serde_json::json!({"host": "h", "system_id": "s"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn sms(text: &str) -> OutboundSms {
        let est = smsgate_sms::estimate(text, None).unwrap();
        OutboundSms {
            id: MessageId::new(),
            to: "+4915112345678".into(),
            from: Some("ACME".into()),
            text: text.into(),
            encoding: est.encoding.as_str().into(),
            segments: est.segments as u32,
            expires_at: Some(3_600_000 + 90_061_000),
            priority: Priority::High,
            previous_attempts: 0,
            binary: None,
        }
    }

    #[test]
    fn binary_goes_byte_exact_with_the_port_header_and_its_data_coding() {
        let payload: Vec<u8> = (0..=199u8).collect();
        let b = smsgate_core::message::Binary {
            data_coding: 0xF5,
            udh: vec![0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0],
        };
        let mut m = sms("x");
        m.text = smsgate_sms::hex::encode(&payload);
        m.encoding = "binary".into();
        m.segments = 2;
        m.binary = Some(b);
        let out = build(&m, &settings(serde_json::json!({})), 9, 0).unwrap();
        assert_eq!(out.len(), 2);
        let mut data = Vec::new();
        for (i, sm) in out.iter().enumerate() {
            assert_eq!(u8::from(sm.data_coding), 0xF5);
            assert_eq!(u8::from(sm.esm_class), 0x40);
            let short = sm.short_message().as_ref();
            let udh = &short[..12];
            assert_eq!(
                udh,
                &[
                    0x0B,
                    0x05,
                    0x04,
                    0x0B,
                    0x84,
                    0x23,
                    0xF0,
                    0x00,
                    0x03,
                    9,
                    2,
                    (i + 1) as u8
                ]
            );
            data.extend_from_slice(&short[12..]);
        }
        assert_eq!(data, payload, "the octets, unchanged");
    }

    #[test]
    fn a_short_gsm_message_is_one_plain_submit_with_addresses_and_validity() {
        let out = build(&sms("Hello @ £5"), &settings(serde_json::json!({})), 7, 0).unwrap();
        assert_eq!(out.len(), 1);
        let sm = &out[0];
        assert_eq!(sm.destination_addr.as_str(), "4915112345678");
        assert_eq!(
            (sm.dest_addr_ton, sm.dest_addr_npi),
            (Ton::International, Npi::Isdn)
        );
        assert_eq!(
            (sm.source_addr.as_str(), sm.source_addr_ton),
            ("ACME", Ton::Alphanumeric)
        );
        assert_eq!(u8::from(sm.esm_class), 0);
        assert_eq!(u8::from(sm.data_coding), 0);
        assert_eq!(u8::from(sm.registered_delivery), 1);
        assert_eq!(u8::from(sm.priority_flag), 1);
        // 1 day, 2 h 1 min 1 s from now (3_600_000 + 90_061_000 ms).
        assert_eq!(sm.validity_period.as_str(), "000001020101000R");
        // "Hello @ £5" in unpacked GSM 03.38 septets.
        assert_eq!(
            sm.short_message().as_ref(),
            &[0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x20, 0x00, 0x20, 0x01, 0x35]
        );
    }

    #[test]
    fn a_long_message_goes_as_udh_parts_sar_parts_or_one_payload() {
        let text = "x".repeat(200);
        let udh = build(&sms(&text), &settings(serde_json::json!({})), 0x42, 0).unwrap();
        assert_eq!(udh.len(), 2);
        assert_eq!(u8::from(udh[0].esm_class), 0x40);
        assert_eq!(
            &udh[1].short_message().as_ref()[..6],
            &[5, 0, 3, 0x42, 2, 2]
        );
        assert_eq!(udh[0].short_message().as_ref().len(), 6 + 153);

        let sar = build(
            &sms(&text),
            &settings(serde_json::json!({"long_messages": "sar"})),
            0x1234,
            0,
        )
        .unwrap();
        assert_eq!(sar.len(), 2);
        assert_eq!(u8::from(sar[1].esm_class), 0);
        assert_eq!(sar[0].short_message().as_ref().len(), 153);
        assert_eq!(sar[1].tlvs().len(), 3);

        let payload = build(
            &sms(&text),
            &settings(serde_json::json!({"long_messages": "message_payload"})),
            0,
            0,
        )
        .unwrap();
        assert_eq!(payload.len(), 1);
        assert!(payload[0].short_message().as_ref().is_empty());
        assert_eq!(payload[0].tlvs().len(), 1);
    }

    #[test]
    fn data_coding_overrides_and_ucs2_apply() {
        let s = settings(serde_json::json!({"data_coding": {"ucs2": 24, "gsm7": 1}}));
        let u = build(&sms("Привет"), &s, 0, 0).unwrap();
        assert_eq!(u8::from(u[0].data_coding), 24);
        assert_eq!(u[0].short_message().as_ref()[..2], [0x04, 0x1F]);
        let g = build(&sms("hi"), &s, 0, 0).unwrap();
        assert_eq!(u8::from(g[0].data_coding), 1);
    }

    #[test]
    fn more_parts_than_promised_is_refused() {
        let mut m = sms(&"x".repeat(200));
        m.segments = 1;
        let e = build(&m, &settings(serde_json::json!({})), 0, 0).unwrap_err();
        assert_eq!(
            e,
            BuildError::TooManyParts {
                needed: 2,
                promised: 1
            }
        );
    }
}
