//! Fuzz target: `Reassembler` driven by an arbitrary sequence of parts and clock ticks.
//! Invariants: no panic; a complete (not incomplete) message has every part; nothing is
//! delivered twice; pending state survives export/import.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smsgate_sms::{ConcatInfo, Encoding, Fragment, Reassembler, Shift};

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::with_max_pending(1_000, 8);
    let mut now = 0i64;
    for op in data.chunks(6) {
        if op.len() < 6 {
            break;
        }
        let encoding = match op[0] & 0x03 {
            0 => Encoding::Gsm7,
            1 => Encoding::Ucs2,
            2 => Encoding::Binary8,
            _ => Encoding::Latin1,
        };
        now += i64::from(op[5]) * 10;
        if op[0] & 0x80 != 0 {
            for c in r.poll_expired(now) {
                assert!(c.incomplete);
            }
            continue;
        }
        let concat = (op[0] & 0x40 == 0).then_some(ConcatInfo {
            reference: u16::from(op[1] & 0x03),
            total: op[2] % 5,
            sequence: op[3] % 6,
            wide_reference: op[0] & 0x20 != 0,
        });
        let key = if op[0] & 0x10 != 0 { "a" } else { "b" };
        let fragment = Fragment {
            encoding,
            shift: Shift::DEFAULT,
            payload: vec![op[4]; usize::from(op[4] % 7)],
            elements: Vec::new(),
        };
        if let Some(c) = r.handle_part(key, concat, fragment, now) {
            assert!(!c.incomplete);
            assert!(c.missing.is_empty());
            assert_eq!(c.received.len(), usize::from(c.total));
        }
        if op[0] & 0x08 != 0 {
            let saved = r.export_pending();
            let n = saved.len();
            let mut fresh = Reassembler::with_max_pending(1_000, 8);
            let _ = fresh.import_pending(saved);
            assert!(fresh.export_pending().len() <= n);
            r = fresh;
        }
    }
    let _ = r.poll_timeout();
    let _ = r.poll_expired(i64::MAX);
    assert_eq!(r.pending_messages(), 0);
});
