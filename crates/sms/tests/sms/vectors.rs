//! Fixed-vector tier: published examples and widely used PDU strings (the 3GPP TS 23.038/23.040
//! style examples circulated in modem documentation, the smspdudecoder documentation and the
//! python-gsmmodem test suite), decoded and, where we produce the same bytes, encoded.

use smsgate_sms::tpdu::{
    Address, DeliveryStatus, SmsStatusReport, SmsSubmit, Timestamp, Tpdu, TypeOfNumber,
    ValidityPeriod, parse_modem_pdu, relative_from_seconds,
};
use smsgate_sms::{
    Concat, DecodeError, Encoding, SegmentOptions, Shift, UserData, charsets, gsm7, hex, segment,
};

fn packed(text: &str) -> String {
    hex::encode(&gsm7::pack(&gsm7::encode(text, Shift::DEFAULT).unwrap(), 0))
}

fn unpacked(hex_str: &str, septets: usize) -> String {
    let b = hex::decode(hex_str).unwrap();
    gsm7::decode(&gsm7::unpack(&b, 0, septets).unwrap(), Shift::DEFAULT).unwrap()
}

#[test]
fn gsm7_packing_examples() {
    for (text, hex_str) in [
        ("hellohello", "E8329BFD4697D9EC37"),
        ("How are you?", "C8F71D14969741F977FD07"),
        ("2 € par mois", "32D0A60C8287E5A0F63B3D07"),
        ("1234567", "31D98C56B3DD00"),
        ("Hello World!", "C8329BFD065DDF72363904"),
    ] {
        assert_eq!(packed(text), hex_str, "{text:?}");
        let septets = gsm7::septet_len(text, Shift::DEFAULT).unwrap();
        assert_eq!(unpacked(hex_str, septets), text);
    }
}

fn decode_address(hex_str: &str) -> Address {
    // Wrap the address in an SMS-STATUS-REPORT-free way: as TP-DA of a minimal SMS-SUBMIT.
    let tpdu = format!("0100{hex_str}000000");
    match Tpdu::decode(&hex::decode(&tpdu).unwrap()).unwrap() {
        Tpdu::Submit(s) => s.destination,
        other => panic!("not a submit: {other:?}"),
    }
}

fn encode_address(a: &Address) -> String {
    let mut v = Vec::new();
    a.encode_tp(&mut v).unwrap();
    hex::encode(&v)
}

#[test]
fn address_examples() {
    for (display, hex_str, ton) in [
        (
            "+15551234567",
            "0B915155214365F7",
            TypeOfNumber::International,
        ),
        ("+9876543210", "0A918967452301", TypeOfNumber::International),
        ("+987654321", "099189674523F1", TypeOfNumber::International),
        (
            "+27829135934",
            "0B917228195339F4",
            TypeOfNumber::International,
        ),
        ("0129998765", "0AA11092997856", TypeOfNumber::National),
        ("abc", "06D061F118", TypeOfNumber::Alphanumeric),
        ("FRANCOIS", "0ED04669D0397C26A7", TypeOfNumber::Alphanumeric),
        (
            "a[]{}€",
            "14D0E10D6FE3DBA036A94D19",
            TypeOfNumber::Alphanumeric,
        ),
        ("MMoney", "0BD0CDE6DB5DCE03", TypeOfNumber::Alphanumeric),
        (
            "Design@Home",
            "14D0C4F23C7D760390EF7619",
            TypeOfNumber::Alphanumeric,
        ),
    ] {
        let a = decode_address(hex_str);
        assert_eq!(a.to_string(), display, "{hex_str}");
        assert_eq!(a.ton, ton);
        assert_eq!(encode_address(&a), hex_str, "{display}");
    }
}

#[test]
fn smsc_address_examples() {
    for (display, hex_str) in [
        ("+9876543210", "06918967452301"),
        ("+987654321", "069189674523F1"),
        ("+2782913593", "06917228195339"),
        ("+31624000000", "07911326040000F0"),
    ] {
        let (a, n) = Address::decode_smsc(&hex::decode(hex_str).unwrap()).unwrap();
        let a = a.unwrap();
        assert_eq!(a.to_string(), display);
        assert_eq!(n, hex_str.len() / 2);
        assert_eq!(
            hex::encode(&Address::encode_smsc(Some(&a)).unwrap()),
            hex_str
        );
    }
}

#[test]
fn time_stamp_and_validity_examples() {
    // 2015-11-27 00:00:00 +02:00, 2007-04-12 23:25:42 ±08:00.
    for (hex_str, unix, tz) in [
        ("51117200000080", 1_448_575_200i64, 8i8),
        ("70402132522423", 1_176_391_542, 32),
        ("7040213252242B", 1_176_449_142, -32),
    ] {
        let t = Timestamp::from_unix_seconds(unix, tz);
        let mut v = Vec::new();
        t.encode(&mut v);
        assert_eq!(hex::encode(&v), hex_str);
        assert_eq!(t.unix_seconds(), Some(unix));
    }
    for (secs, vp) in [
        (30 * 60, 5u8),
        (16 * 3600, 151),
        (3 * 86_400, 169),
        (35 * 86_400, 197),
    ] {
        assert_eq!(relative_from_seconds(secs), vp);
    }
}

fn gsm_submit(to: Address, text: &str) -> SmsSubmit {
    SmsSubmit::new(
        to,
        UserData::new(Encoding::Gsm7, gsm7::encode(text, Shift::DEFAULT).unwrap()),
    )
}

#[test]
fn sms_submit_examples_encode_byte_for_byte() {
    let s = gsm_submit(Address::parse("+27820001111"), "Hello World!");
    assert_eq!(
        s.to_cmgs(None).unwrap().0,
        "0001000B917228001011F100000CC8329BFD065DDF72363904"
    );

    let mut s = SmsSubmit::new(
        Address::parse("+123456789"),
        UserData::new(Encoding::Ucs2, charsets::encode_ucs2("世界您好！")),
    );
    s.validity = Some(ValidityPeriod::relative_from_seconds(52 * 7 * 86_400));
    let (pdu, len) = s.to_cmgs(Some(&Address::parse("+44000000000"))).unwrap();
    assert_eq!(
        pdu,
        "07914400000000F01100099121436587F90008F40A4E16754C60A8597DFF01"
    );
    assert_eq!(len, 23);

    let mut s = gsm_submit(
        Address::national("0126541234"),
        "Test message: local numbers",
    );
    s.message_reference = 13;
    s.status_report_request = true;
    s.validity = Some(ValidityPeriod::relative_from_seconds(3 * 86_400));
    assert_eq!(
        s.to_cmgs(Some(&Address::national("12345"))).unwrap().0,
        "04A12143F5310D0AA110624521430000A91BD4F29C0E6A97E7F3F0B9AC03B1DFE3301BE4AEB7C565F91C"
    );

    let mut s = gsm_submit(Address::parse("+27820001111"), "Timestamp validity test");
    // 2013-07-10 13:39:00 +02:00.
    s.validity = Some(ValidityPeriod::Absolute(Timestamp::from_unix_seconds(
        1_373_456_340,
        8,
    )));
    assert_eq!(
        s.to_cmgs(None).unwrap().0,
        "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301"
    );
}

#[test]
fn concatenated_sms_submit_example_encodes_byte_for_byte() {
    // Three parts, 8-bit reference 0, one fill bit after the UDH, TP-RD set.
    let text = "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor \
incididunt ut labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation \
ullamco laboris nisi ut aliquip ex ea commodo consequat.Duis aute irure dolor in reprehenderit in \
voluptate velit esse cillum doloe eu fugiat nulla pariatur.Excepteur sint occaecat cupidatat non \
proident, sunt in culpa qui officia deserunt mollit anim id est laborum";
    let expected = [
        "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
        "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C89D9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BFE5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
        "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA4D07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA7C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
    ];
    let m = segment(text, &SegmentOptions::default()).unwrap();
    let to = Address::parse("+15125551234");
    let subs = SmsSubmit::for_message(&to, &m, 0, None, None, false).unwrap();
    assert_eq!(subs.len(), 3);
    for (s, want) in subs.iter().zip(expected) {
        let s = SmsSubmit {
            reject_duplicates: true,
            message_reference: 0,
            ..s.clone()
        };
        assert_eq!(s.to_cmgs(None).unwrap().0, want);
    }
}

fn tpdu(hex_str: &str) -> (Option<Address>, Tpdu) {
    let m = parse_modem_pdu(hex_str, None).unwrap_or_else(|e| panic!("{hex_str}: {e}"));
    (m.smsc, m.tpdu)
}

#[test]
fn sms_deliver_examples_decode() {
    for (hex_str, smsc, from, text, unix, tz) in [
        (
            "07911326040000F0040B911346610089F60000208062917314480CC8F71D14969741F977FD07",
            "+31624000000",
            "+31641600986",
            "How are you?",
            1_030_394_261i64,
            -4i8,
        ),
        (
            "06917228195339040B917228214365F700003130805120618005D4F29C2E03",
            "+2782913593",
            "+27821234567",
            "Test2",
            1_362_747_736,
            8,
        ),
        (
            "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
            "+85290000000",
            "+85291234567",
            "It is easy to read text messages via AT commands.",
            1_176_391_542,
            32,
        ),
        (
            "06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910",
            "+2782913593",
            "+27821234567",
            "@{tést}!",
            1_364_297_725,
            8,
        ),
    ] {
        let (s, t) = tpdu(hex_str);
        assert_eq!(s.unwrap().to_string(), smsc);
        let Tpdu::Deliver(d) = t else {
            panic!("{hex_str} is not a deliver")
        };
        assert_eq!(d.originator.to_string(), from);
        assert_eq!(d.user_data.text().unwrap(), text);
        assert_eq!(d.timestamp.tz_quarters, tz);
        assert_eq!(d.timestamp.unix_seconds(), Some(unix), "{hex_str}");
        // Our encoder gives the same octets back.
        assert_eq!(
            hex::encode(&d.encode().unwrap()),
            hex_str[hex_str.len() - 2 * d.encode().unwrap().len()..]
        );
    }
}

#[test]
fn concatenated_deliver_part_from_an_operator_decodes() {
    let (smsc, t) = tpdu(
        "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20",
    );
    assert_eq!(smsc.unwrap().to_string(), "+2781191");
    let Tpdu::Deliver(d) = t else {
        panic!("not a deliver")
    };
    assert_eq!(d.originator.to_string(), "2781188");
    let c = d.user_data.concat().unwrap();
    assert_eq!(
        (c.reference, c.total, c.sequence, c.wide_reference),
        (0xC3, 1, 1, false)
    );
    assert_eq!(
        d.user_data.text().unwrap(),
        "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. "
    );
}

#[test]
fn sms_submit_examples_decode() {
    let (smsc, t) =
        tpdu("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701");
    assert_eq!(smsc.unwrap().to_string(), "+31624000000");
    let Tpdu::Submit(s) = t else {
        panic!("not a submit")
    };
    assert_eq!(s.destination.to_string(), "+31628870634");
    assert_eq!(s.validity, Some(ValidityPeriod::Relative(169)));
    assert!(s.status_report_request);
    assert_eq!(s.message_reference, 0x0D);
    assert_eq!(s.user_data.text().unwrap(), "www.diafaan.com");

    let (_, t) = tpdu("07914346466554F601000B914316565811F9000806304253F68449");
    let Tpdu::Submit(s) = t else {
        panic!("not a submit")
    };
    assert_eq!(s.user_data.encoding, Encoding::Ucs2);
    assert_eq!(s.user_data.text().unwrap(), "あ叶葉");

    let (_, t) = tpdu("0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421");
    let Tpdu::Submit(s) = t else {
        panic!("not a submit")
    };
    assert_eq!(s.user_data.encoding, Encoding::Binary8);
    assert_eq!(s.user_data.payload, b"Hello world!");
}

#[test]
fn sms_status_report_examples_decode() {
    let (_, t) = tpdu("0006D60B911326880736F4111011719551401110117195714000");
    let Tpdu::StatusReport(r) = t else {
        panic!("not a status report")
    };
    assert_eq!(r.message_reference, 214);
    assert_eq!(r.recipient.to_string(), "+31628870634");
    assert_eq!(r.status, 0x00);
    assert_eq!(r.delivery_status(), DeliveryStatus::Delivered);

    // Captured from a ZTE modem; odd digits in the recipient, but structurally valid.
    let (_, t) = tpdu("0297F1061C0F910B487228297020F5317062419272803170624192138000");
    let Tpdu::StatusReport(r) = t else {
        panic!("not a status report")
    };
    assert_eq!(r.message_reference, 28);
    assert_eq!(r.discharge_time.second, 31);
    assert_eq!(r.delivery_status(), DeliveryStatus::Delivered);
    assert!(SmsStatusReport::decode(&r.encode().unwrap()).is_ok());
}

#[test]
fn invalid_examples_are_errors_not_panics() {
    // UCS-2 with TP-UDL 0xA0 (160 octets) but 10 octets of user data.
    assert!(parse_modem_pdu("0041010C910661345542F60008A0050003000301306F3044", None).is_err());
    // TP-MTI 11 is reserved.
    assert_eq!(
        parse_modem_pdu("0043010C910661345542F60008A0050003000301306F3044", None).unwrap_err(),
        DecodeError::UnsupportedMessageType(3)
    );
    assert!(matches!(
        parse_modem_pdu("AFSDSDF LJJFKLDJKLFJ# #$KJLKJL SF", None),
        Err(DecodeError::Hex(_))
    ));
    assert!(parse_modem_pdu("AEFDSDFSDFSDFS", None).is_err());
    assert!(parse_modem_pdu("", None).is_err());
}

#[test]
fn udh_16_bit_reference_parts_use_no_fill_bits() {
    // 7-octet UDH = 56 bits = 8 septets exactly (3GPP TS 23.040 §9.2.3.24).
    let m = segment(
        &"x".repeat(200),
        &SegmentOptions {
            concat: Concat::Udh16,
            reference: 0x0102,
            ..SegmentOptions::default()
        },
    )
    .unwrap();
    let (udl, ud) = m.parts[0].tp_user_data();
    assert_eq!(udl, 160);
    assert_eq!(&ud[..7], &[0x06, 0x08, 0x04, 0x01, 0x02, 0x02, 0x01]);
    // 'x' = 0x78 starts the 8th octet with no shift.
    assert_eq!(ud[7], 0x78 | (0x78 << 7) as u8);
}
