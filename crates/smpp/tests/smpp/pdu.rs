//! Tier 1: round-trip tests per PDU type, and malformed input answered with the right status.

use proptest::prelude::*;
use rusmpp::pdus::*;
use rusmpp::tlvs::{
    MessageDeliveryRequestTlvValue as DTlv, MessageSubmissionRequestTlvValue as STlv,
};
use rusmpp::types::{AnyOctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::*;
use smsgate_smpp::pdu::{
    CommandId, CommandStatus, Frame, FrameDecoder, FrameError, Pdu, decode_frame,
};

use crate::cs;

fn submit_sm() -> SubmitSm {
    SubmitSm::builder()
        .service_type(ServiceType::default())
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr(cs("smsgate"))
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(cs("4915112345678"))
        .esm_class(EsmClass::from(0x40))
        .registered_delivery(RegisteredDelivery::from(1))
        .validity_period(EmptyOrFullCOctetString::from_vec(b"000001000000000R\0".to_vec()).unwrap())
        .data_coding(DataCoding::Ucs2)
        .short_message(OctetString::from_vec(vec![5, 0, 3, 7, 2, 1, 0, 0x48, 0, 0x69]).unwrap())
        .tlvs(vec![
            STlv::SarMsgRefNum(7),
            STlv::SarTotalSegments(2),
            STlv::SarSegmentSeqnum(1),
        ])
        .build()
}

fn deliver_receipt() -> DeliverSm {
    DeliverSm::builder()
        .source_addr(cs("4915112345678"))
        .destination_addr(cs("smsgate"))
        .esm_class(EsmClass::from(0x04))
        .short_message(OctetString::from_vec(b"id:1 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:hi".to_vec()).unwrap())
        .tlvs(vec![
            DTlv::ReceiptedMessageId(cs("0000abcd")),
            DTlv::MessageState(MessageState::Delivered),
            DTlv::NetworkErrorCode(NetworkErrorCode::new(ErrorCodeNetworkType::Gsm, 0)),
        ])
        .build()
}

fn every_pdu() -> Vec<Pdu> {
    let bind = (
        cs::<16>("esme"),
        cs::<9>("secret"),
        cs::<13>(""),
        cs::<41>(""),
    );
    vec![
        BindTransmitter::new(
            bind.0.clone(),
            bind.1.clone(),
            bind.2.clone(),
            InterfaceVersion::Smpp3_4,
            Ton::Unknown,
            Npi::Unknown,
            bind.3.clone(),
        )
        .into(),
        BindReceiver::new(
            bind.0.clone(),
            bind.1.clone(),
            bind.2.clone(),
            InterfaceVersion::Smpp5_0,
            Ton::Unknown,
            Npi::Unknown,
            bind.3.clone(),
        )
        .into(),
        BindTransceiver::new(
            bind.0.clone(),
            bind.1.clone(),
            bind.2.clone(),
            InterfaceVersion::Smpp3_4,
            Ton::International,
            Npi::Isdn,
            cs("^49"),
        )
        .into(),
        BindTransmitterResp::new(cs("smsc"), Some(InterfaceVersion::Smpp3_4)).into(),
        BindReceiverResp::new(cs("smsc"), None).into(),
        BindTransceiverResp::new(cs("smsc"), Some(InterfaceVersion::Smpp5_0)).into(),
        Outbind::new(cs("smsc"), cs("pw")).into(),
        Pdu::Unbind,
        Pdu::UnbindResp,
        Pdu::EnquireLink,
        Pdu::EnquireLinkResp,
        Pdu::GenericNack,
        submit_sm().into(),
        SubmitSmResp::new(cs("0000abcd"), vec![]).into(),
        SubmitMulti::builder()
            .source_addr(cs("smsgate"))
            .dest_address(vec![DestAddress::SmeAddress(SmeAddress::new(
                Ton::International,
                Npi::Isdn,
                cs("491511"),
            ))])
            .short_message(OctetString::from_vec(b"hello".to_vec()).unwrap())
            .build()
            .into(),
        deliver_receipt().into(),
        DeliverSmResp::new(cs(""), vec![]).into(),
        DataSm::builder()
            .source_addr(cs("smsgate"))
            .destination_addr(cs("491511"))
            .tlvs(vec![STlv::MessagePayload(MessagePayload::new(
                AnyOctetString::from_vec(vec![b'x'; 1000]),
            ))])
            .build()
            .into(),
        DataSmResp::new(cs("42"), vec![]).into(),
        QuerySm::builder()
            .message_id(cs("42"))
            .source_addr(cs("smsgate"))
            .build()
            .into(),
        QuerySmResp::builder()
            .message_id(cs("42"))
            .message_state(MessageState::Enroute)
            .build()
            .into(),
        CancelSm::builder()
            .message_id(cs("42"))
            .source_addr(cs("a"))
            .destination_addr(cs("b"))
            .build()
            .into(),
        Pdu::CancelSmResp,
        ReplaceSm::builder()
            .message_id(cs("42"))
            .source_addr(cs("a"))
            .short_message(OctetString::from_vec(b"new".to_vec()).unwrap())
            .build()
            .into(),
        Pdu::ReplaceSmResp,
        AlertNotification::builder()
            .source_addr(cs("491511"))
            .esme_addr(cs("smsgate"))
            .ms_availability_status(Some(MsAvailabilityStatus::Available))
            .build()
            .into(),
    ]
}

#[test]
fn every_pdu_type_round_trips_through_the_frame_codec() {
    for (i, pdu) in every_pdu().into_iter().enumerate() {
        let id = pdu.command_id();
        let frame = Frame::new(CommandStatus::EsmeRok, i as u32 + 1, pdu);
        let bytes = frame.to_bytes();
        assert_eq!(bytes.len(), frame.encoded_len(), "{id:?} length");
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let decoded = decode_frame(&bytes).unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert_eq!(decoded, frame, "{id:?} round trip");
    }
}

#[test]
fn error_responses_round_trip_without_a_body() {
    let frame = Frame::bodiless(CommandId::SubmitSmResp, CommandStatus::EsmeRthrottled, 9);
    let bytes = frame.to_bytes();
    assert_eq!(bytes.len(), 16);
    assert_eq!(decode_frame(&bytes).unwrap(), frame);
}

#[test]
fn decoder_splits_a_stream_cut_at_every_offset() {
    let frames: Vec<Frame> = every_pdu()
        .into_iter()
        .enumerate()
        .map(|(i, p)| Frame::new(CommandStatus::EsmeRok, i as u32 + 1, p))
        .collect();
    let stream: Vec<u8> = frames.iter().flat_map(|f| f.to_bytes().to_vec()).collect();
    for chunk in [1, 3, 16, 17, 100, 4096] {
        let mut decoder = FrameDecoder::new(70_000);
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            decoder.extend(piece);
            while let Some(frame) = decoder.next_frame() {
                out.push(frame.unwrap());
            }
        }
        assert_eq!(out, frames, "chunk size {chunk}");
        assert_eq!(decoder.buffered(), 0);
    }
}

fn raw(length: u32, id: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [length, id, 0, seq] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

#[test]
fn command_length_below_the_header_is_fatal_and_nacked_with_rinvcmdlen() {
    let mut d = FrameDecoder::new(1024);
    d.extend(&raw(8, 4, 5, &[]));
    let err = d.next_frame().unwrap().unwrap_err();
    assert!(err.is_fatal());
    assert_eq!(err.status(), CommandStatus::EsmeRinvcmdlen);
    assert_eq!(
        err.reply().unwrap(),
        Frame::generic_nack(CommandStatus::EsmeRinvcmdlen, 5)
    );
    d.extend(&Frame::new(CommandStatus::EsmeRok, 1, Pdu::EnquireLink).to_bytes());
    assert!(
        d.next_frame().is_none(),
        "a poisoned decoder yields nothing"
    );
}

#[test]
fn oversized_command_length_is_rejected_before_the_body_is_buffered() {
    let mut d = FrameDecoder::new(64 * 1024);
    d.extend(&raw(0x7FFF_FFFF, 4, 6, &[]));
    let err = d.next_frame().unwrap().unwrap_err();
    assert!(matches!(
        err,
        FrameError::TooLong {
            sequence_number: 6,
            ..
        }
    ));
    assert_eq!(
        err.reply().unwrap(),
        Frame::generic_nack(CommandStatus::EsmeRinvcmdlen, 6)
    );
    assert_eq!(d.buffered(), 0);
}

#[test]
fn unknown_command_id_is_nacked_with_rinvcmdid_and_framing_continues() {
    let mut d = FrameDecoder::new(1024);
    d.extend(&raw(20, 0x0000_0999, 7, &[1, 2, 3, 4]));
    d.extend(&Frame::new(CommandStatus::EsmeRok, 8, Pdu::EnquireLink).to_bytes());
    let err = d.next_frame().unwrap().unwrap_err();
    assert!(!err.is_fatal());
    assert_eq!(
        err.reply().unwrap(),
        Frame::generic_nack(CommandStatus::EsmeRinvcmdid, 7)
    );
    assert_eq!(
        d.next_frame().unwrap().unwrap().command_id(),
        CommandId::EnquireLink
    );
}

#[test]
fn truncated_submit_sm_body_is_answered_with_an_error_submit_sm_resp() {
    let full = Frame::new(CommandStatus::EsmeRok, 11, submit_sm()).to_bytes();
    // Cut the body inside short_message, and fix command_length to the cut size.
    let cut = &full[..40];
    let mut bytes = cut.to_vec();
    bytes[..4].copy_from_slice(&(cut.len() as u32).to_be_bytes());
    let err = decode_frame(&bytes).unwrap_err();
    let reply = err.reply().unwrap();
    assert_eq!(reply.command_id(), CommandId::SubmitSmResp);
    assert_eq!(reply.sequence_number(), 11);
    assert_ne!(reply.status(), CommandStatus::EsmeRok);
}

#[test]
fn sm_length_beyond_the_body_is_answered_with_rinvmsglen() {
    let mut sm = submit_sm();
    sm.set_short_message(OctetString::from_vec(b"hello".to_vec()).unwrap());
    sm.clear_tlvs();
    let mut bytes = Frame::new(CommandStatus::EsmeRok, 12, sm)
        .to_bytes()
        .to_vec();
    let sm_length_at = bytes.len() - 6; // sm_length precedes the 5 octets of "hello"
    assert_eq!(bytes[sm_length_at], 5);
    bytes[sm_length_at] = 200;
    let err = decode_frame(&bytes).unwrap_err();
    assert_eq!(err.status(), CommandStatus::EsmeRinvmsglen, "{err}");
}

#[test]
fn empty_body_on_a_request_that_needs_one_is_rinvcmdlen() {
    let err = decode_frame(&raw(16, 4, 3, &[])).unwrap_err();
    assert_eq!(
        err.reply().unwrap(),
        Frame::bodiless(CommandId::SubmitSmResp, CommandStatus::EsmeRinvcmdlen, 3)
    );
}

#[test]
fn a_padded_enquire_link_still_decodes() {
    let frame = decode_frame(&raw(20, 0x15, 4, &[0, 0, 0, 0])).unwrap();
    assert_eq!(frame.body(), Some(&Pdu::EnquireLink));
}

#[test]
fn a_tlv_whose_value_length_disagrees_with_its_value_is_rejected() {
    // Found by the smpp_pdu fuzz target: a replace_sm whose optional message_payload slot holds a
    // dest_network_id TLV (tag 0x060E) claiming 0x0503 octets, of which only a 2-octet C-string
    // "@" is read. Accepting it produced a frame that re-encoded to bytes we could not decode.
    let body = [
        0, 0, 0, 4, 0, 0, 0, 0, 126, 0, 0, 6, 14, 5, 3, 64, 0, 0, 59, 0, 0, 0, 7, 9, 0, 0, 128, 1,
        0, 0, 0, 0, 0, 1, 47, 0, 251, 255, 255, 255, 255, 1, 9,
    ];
    let bytes = raw(16 + body.len() as u32, 7, 9, &body);
    let err = decode_frame(&bytes).unwrap_err();
    assert_eq!(err.status(), CommandStatus::EsmeRinvcmdlen, "{err}");
    assert_eq!(
        err.reply().unwrap(),
        Frame::bodiless(CommandId::ReplaceSmResp, CommandStatus::EsmeRinvcmdlen, 9)
    );
}

#[test]
fn octets_after_the_last_field_are_rejected() {
    // bind_transmitter has no TLVs in SMPP 3.4; rusmpp stops after address_range and used to
    // leave the rest unread, so a frame with trailing garbage was accepted as a clean bind.
    let bind = every_pdu().into_iter().next().unwrap();
    assert_eq!(bind.command_id(), CommandId::BindTransmitter);
    let mut bytes = Frame::new(CommandStatus::EsmeRok, 13, bind)
        .to_bytes()
        .to_vec();
    assert!(decode_frame(&bytes).is_ok());
    bytes.extend_from_slice(b"junk");
    let len = bytes.len() as u32;
    bytes[..4].copy_from_slice(&len.to_be_bytes());
    let err = decode_frame(&bytes).unwrap_err();
    assert_eq!(err.status(), CommandStatus::EsmeRinvcmdlen, "{err}");
    assert_eq!(
        err.reply().unwrap().command_id(),
        CommandId::BindTransmitterResp
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut d = FrameDecoder::new(4096);
        d.extend(&bytes);
        while let Some(result) = d.next_frame() {
            if let Err(e) = result { let _ = e.reply(); }
        }
    }

    #[test]
    fn valid_headers_with_random_bodies_never_panic(id in prop::sample::select(vec![1u32, 2, 3, 4, 5, 6, 7, 8, 9, 0xB, 0x15, 0x21, 0x102, 0x103, 0x80000004, 0x80000005, 0x80000009, 0x80000103, 0x80000003]), body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let bytes = raw(16 + body.len() as u32, id, 1, &body);
        // Whatever is accepted decodes again from its encoding, and a frame with a body is
        // exactly what was sent (bodiless commands drop their padding).
        if let Ok(frame) = decode_frame(&bytes) {
            let again = frame.to_bytes();
            prop_assert_eq!(decode_frame(&again), Ok(frame.clone()));
            if again.len() > 16 {
                prop_assert_eq!(&again[..], &bytes[..]);
            }
        }
    }
}
