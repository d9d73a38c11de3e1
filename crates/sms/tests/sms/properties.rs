//! Property tier (proptest): round trips over arbitrary Unicode text in every encoding, the
//! segmentation invariants (each part within its limit, the parts' text concatenates to the
//! input, no escape or surrogate pair split), reassembly in any order, TPDU round trips, and
//! decoders that never panic on arbitrary bytes.

use proptest::prelude::*;
use smsgate_sms::tpdu::{
    Address, EnhancedPeriod, EnhancedValidity, SmsDeliver, SmsSubmit, Timestamp, Tpdu,
    ValidityPeriod,
};
use smsgate_sms::{
    Concat, Dcs, Encoding, Fragment, NationalLanguage, Reassembler, SegmentOptions, Shift, Udh,
    UserData, decode_text, estimate_with, gsm7, segment, segment_binary,
};

const GSM_CHARS: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\u{0C}^{}\\[~]|€";

const TURKISH_CHARS: &str =
    "abcçdefgğhıijklmnoöprsştuüvyzABCÇDEFGĞHIİJKLMNOÖPRSŞTUÜVYZ €.,!?0123456789";

/// Spanish text: á í ó ú Á Í Ó Ú ç need the Spanish single shift table (A.2.2).
const SPANISH_CHARS: &str = "abcdefghijklmnñopqrstuvwxyzáéíóúüçÁÉÍÓÚÑÜ ¿?¡!.,0123456789€";

/// Portuguese text: ã õ â ê ô Ã Õ Â Ê Ô À Á Í Ó Ú á í ó ú ç need the Portuguese tables
/// (A.2.3, A.3.3).
const PORTUGUESE_CHARS: &str = "abcdefghijlmnopqrstuvxzãõáéíóúâêôçàÃÕÁÉÍÓÚÂÊÔÇÀ ?!.,0123456789";

fn from_charset(chars: &'static str, max: usize) -> impl Strategy<Value = String> {
    let v: Vec<char> = chars.chars().collect();
    prop::collection::vec(prop::sample::select(v), 0..max).prop_map(|c| c.into_iter().collect())
}

/// Arbitrary text: any Unicode, GSM-only text (long, to force several parts), or a mix.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..300)
            .prop_map(|c| c.into_iter().collect::<String>()),
        from_charset(GSM_CHARS, 700),
        (
            from_charset(GSM_CHARS, 200),
            prop::collection::vec(any::<char>(), 0..3),
            from_charset(GSM_CHARS, 200)
        )
            .prop_map(|(a, b, c)| format!("{a}{}{c}", b.into_iter().collect::<String>())),
    ]
}

fn limit(p: &smsgate_sms::Part) -> usize {
    let udh = p.udh.as_ref().map_or(0, Vec::len);
    match p.encoding {
        Encoding::Gsm7 => (140 - udh) * 8 / 7,
        Encoding::Ucs2 => (140 - udh) / 2,
        _ => 140 - udh,
    }
}

fn concat_strategy() -> impl Strategy<Value = Concat> {
    prop_oneof![
        Just(Concat::Udh8),
        Just(Concat::Udh16),
        Just(Concat::Sar),
        Just(Concat::MessagePayload),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gsm7_text_round_trips_through_packing_with_any_fill(text in from_charset(GSM_CHARS, 400), fill in 0u8..7) {
        let septets = gsm7::encode(&text, Shift::DEFAULT).unwrap();
        prop_assert_eq!(septets.len(), gsm7::septet_len(&text, Shift::DEFAULT).unwrap());
        let packed = gsm7::pack(&septets, fill);
        let back = gsm7::unpack(&packed, fill, septets.len()).unwrap();
        prop_assert_eq!(&back, &septets);
        prop_assert_eq!(gsm7::decode(&back, Shift::DEFAULT).unwrap(), text);
    }

    #[test]
    fn segmentation_invariants_hold_for_any_text(text in any_text(), reference in any::<u16>(), concat in concat_strategy()) {
        let opts = SegmentOptions { concat, reference, ..SegmentOptions::default() };
        let m = segment(&text, &opts).unwrap();
        let auto_gsm = gsm7::is_encodable(&text, Shift::DEFAULT);
        prop_assert_eq!(m.encoding, if auto_gsm { Encoding::Gsm7 } else { Encoding::Ucs2 });
        let joined: String = m.parts.iter().map(|p| p.text.as_str()).collect();
        prop_assert_eq!(&joined, &text);
        prop_assert!(m.segments >= 1 && m.segments <= 255);
        if concat != Concat::MessagePayload {
            prop_assert_eq!(m.parts.len(), m.segments);
        }
        let mut decoded = String::new();
        for p in &m.parts {
            let d = decode_text(p.encoding, m.shift, &p.payload).unwrap();
            prop_assert_eq!(&d, &p.text);
            decoded.push_str(&d);
            if concat == Concat::MessagePayload {
                continue;
            }
            prop_assert!(p.units <= limit(p), "part of {} units over {}", p.units, limit(p));
            if m.encoding == Encoding::Ucs2 && m.segments > 1 {
                prop_assert!(p.units <= 67 - usize::from(concat == Concat::Udh16));
            }
            let (udl, ud) = p.tp_user_data();
            prop_assert!(ud.len() <= 140);
            let back = UserData::decode_tp(p.encoding, p.udhi(), udl, &ud).unwrap();
            prop_assert_eq!(back.text().unwrap(), p.text.clone());
            prop_assert_eq!(back.concat(), if matches!(concat, Concat::Udh8 | Concat::Udh16) { p.concat } else { None });
            // Never split an escape pair or a surrogate pair.
            if p.encoding == Encoding::Gsm7 {
                let mut i = 0;
                while i < p.payload.len() {
                    if p.payload[i] == gsm7::ESCAPE {
                        prop_assert!(i + 1 < p.payload.len(), "escape at the end of a part");
                        i += 1;
                    }
                    i += 1;
                }
            } else {
                let n = p.payload.len();
                if n >= 2 {
                    let last = u16::from_be_bytes([p.payload[n - 2], p.payload[n - 1]]);
                    prop_assert!(!(0xD800..0xDC00).contains(&last), "high surrogate at the end of a part");
                }
            }
        }
        prop_assert_eq!(decoded, text.clone());
        let e = estimate_with(&text, &opts).unwrap();
        prop_assert_eq!(e.segments, m.segments);
        prop_assert_eq!(e.encoding, m.encoding);
        prop_assert_eq!(e.characters, text.chars().count());
    }

    #[test]
    fn every_forced_encoding_round_trips_or_names_a_character(text in prop::collection::vec(any::<char>(), 0..200).prop_map(|c| c.into_iter().collect::<String>())) {
        for enc in [Encoding::Gsm7, Encoding::Ucs2, Encoding::Binary8, Encoding::Latin1] {
            let opts = SegmentOptions { encoding: Some(enc), ..SegmentOptions::default() };
            match segment(&text, &opts) {
                Ok(m) => {
                    prop_assert_eq!(m.encoding, enc);
                    let mut out = Vec::new();
                    for p in &m.parts {
                        prop_assert!(p.units <= limit(p));
                        out.extend_from_slice(&p.payload);
                    }
                    let back = match enc {
                        Encoding::Binary8 => String::from_utf8(out).unwrap(),
                        _ => decode_text(enc, Shift::DEFAULT, &out).unwrap(),
                    };
                    prop_assert_eq!(back, text.clone());
                }
                Err(smsgate_sms::EncodeError::Unencodable { ch, index, encoding }) => {
                    prop_assert_eq!(encoding, enc);
                    prop_assert_eq!(text.chars().nth(index), Some(ch));
                    prop_assert!(matches!(enc, Encoding::Gsm7 | Encoding::Latin1));
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    #[test]
    fn smpp_short_messages_round_trip_packed_and_unpacked(text in any_text(), packed in any::<bool>()) {
        let m = segment(&text, &SegmentOptions::default()).unwrap();
        let mut out = String::new();
        for p in &m.parts {
            let sm = p.smpp_short_message(packed);
            let d = UserData::from_smpp(p.encoding.smpp_data_coding(), p.udhi(), &sm, packed).unwrap();
            prop_assert_eq!(d.concat(), p.concat);
            let t = d.text().unwrap();
            // Packed GSM without a septet count reads 7 spare bits as a trailing '@'.
            let expected_extra = packed && p.encoding == Encoding::Gsm7
                && (gsm7::udh_septets(p.udh.as_ref().map_or(0, Vec::len)) + p.payload.len()) % 8 == 7;
            if expected_extra {
                prop_assert_eq!(t.strip_suffix('@'), Some(p.text.as_str()));
            } else {
                prop_assert_eq!(&t, &p.text);
            }
            out.push_str(&p.text);
        }
        prop_assert_eq!(out, text);
    }

    #[test]
    fn reassembly_recovers_text_from_any_order_with_duplicates(
        text in any_text(),
        keys in prop::collection::vec(any::<u32>(), 300),
        dups in prop::collection::vec(any::<bool>(), 300),
        concat in prop_oneof![Just(Concat::Udh8), Just(Concat::Udh16)],
    ) {
        let m = segment(&text, &SegmentOptions { concat, reference: 99, ..SegmentOptions::default() }).unwrap();
        let mut order: Vec<usize> = (0..m.parts.len()).collect();
        order.sort_by_key(|&i| keys[i]);
        let mut deliveries = Vec::new();
        let mut r = Reassembler::new(10_000);
        for (n, &i) in order.iter().enumerate() {
            let p = &m.parts[i];
            let ud = UserData::decode_tp(p.encoding, p.udhi(), p.tp_user_data().0, &p.tp_user_data().1).unwrap();
            // A single SMS has no counters, so a copy of it is a new message.
            let times = if dups[n] && m.parts.len() > 1 { 2 } else { 1 };
            for _ in 0..times {
                deliveries.extend(r.handle_part("sender", ud.concat(), Fragment::from(&ud), n as i64));
            }
        }
        prop_assert_eq!(deliveries.len(), 1);
        prop_assert_eq!(&deliveries[0].text, &text);
        prop_assert!(!deliveries[0].incomplete);
        prop_assert!(r.poll_expired(i64::MAX).is_empty());
    }

    #[test]
    fn every_national_language_fits_gsm7_when_enabled_and_round_trips(
        text in prop_oneof![
            from_charset(TURKISH_CHARS, 400).prop_map(|t| (NationalLanguage::Turkish, t)),
            from_charset(SPANISH_CHARS, 400).prop_map(|t| (NationalLanguage::Spanish, t)),
            from_charset(PORTUGUESE_CHARS, 400).prop_map(|t| (NationalLanguage::Portuguese, t)),
        ],
        concat in prop_oneof![Just(Concat::Udh8), Just(Concat::Udh16)],
    ) {
        let (lang, text) = text;
        let opts = SegmentOptions {
            national_languages: vec![lang],
            concat,
            ..SegmentOptions::default()
        };
        let m = segment(&text, &opts).unwrap();
        prop_assert_eq!(m.encoding, Encoding::Gsm7);
        // The tables are used only when the default alphabet does not fit.
        prop_assert_eq!(m.shift.is_default(), gsm7::is_encodable(&text, Shift::DEFAULT));
        prop_assert!([m.shift.locking, m.shift.single].iter().flatten().all(|l| *l == lang));
        let e = estimate_with(&text, &opts).unwrap();
        prop_assert_eq!((e.encoding, e.segments), (Encoding::Gsm7, m.segments));
        let mut r = Reassembler::new(1_000);
        let mut done = Vec::new();
        for p in &m.parts {
            prop_assert!(p.units <= limit(p), "part of {} units over {}", p.units, limit(p));
            let (udl, ud) = p.tp_user_data();
            prop_assert!(ud.len() <= 140);
            let back = UserData::decode_tp(Encoding::Gsm7, p.udhi(), udl, &ud).unwrap();
            prop_assert_eq!(back.shift(), m.shift);
            prop_assert_eq!(back.text().unwrap(), p.text.clone());
            done.extend(r.handle_part("k", back.concat(), Fragment::from(&back), 0));
        }
        prop_assert_eq!(done.len(), 1);
        prop_assert_eq!(&done[0].text, &text);
    }

    #[test]
    fn binary_segments_concatenate_to_the_input(data in prop::collection::vec(any::<u8>(), 0..1000)) {
        let m = segment_binary(&data, &SegmentOptions::default()).unwrap();
        let joined: Vec<u8> = m.parts.iter().flat_map(|p| p.payload.clone()).collect();
        prop_assert_eq!(joined, data);
        for p in &m.parts {
            prop_assert!(p.tp_user_data().1.len() <= 140);
        }
    }

    #[test]
    fn sms_submit_and_deliver_round_trip(
        text in any_text(),
        digits in "[0-9]{1,20}",
        alpha in "[A-Za-z0-9 ]{1,11}",
        flags in any::<u8>(),
        mr in any::<u8>(),
        vp in 0u8..4,
        secs in 946_684_800i64..4_102_444_800,
        tz in -56i8..=56,
    ) {
        let m = segment(&text, &SegmentOptions::default()).unwrap();
        let part = &m.parts[0];
        let validity = match vp {
            0 => None,
            1 => Some(ValidityPeriod::Relative(mr)),
            2 => Some(ValidityPeriod::Absolute(Timestamp::from_unix_seconds(secs, tz))),
            _ => Some(ValidityPeriod::Enhanced(EnhancedValidity::new(EnhancedPeriod::Seconds(mr), flags & 1 != 0))),
        };
        let to = if flags & 2 != 0 { Address::international(&digits) } else { Address::national(&digits) };
        let s = SmsSubmit {
            reject_duplicates: flags & 4 != 0,
            status_report_request: flags & 8 != 0,
            reply_path: flags & 16 != 0,
            message_reference: mr,
            validity,
            ..SmsSubmit::from_part(to, part).unwrap()
        };
        let bytes = s.encode().unwrap();
        prop_assert_eq!(Tpdu::decode(&bytes).unwrap(), Tpdu::Submit(s));

        let d = SmsDeliver {
            more_messages_to_send: flags & 32 != 0,
            loop_prevention: flags & 64 != 0,
            status_report_indication: flags & 128 != 0,
            reply_path: flags & 16 != 0,
            originator: if flags & 2 != 0 { Address::alphanumeric(&alpha) } else { Address::international(&digits) },
            protocol_identifier: 0,
            dcs: Dcs::new(part.encoding, None).unwrap(),
            timestamp: Timestamp::from_unix_seconds(secs, tz),
            user_data: UserData::from_part(part),
        };
        let bytes = d.encode().unwrap();
        let back = SmsDeliver::decode(&bytes).unwrap();
        prop_assert_eq!(back.timestamp.unix_seconds(), Some(secs));
        prop_assert_eq!(back, d);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200), udl in any::<u8>(), udhi in any::<bool>()) {
        let _ = Tpdu::decode(&bytes);
        let _ = smsgate_sms::tpdu::parse_modem_pdu(&smsgate_sms::hex::encode(&bytes), None);
        for enc in [Encoding::Gsm7, Encoding::Ucs2, Encoding::Binary8] {
            if let Ok(ud) = UserData::decode_tp(enc, udhi, udl, &bytes) {
                let _ = ud.text();
            }
        }
        let _ = UserData::from_smpp(udl, udhi, &bytes, udhi);
        let _ = Udh::parse(&bytes);
    }
}
