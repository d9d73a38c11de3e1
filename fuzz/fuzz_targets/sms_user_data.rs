//! Fuzz target: the user-data decoders: `UserData::decode_tp` (TP-UDL/TP-UD for every alphabet),
//! `UserData::from_smpp` (short_message, packed and unpacked), `Udh::parse`, `gsm7::unpack` and
//! text decoding. Invariant: no panic; accepted TP-UD re-encodes to the same octets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsgate_sms::{Encoding, Udh, UserData, gsm7};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (ctl, udl, rest) = (data[0], data[1], &data[2..]);
    let encoding = match ctl & 0x03 {
        0 => Encoding::Gsm7,
        1 => Encoding::Ucs2,
        2 => Encoding::Binary8,
        _ => Encoding::Latin1,
    };
    let udhi = ctl & 0x04 != 0;
    if let Ok(ud) = UserData::decode_tp(encoding, udhi, udl, rest) {
        let _ = ud.text();
        let (udl2, bytes) = ud.encode_tp().expect("decoded TP-UD re-encodes");
        assert_eq!(udl2, udl);
        // Packing is canonical except for the unused high bits of the last octet.
        if encoding != Encoding::Gsm7 {
            assert_eq!(bytes, rest);
        } else {
            let back = UserData::decode_tp(encoding, udhi, udl2, &bytes).expect("re-decodes");
            assert_eq!(back, ud);
        }
    }
    let packed = ctl & 0x08 != 0;
    if let Ok(ud) = UserData::from_smpp(udl, udhi, rest, packed) {
        let _ = ud.text();
        let _ = ud.concat();
    }
    let _ = Udh::parse(rest).map(|(u, _)| (u.concat(), u.shift(), u.ports(), u.to_bytes()));
    let _ = gsm7::unpack(rest, ctl % 8, udl as usize);
    let _ = gsm7::decode(rest, Default::default());
    let _ = smsgate_sms::charsets::decode_ucs2(rest);
});
