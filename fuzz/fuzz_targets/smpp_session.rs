//! Fuzz target: the session core (both roles) fed arbitrary bytes and timer ticks; it must never
//! panic, whatever a peer sends.
#![no_main]
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smsgate_smpp::session::{BindParams, BindType, Role, Session, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    for role in [Role::Esme, Role::Smsc] {
        let mut s = Session::new(role, SessionConfig::default(), t0);
        if role == Role::Esme {
            let _ = s.bind(t0, &BindParams::new(BindType::Transceiver, "fuzz", "pw"));
        }
        for (i, chunk) in data.chunks(37).enumerate() {
            let now = t0 + Duration::from_secs(i as u64);
            s.handle_bytes(now, chunk);
            s.handle_timeout(now);
            while let Some(event) = s.poll_event() {
                if let smsgate_smpp::session::Event::BindRequest(r) = event {
                    let _ = s.accept_bind(r.sequence_number, &r, "smsc");
                }
            }
            let _ = s.poll_transmit();
        }
    }
});
