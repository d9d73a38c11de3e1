//! Fuzz target: the SMPP 3.4 Appendix B text receipt parser and id normalisation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsgate_smpp::receipt::{MessageIdFormat, parse_text};

fuzz_target!(|data: &[u8]| {
    let text: String = data.iter().map(|&b| b as char).collect();
    if let Some(r) = parse_text(&text) {
        let _ = MessageIdFormat::HEX.normalize(&r.id);
        let _ = MessageIdFormat::DECIMAL.normalize(&r.id);
    }
});
