//! Tier 1: delivery receipt parsing and message-id normalisation.

use smsgate_smpp::receipt::{IdRadix, MessageIdFormat, ReceiptState, parse_text};

#[test]
fn appendix_b_text_receipt_parses_every_field() {
    let r = parse_text("id:0123456789 sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:Hello world").unwrap();
    assert_eq!(r.id, "0123456789");
    assert_eq!(r.submitted.as_deref(), Some("001"));
    assert_eq!(r.submit_date.as_deref(), Some("2501011200"));
    assert_eq!(r.done_date.as_deref(), Some("2501011201"));
    assert_eq!(ReceiptState::from_text(&r.stat), ReceiptState::Delivered);
    assert_eq!(r.err.as_deref(), Some("000"));
    assert_eq!(r.text.as_deref(), Some("Hello world"));
}

#[test]
fn receipt_keys_are_case_insensitive_and_text_may_contain_keys() {
    let r = parse_text("ID:ab12 SUB:1 DLVRD:0 SUBMIT DATE:2501011200 DONE DATE:2501011201 STAT:UNDELIV ERR:034 Text:stat:x id:y").unwrap();
    assert_eq!(r.id, "ab12");
    assert_eq!(
        ReceiptState::from_text(&r.stat),
        ReceiptState::Undeliverable
    );
    assert_eq!(r.text.as_deref(), Some("stat:x id:y"));
}

#[test]
fn ordinary_text_is_not_a_receipt() {
    assert!(parse_text("see you at 5, my id: is secret").is_none());
    assert!(parse_text("id:1 sub:001").is_none(), "stat is required");
}

#[test]
fn message_ids_normalise_across_radix_case_and_leading_zeros() {
    assert_eq!(MessageIdFormat::HEX.normalize("0000A1B2"), "41394");
    assert_eq!(MessageIdFormat::DECIMAL.normalize("0041394"), "41394");
    let text = MessageIdFormat {
        radix: IdRadix::Text,
        case_insensitive: true,
        strip_leading_zeros: true,
    };
    assert_eq!(text.normalize(" 00AbC-1 "), "abc-1");
    assert_eq!(MessageIdFormat::default().normalize("AbC"), "AbC");
    let uuid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    assert_eq!(
        MessageIdFormat::HEX.normalize(uuid),
        uuid,
        "unparsable ids fall back to text"
    );
}

#[test]
fn final_states_are_told_apart_from_intermediate_ones() {
    assert!(ReceiptState::Delivered.is_final());
    assert!(ReceiptState::Rejected.is_final());
    assert!(!ReceiptState::Enroute.is_final());
    assert!(!ReceiptState::Accepted.is_final());
}

#[test]
fn a_built_receipt_reads_back_with_swapped_addresses_and_every_tlv() {
    use rusmpp::values::{ErrorCodeNetworkType, MessageState, NetworkErrorCode, Npi, Ton};
    use smsgate_smpp::address::SmppAddr;
    use smsgate_smpp::receipt::{ReceiptPdu, TextReceipt, deliver_sm, parse_deliver_sm, preview};

    let text = TextReceipt {
        id: "42".into(),
        stat: "UNDELIV".into(),
        err: Some("001".into()),
        text: Some(preview("Grüße aus Köln, a long text beyond twenty")),
        ..TextReceipt::default()
    };
    let sm = deliver_sm(&ReceiptPdu {
        recipient: SmppAddr::from_gateway("+4915112345"),
        originator: SmppAddr::from_gateway("Alerts"),
        message_id: "0000002a",
        text,
        state: MessageState::Undeliverable,
        network_error: Some(NetworkErrorCode::new(ErrorCodeNetworkType::Gsm, 1)),
    });
    assert_eq!(u8::from(sm.esm_class), 0x04);
    assert_eq!(
        (
            sm.source_addr_ton,
            sm.source_addr_npi,
            sm.source_addr.as_str()
        ),
        (Ton::International, Npi::Isdn, "4915112345")
    );
    assert_eq!(
        (sm.dest_addr_ton, sm.destination_addr.as_str()),
        (Ton::Alphanumeric, "Alerts")
    );
    let body = String::from_utf8(sm.short_message().as_ref().to_vec()).unwrap();
    assert!(body.starts_with("id:42 "), "{body}");
    assert!(body.ends_with("text:Gr??e aus K?ln, a lo"), "{body}");
    let r = parse_deliver_sm(&sm).unwrap();
    assert_eq!(r.message_id, "0000002a", "the TLV id wins over the text id");
    assert_eq!(r.state, ReceiptState::Undeliverable);
    assert_eq!(r.network_error, Some((3, 1)));
}
