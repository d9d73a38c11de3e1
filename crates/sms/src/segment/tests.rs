//! Limits, encodings and splitting of [`super`], checked against 3GPP TS 23.040 figures.

use super::*;

fn est(text: &str) -> Estimate {
    estimate(text, None).unwrap()
}

#[test]
fn limits_are_160_153_70_67() {
    let e = est(&"a".repeat(160));
    assert_eq!(
        (e.encoding, e.segments, e.remaining_in_last_segment),
        (Encoding::Gsm7, 1, 0)
    );
    let e = est(&"a".repeat(161));
    assert_eq!(
        (e.segments, e.remaining_in_last_segment),
        (2, 153 * 2 - 161)
    );
    let e = est(&"ж".repeat(70));
    assert_eq!((e.encoding, e.segments), (Encoding::Ucs2, 1));
    let e = est(&"ж".repeat(71));
    assert_eq!((e.segments, e.remaining_in_last_segment), (2, 67 * 2 - 71));
    let e = estimate(&"a".repeat(141), Some(Encoding::Binary8)).unwrap();
    assert_eq!(
        (e.segments, e.remaining_in_last_segment),
        (2, 134 * 2 - 141)
    );
    let e = est("");
    assert_eq!(
        (e.segments, e.remaining_in_last_segment, e.characters),
        (1, 160, 0)
    );
}

#[test]
fn extension_characters_count_twice() {
    let e = est(&"€".repeat(80));
    assert_eq!((e.segments, e.units, e.characters), (1, 160, 80));
    let e = est(&"€".repeat(81));
    assert_eq!(e.segments, 2);
}

#[test]
fn an_escape_pair_is_never_split() {
    // 152 'a' then '€': the escape pair would straddle the 153-septet boundary.
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
    let s = segment(&text, &SegmentOptions::default()).unwrap();
    assert_eq!(s.parts[0].units, 152);
    assert_eq!(s.parts[1].payload[0], 0x1B);
    let joined: String = s.parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(joined, text);
}

#[test]
fn a_surrogate_pair_is_never_split() {
    let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
    let s = segment(&text, &SegmentOptions::default()).unwrap();
    assert_eq!(s.encoding, Encoding::Ucs2);
    assert_eq!(s.parts[0].units, 66);
    assert_eq!(&s.parts[1].payload[..2], &[0xD8, 0x3D]);
}

#[test]
fn concatenation_udh_carries_reference_total_and_sequence() {
    let opts = SegmentOptions {
        reference: 0x1234,
        ..SegmentOptions::default()
    };
    let s = segment(&"x".repeat(400), &opts).unwrap();
    assert_eq!(s.parts.len(), 3);
    assert_eq!(s.parts[1].udh.as_deref(), Some(&[5, 0, 3, 0x34, 3, 2][..]));
    let opts = SegmentOptions {
        reference: 0x1234,
        concat: Concat::Udh16,
        ..SegmentOptions::default()
    };
    let s = segment(&"x".repeat(400), &opts).unwrap();
    assert_eq!(s.parts[0].units, 152);
    assert_eq!(
        s.parts[2].udh.as_deref(),
        Some(&[6, 8, 4, 0x12, 0x34, 3, 3][..])
    );
}

#[test]
fn sar_parts_have_no_udh_but_sar_values() {
    let opts = SegmentOptions {
        reference: 700,
        concat: Concat::Sar,
        ..SegmentOptions::default()
    };
    let s = segment(&"x".repeat(200), &opts).unwrap();
    assert_eq!(s.parts.len(), 2);
    assert!(s.parts[0].udh.is_none());
    assert_eq!(
        s.parts[1].sar,
        Some(Sar {
            msg_ref_num: 700,
            total_segments: 2,
            segment_seqnum: 2
        })
    );
    assert_eq!(s.parts[0].units, 153);
}

#[test]
fn message_payload_is_one_part_that_counts_air_segments() {
    let opts = SegmentOptions {
        concat: Concat::MessagePayload,
        ..SegmentOptions::default()
    };
    let s = segment(&"x".repeat(400), &opts).unwrap();
    assert_eq!((s.parts.len(), s.segments), (1, 3));
    assert_eq!(s.parts[0].payload.len(), 400);
    assert!(s.parts[0].udh.is_none());
}

#[test]
fn max_parts_is_enforced() {
    let opts = SegmentOptions {
        max_parts: 2,
        ..SegmentOptions::default()
    };
    assert_eq!(
        segment(&"x".repeat(400), &opts).unwrap_err(),
        EncodeError::TooManyParts { needed: 3, max: 2 }
    );
    assert!(segment(&"x".repeat(306), &opts).is_ok());
    let zero = SegmentOptions {
        max_parts: 0,
        ..SegmentOptions::default()
    };
    assert!(segment("x", &zero).is_err());
}

#[test]
fn forced_gsm7_names_the_unencodable_character() {
    // ß is in the default alphabet; the emoji is not.
    let e = estimate("Gruß 😀", Some(Encoding::Gsm7)).unwrap_err();
    assert!(matches!(
        e,
        EncodeError::Unencodable {
            ch: '😀',
            index: 5,
            ..
        }
    ));
    assert!(estimate("€", Some(Encoding::Latin1)).is_err());
}

#[test]
fn turkish_text_uses_national_tables_when_enabled() {
    let text = "Işık ğüzel şey";
    assert_eq!(est(text).encoding, Encoding::Ucs2);
    let opts = SegmentOptions {
        national_languages: vec![NationalLanguage::Turkish],
        ..SegmentOptions::default()
    };
    let s = segment(text, &opts).unwrap();
    assert_eq!(s.encoding, Encoding::Gsm7);
    assert!(s.shift.locking.is_some() || s.shift.single.is_some());
    let udh = s.parts[0].udh.as_ref().unwrap();
    let (parsed, _) = Udh::parse(udh).unwrap();
    assert_eq!(parsed.shift(), s.shift);
    assert_eq!(gsm7::decode(&s.parts[0].payload, s.shift).unwrap(), text);
    let e = estimate_with(text, &opts).unwrap();
    assert_eq!(e.encoding, Encoding::Gsm7);
}

#[test]
fn packed_user_data_has_septet_length_with_udh() {
    let s = segment(&"a".repeat(200), &SegmentOptions::default()).unwrap();
    let (udl, ud) = s.parts[0].tp_user_data();
    assert_eq!(udl, 160);
    assert_eq!(ud.len(), 140);
    let (udl, _) = s.parts[1].tp_user_data();
    assert_eq!(udl as usize, 7 + 47);
}

#[test]
fn binary_splits_at_134_octets() {
    let s = segment_binary(&[0xAB; 300], &SegmentOptions::default()).unwrap();
    assert_eq!(s.parts.len(), 3);
    assert_eq!(s.parts[0].payload.len(), 134);
    assert_eq!(s.parts[2].payload.len(), 32);
    let s = segment_binary(&[0xAB; 140], &SegmentOptions::default()).unwrap();
    assert_eq!(s.parts.len(), 1);
}

#[test]
fn binary_with_a_port_header_keeps_it_in_every_part_before_the_concatenation() {
    use crate::udh::InformationElement;
    // 16-bit application ports (IEI 0x05): destination 2948 (WAP push), source 9200.
    let ports = InformationElement {
        id: 0x05,
        data: vec![0x0B, 0x84, 0x23, 0xF0],
    };
    let one = crate::segment_binary_with(
        &[0x01; 133],
        std::slice::from_ref(&ports),
        &SegmentOptions::default(),
    )
    .unwrap();
    assert_eq!(one.parts.len(), 1, "133 octets + 7 of UDH fit one SMS");
    assert_eq!(
        one.parts[0].udh.as_deref(),
        Some(&[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0][..])
    );
    let opts = SegmentOptions {
        reference: 0x42,
        ..SegmentOptions::default()
    };
    let two =
        crate::segment_binary_with(&[0x02; 135], std::slice::from_ref(&ports), &opts).unwrap();
    assert_eq!(two.parts.len(), 2);
    for (i, p) in two.parts.iter().enumerate() {
        let udh = p.udh.as_deref().unwrap();
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
                0x42,
                0x02,
                (i + 1) as u8
            ][..]
        );
        assert!(udh.len() + p.payload.len() <= 140);
    }
    assert_eq!(two.parts[0].payload.len(), 128);
    let all: Vec<u8> = two.parts.iter().flat_map(|p| p.payload.clone()).collect();
    assert_eq!(all, vec![0x02; 135], "byte-exact across the parts");
    assert!(
        crate::segment_binary_with(
            &[0],
            &[InformationElement {
                id: 0x70,
                data: vec![0; 133]
            }],
            &SegmentOptions::default()
        )
        .is_err()
    );
}
