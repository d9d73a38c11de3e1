//! Fuzz target: `parse_modem_pdu` (hex string with leading SMSC address, as +CMGR/+CMT give it)
//! and `Address::decode_smsc` on arbitrary input. Invariant: no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsgate_sms::tpdu::{Address, parse_modem_pdu};

fuzz_target!(|data: &[u8]| {
    let _ = Address::decode_smsc(data);
    // Also feed the octets as a valid hex string, so the parser gets past the hex layer.
    let hex = smsgate_sms::hex::encode(data);
    let len = data.first().map(|&b| b as usize);
    let _ = parse_modem_pdu(&hex, len);
    if let Ok(m) = parse_modem_pdu(&hex, None) {
        let _ = m.tpdu.encode();
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_modem_pdu(s, None);
    }
});
