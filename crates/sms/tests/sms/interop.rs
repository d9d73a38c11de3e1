//! Interop tier: our TPDUs and GSM 7-bit packing against independent PyPI implementations, in
//! both directions (our encoder → their decoder, their encoder → our decoder).
//!
//! Peers (pinned in `interop/requirements.txt`, driven by `interop/codec/peer.py`):
//! `smspdudecoder` (SMS-DELIVER/SUBMIT decoding, GSM 7-bit and UCS-2 codecs) and
//! `python-gsmmodem-new` (`gsmmodem.pdu`: SMS-SUBMIT encoding, DELIVER/SUBMIT/STATUS-REPORT
//! decoding).
//!
//! Runs only with `SMSGATE_INTEROP=1`; then a missing `python3` or peer library fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use smsgate_sms::tpdu::{
    Address, DeliveryStatus, SmsDeliver, SmsStatusReport, SmsSubmit, Timestamp, Tpdu,
    ValidityPeriod, parse_modem_pdu, pdu_hex_for_cmgs, relative_seconds,
};
use smsgate_sms::{
    Concat, Dcs, Encoding, Fragment, MessageClass, Reassembler, SegmentOptions, Shift, UserData,
    charsets, gsm7, hex, segment,
};
use smsgate_testkit::interop;

/// Whether these tests run (`SMSGATE_INTEROP=1`); the skip line says what they need.
fn enabled() -> bool {
    interop::enabled("sms codec interop against smspdudecoder and python-gsmmodem-new")
}

/// Runs the Python peer on a batch of requests; panics loudly if it cannot run.
fn peer(requests: &[Value]) -> Vec<Value> {
    let script = interop::dir().join("codec/peer.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("SMSGATE_INTEROP=1 but python3 could not be started");
    let input = serde_json::to_vec(requests).expect("requests serialize");
    child
        .stdin
        .take()
        .expect("stdin was piped")
        .write_all(&input)
        .expect("write to the peer");
    let out = child.wait_with_output().expect("peer runs");
    assert!(
        out.status.success(),
        "interop peer failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).expect("peer answers JSON");
    assert_eq!(answers.len(), requests.len());
    answers
}

fn ok(answer: &Value, what: &str) -> Value {
    match answer.get("ok") {
        Some(v) => v.clone(),
        None => panic!("peer failed on {what}: {answer}"),
    }
}

const GSM_TEXTS: &[&str] = &[
    "hellohello",
    "How are you?",
    "2 € par mois",
    "1234567",
    "12345678",
    "Price: 5€ [approx] {x} ~ | ^ \\ done",
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà",
];

#[test]
fn gsm7_packing_matches_smspdudecoder_both_ways() {
    if !enabled() {
        return;
    }
    let mut reqs = Vec::new();
    for t in GSM_TEXTS {
        let septets = gsm7::encode(t, Shift::DEFAULT).unwrap();
        reqs.push(json!({"op": "gsm_decode", "hex": hex::encode(&gsm7::pack(&septets, 0))}));
        reqs.push(json!({"op": "gsm_encode", "text": t}));
    }
    let answers = peer(&reqs);
    for (i, t) in GSM_TEXTS.iter().enumerate() {
        let septets = gsm7::encode(t, Shift::DEFAULT).unwrap();
        // Their decoder reads 7 spare bits at the end as '@' (no septet count is given).
        let mut expected = t.to_string();
        if septets.len() % 8 == 7 {
            expected.push('@');
        }
        assert_eq!(
            ok(&answers[2 * i], "gsm_decode"),
            json!(expected),
            "ours → theirs: {t:?}"
        );
        let theirs = ok(&answers[2 * i + 1], "gsm_encode");
        let theirs = hex::decode(theirs.as_str().unwrap()).unwrap();
        assert_eq!(theirs, gsm7::pack(&septets, 0), "packing differs for {t:?}");
        let back = gsm7::unpack(&theirs, 0, septets.len()).unwrap();
        assert_eq!(
            gsm7::decode(&back, Shift::DEFAULT).unwrap(),
            *t,
            "theirs → ours"
        );
    }
}

#[test]
fn ucs2_matches_smspdudecoder_both_ways() {
    if !enabled() {
        return;
    }
    let texts = ["Привет", "Zoë 😀 🎉 漢字", "\u{FEFF}x"];
    let mut reqs = Vec::new();
    for t in texts {
        reqs.push(json!({"op": "ucs2_decode", "hex": hex::encode(&charsets::encode_ucs2(t))}));
        reqs.push(json!({"op": "ucs2_encode", "text": t}));
    }
    let answers = peer(&reqs);
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(ok(&answers[2 * i], "ucs2_decode"), json!(t));
        let theirs = ok(&answers[2 * i + 1], "ucs2_encode");
        let bytes = hex::decode(theirs.as_str().unwrap()).unwrap();
        assert_eq!(charsets::decode_ucs2(&bytes), *t);
    }
}

struct SubmitCase {
    text: String,
    concat: Concat,
    reference: u16,
    /// python-gsmmodem-new decodes UCS-2 one UTF-16 unit at a time and cannot read emoji.
    bmp_only: bool,
}

fn submit_cases() -> Vec<SubmitCase> {
    let c = |text: String, concat, reference| SubmitCase {
        bmp_only: text.chars().all(|c| (c as u32) < 0x10000),
        text,
        concat,
        reference,
    };
    vec![
        c("hellohello".into(), Concat::Udh8, 0),
        c("Grüße [€] {ok}".into(), Concat::Udh8, 0),
        // The escape pair of '€' falls on the 153-septet boundary.
        c(
            format!("{}€{}", "a".repeat(152), "tail ~ text ".repeat(20)),
            Concat::Udh8,
            42,
        ),
        c(
            "Long GSM text with 16-bit reference. ".repeat(12),
            Concat::Udh16,
            0xBEEF,
        ),
        c("Привет, мир! ".repeat(12), Concat::Udh8, 7),
        c(
            format!("{}😀{}", "ж".repeat(66), " emoji 🎉".repeat(10)),
            Concat::Udh16,
            300,
        ),
    ]
}

#[test]
fn our_sms_submit_pdus_are_read_by_both_peers() {
    if !enabled() {
        return;
    }
    let to = Address::international("4915112345678");
    let mut reqs = Vec::new();
    let mut expected = Vec::new();
    for case in submit_cases() {
        let opts = SegmentOptions {
            concat: case.concat,
            reference: case.reference,
            ..SegmentOptions::default()
        };
        let m = segment(&case.text, &opts).unwrap();
        let subs =
            SmsSubmit::for_message(&to, &m, 1, None, Some(ValidityPeriod::Relative(167)), true)
                .unwrap();
        for (sub, part) in subs.iter().zip(&m.parts) {
            let (pdu, _) = sub.to_cmgs(None).unwrap();
            reqs.push(json!({"op": "smspdudecoder_outgoing", "hex": pdu}));
            reqs.push(json!({"op": "gsmmodem_decode", "hex": pdu}));
            // python-gsmmodem-new skips one septet after a UDH that needs no fill bits (a 7-octet
            // UDH: 56 bits = 8 septets), so its text is off by one character there.
            let udh_len = part.udh.as_ref().map_or(0, Vec::len);
            let aligned_udh = m.encoding == Encoding::Gsm7 && udh_len > 0 && udh_len % 7 == 0;
            expected.push((
                part.text.clone(),
                part.concat,
                case.bmp_only,
                m.encoding,
                aligned_udh,
            ));
        }
    }
    let answers = peer(&reqs);
    for (i, (text, concat, bmp_only, encoding, aligned_udh)) in expected.iter().enumerate() {
        let a = ok(&answers[2 * i], "smspdudecoder_outgoing");
        assert_eq!(a["recipient"], json!("+4915112345678"));
        assert_eq!(
            a["content"],
            json!(text),
            "smspdudecoder read a {encoding} part"
        );
        if !bmp_only {
            continue;
        }
        let b = ok(&answers[2 * i + 1], "gsmmodem_decode");
        assert_eq!(b["type"], json!("SMS-SUBMIT"));
        assert_eq!(b["number"], json!("+4915112345678"));
        assert_eq!(b["validity"], json!(24 * 3600));
        let their_text = b["text"].as_str().unwrap();
        // gsmmodem reads TP-UDL worth of septets after a UDH, so trailing '@' may follow.
        assert!(
            *aligned_udh || their_text.trim_end_matches('@') == text.trim_end_matches('@'),
            "gsmmodem read {their_text:?}, sent {text:?}"
        );
        if let Some(c) = concat {
            let udh = &b["udh"][0];
            assert_eq!(udh["reference"], json!(c.reference));
            assert_eq!(udh["parts"], json!(c.total));
            assert_eq!(udh["number"], json!(c.sequence));
        }
    }
}

fn deliver(originator: Address, ud: UserData, class: Option<MessageClass>) -> SmsDeliver {
    SmsDeliver {
        more_messages_to_send: false,
        loop_prevention: false,
        status_report_indication: false,
        reply_path: false,
        originator,
        protocol_identifier: 0,
        dcs: Dcs::new(ud.encoding, class).unwrap(),
        // 2023-11-14 22:13:20 UTC, shown at +01:00.
        timestamp: Timestamp::from_unix_seconds(1_700_000_000, 4),
        user_data: ud,
    }
}

#[test]
fn our_sms_deliver_pdus_are_read_by_both_peers() {
    if !enabled() {
        return;
    }
    let smsc = Address::international("31624000000");
    let mut reqs = Vec::new();
    let mut expected = Vec::new();
    let senders = [
        Address::international("31641600986"),
        Address::alphanumeric("MMoney"),
        Address::alphanumeric("Design@Home"),
    ];
    for (i, case) in submit_cases().into_iter().enumerate() {
        let m = segment(
            &case.text,
            &SegmentOptions {
                concat: case.concat,
                reference: case.reference,
                ..SegmentOptions::default()
            },
        )
        .unwrap();
        let sender = senders[i % senders.len()].clone();
        for part in &m.parts {
            let d = deliver(sender.clone(), UserData::from_part(part), None);
            let (pdu, _) = pdu_hex_for_cmgs(Some(&smsc), &d.encode().unwrap()).unwrap();
            reqs.push(json!({"op": "smspdudecoder_incoming", "hex": pdu}));
            reqs.push(json!({"op": "gsmmodem_decode", "hex": pdu}));
            expected.push((
                sender.to_string(),
                part.text.clone(),
                part.concat,
                case.bmp_only,
            ));
        }
    }
    let answers = peer(&reqs);
    for (i, (sender, text, concat, bmp_only)) in expected.iter().enumerate() {
        let a = ok(&answers[2 * i], "smspdudecoder_incoming");
        assert_eq!(a["sender"], json!(sender));
        assert_eq!(a["content"], json!(text));
        assert_eq!(a["date"], json!("2023-11-14T22:13:20Z"));
        match concat {
            Some(c) => {
                assert_eq!(a["partial"]["parts_count"], json!(c.total));
                assert_eq!(a["partial"]["part_number"], json!(c.sequence));
            }
            None => assert_eq!(a["partial"], json!(false)),
        }
        if *bmp_only {
            let b = ok(&answers[2 * i + 1], "gsmmodem_decode");
            assert_eq!(b["type"], json!("SMS-DELIVER"));
            assert_eq!(b["number"], json!(sender));
            assert_eq!(b["smsc"], json!("+31624000000"));
            assert_eq!(b["time"], json!("2023-11-14T22:13:20Z"));
        }
    }
}

#[test]
fn our_status_reports_are_read_by_python_gsmmodem() {
    if !enabled() {
        return;
    }
    let statuses = [0x00u8, 0x21, 0x46, 0x62];
    let reqs: Vec<Value> = statuses
        .iter()
        .map(|&st| {
            let r = SmsStatusReport {
                more_messages_to_send: false,
                loop_prevention: false,
                status_report_qualifier: false,
                message_reference: 0x5A,
                recipient: Address::international("4915112345678"),
                timestamp: Timestamp::from_unix_seconds(1_700_000_000, -8),
                discharge_time: Timestamp::from_unix_seconds(1_700_000_042, -8),
                status: st,
                parameter_indicator: None,
                protocol_identifier: None,
                dcs: None,
                user_data: None,
            };
            let (pdu, _) = pdu_hex_for_cmgs(None, &r.encode().unwrap()).unwrap();
            json!({"op": "gsmmodem_decode", "hex": pdu})
        })
        .collect();
    let answers = peer(&reqs);
    for (st, a) in statuses.iter().zip(&answers) {
        let b = ok(a, "gsmmodem_decode");
        assert_eq!(b["type"], json!("SMS-STATUS-REPORT"));
        assert_eq!(b["reference"], json!(0x5A));
        assert_eq!(b["number"], json!("+4915112345678"));
        assert_eq!(b["status"], json!(st));
        assert_eq!(b["time"], json!("2023-11-14T22:13:20Z"));
        assert_eq!(b["discharge"], json!("2023-11-14T22:14:02Z"));
    }
}

#[test]
fn python_gsmmodem_submit_pdus_are_decoded_and_reassembled_by_us() {
    if !enabled() {
        return;
    }
    struct Case {
        text: String,
        reference: u16,
        validity_minutes: Option<u32>,
        status_report: bool,
        reject_duplicates: bool,
        flash: bool,
        smsc: Option<&'static str>,
    }
    let cases = [
        Case {
            text: "hellohello".into(),
            reference: 0,
            validity_minutes: None,
            status_report: false,
            reject_duplicates: false,
            flash: false,
            smsc: None,
        },
        Case {
            text: "Grüße aus Köln [€5] {ok} ~ ^ | \\".into(),
            reference: 9,
            validity_minutes: Some(120),
            status_report: true,
            reject_duplicates: true,
            flash: true,
            smsc: Some("+31624000000"),
        },
        Case {
            text: "A long message in the GSM alphabet that must be split. ".repeat(8),
            reference: 77,
            validity_minutes: Some(60 * 24 * 3),
            status_report: true,
            reject_duplicates: false,
            flash: false,
            smsc: None,
        },
        Case {
            text: "Длинное сообщение на русском языке. ".repeat(6),
            // The peer writes this into TP-MR too, so it must fit an octet.
            reference: 200,
            validity_minutes: Some(60 * 24 * 7 * 10),
            status_report: false,
            reject_duplicates: false,
            flash: false,
            smsc: None,
        },
    ];
    let reqs: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "op": "gsmmodem_encode_submit",
                "number": "+4915112345678",
                "text": c.text,
                "reference": c.reference,
                "validity_minutes": c.validity_minutes,
                "status_report": c.status_report,
                "reject_duplicates": c.reject_duplicates,
                "flash": c.flash,
                "smsc": c.smsc,
            })
        })
        .collect();
    let answers = peer(&reqs);
    for (c, a) in cases.iter().zip(&answers) {
        let pdus = ok(a, "gsmmodem_encode_submit");
        let pdus = pdus.as_array().unwrap();
        let mut r = Reassembler::new(60_000);
        let mut done = None;
        for p in pdus {
            let hex_pdu = p["hex"].as_str().unwrap();
            // python-gsmmodem-new reports len(pdu) - 1 as the TPDU length, which is right only
            // without an SMSC address; check it then, and compute it otherwise.
            let smsc_octets = usize::from(hex::decode(&hex_pdu[..2]).unwrap()[0]) + 1;
            let len = hex_pdu.len() / 2 - smsc_octets;
            if c.smsc.is_none() {
                assert_eq!(p["tpdu_len"].as_u64(), Some(len as u64));
            }
            let m = parse_modem_pdu(hex_pdu, Some(len))
                .unwrap_or_else(|e| panic!("our decoder rejected {hex_pdu}: {e}"));
            assert_eq!(m.smsc.map(|a| a.to_string()).as_deref(), c.smsc);
            let Tpdu::Submit(s) = m.tpdu else {
                panic!("not a submit: {hex_pdu}")
            };
            assert_eq!(s.destination.to_string(), "+4915112345678");
            assert_eq!(s.status_report_request, c.status_report);
            assert_eq!(s.reject_duplicates, c.reject_duplicates);
            assert_eq!(s.dcs.is_flash(), c.flash);
            match (c.validity_minutes, s.validity) {
                (None, None) => {}
                (Some(min), Some(ValidityPeriod::Relative(vp))) => {
                    let secs = relative_seconds(vp);
                    let want = u64::from(min) * 60;
                    assert!(
                        secs.abs_diff(want) <= want / 10 + 300,
                        "{min} min → vp {vp}"
                    );
                }
                other => panic!("unexpected validity {other:?}"),
            }
            // Re-encoding what we decoded gives their octets back.
            assert_eq!(
                hex::encode(&s.encode().unwrap()),
                hex_pdu[hex_pdu.len() - 2 * len..]
            );
            let concat = s.user_data.concat();
            if pdus.len() > 1 {
                assert_eq!(concat.map(|c| c.total as usize), Some(pdus.len()));
            }
            let expected_encoding = if c
                .text
                .chars()
                .all(|ch| gsm7::char_septets(ch, Shift::DEFAULT).is_some())
            {
                Encoding::Gsm7
            } else {
                Encoding::Ucs2
            };
            assert_eq!(s.user_data.encoding, expected_encoding);
            done = r.handle_part("peer", concat, Fragment::from(s.user_data), 0);
        }
        let done = done.expect("all parts given");
        assert_eq!(done.text, c.text);
        assert!(!done.incomplete);
    }
}

#[test]
fn delivery_status_of_peer_decoded_reports_matches_ours() {
    if !enabled() {
        return;
    }
    // The peer does not encode status reports; check our classification of a report it decodes.
    let pdu = "07911326040000F0060D0B911346610089F62080629173144820806291731448 46";
    let pdu = pdu.replace(' ', "");
    let answers = peer(&[json!({"op": "gsmmodem_decode", "hex": pdu.clone()})]);
    let b = ok(&answers[0], "gsmmodem_decode");
    let Tpdu::StatusReport(s) = parse_modem_pdu(&pdu, None).unwrap().tpdu else {
        panic!("not a status report")
    };
    assert_eq!(b["status"], json!(s.status));
    assert_eq!(b["reference"], json!(s.message_reference));
    assert_eq!(s.delivery_status(), DeliveryStatus::Permanent);
}

/// Binary SMS with application ports as a modem sends it: 8-bit SMS-SUBMITs whose UDH has the
/// port element before the concatenation element, read back by `python-gsmmodem-new` (UDH
/// elements and TP-DCS) and `smspdudecoder` (the raw user data).
#[test]
fn binary_submits_with_ports_decode_in_python_gsmmodem_and_smspdudecoder() {
    if !enabled() {
        return;
    }
    use smsgate_sms::udh::InformationElement;
    let payload: Vec<u8> = (0..160u32).map(|i| (i * 13 % 256) as u8).collect();
    let ports = InformationElement {
        id: 0x05,
        data: vec![0x0B, 0x84, 0x23, 0xF0],
    };
    let opts = SegmentOptions {
        reference: 0x33,
        ..SegmentOptions::default()
    };
    let m =
        smsgate_sms::segment_binary_with(&payload, std::slice::from_ref(&ports), &opts).unwrap();
    assert_eq!(m.parts.len(), 2);
    let mut subs =
        SmsSubmit::for_message(&Address::parse("+4915112345678"), &m, 1, None, None, false)
            .unwrap();
    for s in &mut subs {
        s.dcs = Dcs::from_octet(0xF5);
    }
    let hexes: Vec<String> = subs
        .iter()
        .map(|s| hex::encode(&s.encode().unwrap()))
        .collect();
    let mut requests = Vec::new();
    for h in &hexes {
        // Both peers want the SMSC address first: an empty one.
        requests.push(json!({"op": "gsmmodem_decode", "hex": format!("00{h}")}));
        requests.push(json!({"op": "smspdudecoder_outgoing", "hex": format!("00{h}")}));
    }
    let answers = peer(&requests);
    let mut data = Vec::new();
    for (i, pair) in answers.chunks(2).enumerate() {
        let gm = ok(&pair[0], "gsmmodem_decode binary");
        // python-gsmmodem-new reads the header: the port element first, then concatenation
        // (it decodes 8-bit data as if it were GSM text, so only its UDH is compared).
        assert_eq!(
            gm["udh"],
            json!([{"iei": 5}, {"iei": 0, "number": i + 1, "parts": 2, "reference": 0x33}]),
            "part {i}: {gm}"
        );
        let sp = ok(&pair[1], "smspdudecoder_outgoing binary");
        assert_eq!(sp["recipient"], "+4915112345678", "{sp}");
        // smspdudecoder strips the header and gives the part's data as hex.
        let content = sp["content"].as_str().unwrap();
        assert_eq!(content, hex::encode(&m.parts[i].payload), "part {i}: {sp}");
        data.extend(hex::decode(content).unwrap());
    }
    assert_eq!(data, payload, "byte-exact through the independent decoder");
}
