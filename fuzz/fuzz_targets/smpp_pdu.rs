//! Fuzz target: the SMPP stream splitter and PDU decoder (SMPP 3.4 §3.2) on arbitrary bytes.
//! Every decoded PDU must re-encode and decode to itself; errors must yield a valid reply.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsgate_smpp::pdu::{FrameDecoder, decode_frame};

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::new(64 * 1024);
    decoder.extend(data);
    while let Some(result) = decoder.next_frame() {
        match result {
            Ok(frame) => {
                let again = decode_frame(&frame.to_bytes()).expect("re-encoded frame decodes");
                assert_eq!(again, frame);
            }
            Err(error) => {
                let _ = error.reply().map(|f| f.to_bytes());
            }
        }
    }
});
