//! Fuzz target: the SMPP server's decoder of what clients submit (`submit_sm`, `data_sm`), the
//! first code that reads an untrusted client's PDU body. The first input octet picks the PDU, the
//! rest is its body behind a well-formed header. Whatever decodes must give a record that
//! survives its JSON round trip (it is stored beside the message) and, for a part, an assembly
//! that does not panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use smsgate_core::intake::IntakeLimits;
use smsgate_core::northbound::{PartOf, StoredSubmission, Submission};
use smsgate_smpp::pdu::{Pdu, decode_frame};
use smsgate_smpp_server::decode::{data_sm, submit_sm};
use smsgate_smpp_server::{assembly, record::Record};

const NOW: i64 = 1_735_732_800_000;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let command_id: u32 = if kind & 1 == 0 {
        0x0000_0004
    } else {
        0x0000_0103
    };
    let pdu = common::frame(command_id, body);
    let Ok(frame) = decode_frame(&pdu) else {
        return;
    };
    let decoded = match frame.body() {
        Some(Pdu::SubmitSm(sm)) => submit_sm(sm, NOW),
        Some(Pdu::DataSm(sm)) => data_sm(sm, NOW),
        _ => return,
    };
    let Ok(incoming) = decoded else {
        return;
    };
    let _ = incoming.text();
    let record = Record::of(&incoming);
    let json = serde_json::to_string(&record).expect("a record serialises");
    let back: Record = serde_json::from_str(&json).expect("a stored record reads back");
    assert_eq!(back, record);
    if let (Some(c), Some(_)) = (incoming.concat, &record.part) {
        let part = StoredSubmission {
            submission: Submission {
                id: "p".into(),
                account: "a".into(),
                part: Some(PartOf {
                    group: "g".into(),
                    part_no: c.sequence,
                    total: c.total,
                    content: String::new(),
                }),
                data: json,
                created_at: 0,
            },
            message_id: None,
        };
        let _ = assembly::build(&[part], "o", "default", &IntakeLimits::default(), NOW);
    }
});
