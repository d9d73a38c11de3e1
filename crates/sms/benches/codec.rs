//! Codec throughput in messages per second (divan's `item/s`): encode + segment (+ TPDU
//! encoding for modems) and decode (modem PDU hex → text, SMPP short_message → text).
//!
//! Run: `cargo bench -p smsgate-sms --bench codec`; figures go to `docs/benchmarks.md`.

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use smsgate_sms::tpdu::{Address, SmsSubmit, Tpdu, parse_modem_pdu};
use smsgate_sms::{Fragment, Reassembler, SegmentOptions, UserData, segment};

fn main() {
    divan::main();
}

const SHORT_GSM: &str =
    "Your verification code is 482913. It expires in 10 minutes. Do not share it!";
const SHORT_UCS2: &str = "Привет! Ваш код: 482913 😀";

fn long_gsm() -> String {
    "Dear customer, your parcel [#4711] is on its way; expected delivery €4.99 fee. ".repeat(6)
}

fn long_ucs2() -> String {
    "Zoë's café 😀 — ünïcödé text with emoji 🎉. ".repeat(6)
}

#[divan::bench(args = ["short_gsm", "short_ucs2", "long_gsm_4_parts", "long_ucs2_4_parts"])]
fn encode_segment(bencher: Bencher, which: &str) {
    let text = match which {
        "short_gsm" => SHORT_GSM.to_owned(),
        "short_ucs2" => SHORT_UCS2.to_owned(),
        "long_gsm_4_parts" => long_gsm(),
        _ => long_ucs2(),
    };
    let opts = SegmentOptions::default();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| segment(black_box(&text), black_box(&opts)).unwrap());
}

#[divan::bench(args = ["short_gsm", "long_gsm_4_parts"])]
fn encode_segment_to_cmgs_hex(bencher: Bencher, which: &str) {
    let text = match which {
        "short_gsm" => SHORT_GSM.to_owned(),
        _ => long_gsm(),
    };
    let opts = SegmentOptions::default();
    let to = Address::international("4915112345678");
    bencher.counter(ItemsCount::new(1usize)).bench(|| {
        let m = segment(black_box(&text), &opts).unwrap();
        SmsSubmit::for_message(&to, &m, 0, None, None, true)
            .unwrap()
            .iter()
            .map(|s| s.to_cmgs(None).unwrap())
            .collect::<Vec<_>>()
    });
}

fn deliver_hexes(text: &str) -> Vec<String> {
    // Build SMS-DELIVER hex strings as a modem would report them.
    let m = segment(text, &SegmentOptions::default()).unwrap();
    m.parts
        .iter()
        .map(|p| {
            let d = smsgate_sms::tpdu::SmsDeliver {
                more_messages_to_send: false,
                loop_prevention: false,
                status_report_indication: false,
                reply_path: false,
                originator: Address::international("4915112345678"),
                protocol_identifier: 0,
                dcs: smsgate_sms::Dcs::new(p.encoding, None).unwrap(),
                timestamp: smsgate_sms::tpdu::Timestamp::from_unix_seconds(1_700_000_000, 4),
                user_data: UserData::from_part(p),
            };
            smsgate_sms::tpdu::pdu_hex_for_cmgs(None, &d.encode().unwrap())
                .unwrap()
                .0
        })
        .collect()
}

#[divan::bench(args = ["short_gsm", "short_ucs2", "long_gsm_4_parts", "long_ucs2_4_parts"])]
fn decode_modem_pdus_and_reassemble(bencher: Bencher, which: &str) {
    let text = match which {
        "short_gsm" => SHORT_GSM.to_owned(),
        "short_ucs2" => SHORT_UCS2.to_owned(),
        "long_gsm_4_parts" => long_gsm(),
        _ => long_ucs2(),
    };
    let hexes = deliver_hexes(&text);
    bencher.counter(ItemsCount::new(1usize)).bench(|| {
        let mut r = Reassembler::new(60_000);
        let mut done = None;
        for h in black_box(&hexes) {
            let Tpdu::Deliver(d) = parse_modem_pdu(h, None).unwrap().tpdu else {
                unreachable!("built as a deliver")
            };
            let concat = d.user_data.concat();
            done = r.handle_part("sender", concat, Fragment::from(d.user_data), 0);
        }
        done.unwrap().text
    });
}

#[divan::bench(args = ["short_gsm", "short_ucs2"])]
fn decode_smpp_short_message(bencher: Bencher, which: &str) {
    let text = if which == "short_gsm" {
        SHORT_GSM
    } else {
        SHORT_UCS2
    };
    let m = segment(text, &SegmentOptions::default()).unwrap();
    let data_coding = m.encoding.smpp_data_coding();
    let sm = m.parts[0].smpp_short_message(false);
    bencher.counter(ItemsCount::new(1usize)).bench(|| {
        UserData::from_smpp(data_coding, false, black_box(&sm), false)
            .unwrap()
            .text()
            .unwrap()
    });
}
