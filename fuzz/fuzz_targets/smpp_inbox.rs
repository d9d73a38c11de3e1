//! Fuzz target: the SMPP connector's inbox, which reads what a carrier's SMSC delivers
//! (`deliver_sm`, `data_sm`: receipts and mobile-originated parts) and holds each part's
//! acknowledgement until its message is whole. The input is a run of records
//! `[flags][length][body…]`: flags pick `deliver_sm`/`data_sm`, packed GSM and how far the
//! clock moves. Beyond "no panic": every part handed to the inbox gets its acknowledgement back
//! exactly once, either with its message or released later, and nothing is held at the end.
#![no_main]
use libfuzzer_sys::fuzz_target;

mod common;
use smsgate_connectors::smpp::inbox::{Heard, Inbox, Reading, read};
use smsgate_connectors::smpp::settings::DataCodings;
use smsgate_smpp::pdu::decode_frame;
use smsgate_smpp::receipt::MessageIdFormat;

fuzz_target!(|data: &[u8]| {
    let (timeout, ack_after) = (60_000, 5_000);
    let mut inbox: Inbox<usize> = Inbox::new("fuzz", ack_after, timeout);
    let mut acked = Vec::new();
    let (mut parts, mut now) = (0usize, 1_000_000i64);
    let mut rest = data;
    while let [flags, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (body, next) = tail.split_at(n);
        rest = next;
        let reading = Reading {
            connector: "fuzz".into(),
            tlv_ids: MessageIdFormat::HEX,
            text_ids: MessageIdFormat::DECIMAL,
            data_coding: DataCodings::default(),
            gsm7_packed: flags & 2 != 0,
        };
        let command_id: u32 = if flags & 1 == 0 {
            0x0000_0005
        } else {
            0x0000_0103
        };
        let pdu = common::frame(command_id, body);
        now += i64::from(flags >> 2) * 1_000;
        let Ok(frame) = decode_frame(&pdu) else {
            continue;
        };
        let Some(pdu) = frame.body() else {
            continue;
        };
        if let Some(Heard::Part(part)) = read(pdu, &reading) {
            if let Some(ready) = inbox.handle_part(part, parts, now) {
                acked.extend(ready.acks);
            }
            parts += 1;
        }
        let (ready, released) = inbox.poll_expired(now);
        acked.extend(ready.into_iter().flat_map(|r| r.acks));
        acked.extend(released);
    }
    let end = now + 2 * timeout + ack_after;
    let (ready, released) = inbox.poll_expired(end);
    acked.extend(ready.into_iter().flat_map(|r| r.acks));
    acked.extend(released);
    acked.sort_unstable();
    assert_eq!(
        acked,
        (0..parts).collect::<Vec<_>>(),
        "each part acknowledged once"
    );
    assert_eq!(inbox.poll_timeout(), None, "nothing held at the end");
});
