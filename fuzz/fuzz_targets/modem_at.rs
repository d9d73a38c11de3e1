//! The AT engine and line parsers on arbitrary modem output: never a panic, never unbounded
//! buffering, whatever the modem sends while commands (one with a PDU prompt) run.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smsgate_modem::at::{Command, Engine, EngineConfig, info, line};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut e = Engine::new(EngineConfig { max_line: 512 });
    let t = Duration::from_secs(1);
    e.submit(Command::with_pdu("AT+CMGS=5", "0011AABBCC", t, t), now);
    e.submit(Command::new("AT+CMGL=4", t), now);
    e.submit(Command::new("AT+CREG?", t), now);
    for chunk in data.chunks(7) {
        e.handle_input(chunk, now);
        while let Some(ev) = e.poll_event() {
            if let smsgate_modem::at::Event::Completed { result: Ok(r), .. } = ev {
                let _ = info::cmgl(&r);
                let _ = info::cmgr(&r, 1);
                let _ = info::csq(&r);
                let _ = info::cpms(&r);
                let _ = info::cmgs_reference(&r);
                let _ = info::registration(&r, "+CREG");
            }
        }
        let _ = e.poll_transmit();
    }
    e.handle_timeout(now + t);
    let text = String::from_utf8_lossy(data);
    for l in text.lines() {
        let _ = line::parse_final(l);
        let _ = line::parse_unsolicited(l);
    }
});
