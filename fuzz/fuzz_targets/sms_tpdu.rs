//! Fuzz target: `Tpdu::decode` (SMS-DELIVER, SMS-SUBMIT, SMS-STATUS-REPORT) on arbitrary octets.
//! Invariant: it never panics, and whatever it accepts re-encodes and decodes to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsgate_sms::tpdu::Tpdu;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tpdu::decode(data) {
        let bytes = t.encode().expect("a decoded TPDU re-encodes");
        let again = Tpdu::decode(&bytes).expect("a re-encoded TPDU decodes");
        assert_eq!(again, t);
        if let Tpdu::Deliver(d) = &t {
            let _ = d.user_data.text();
        }
    }
});
