//! Fuzz target: what an untrusted mail client sends the SMTP listener. The input's lines go
//! to the session state machine one by one (AUTH refused, every recipient accepted); once it
//! asks for the mail, the rest of the input is the mail and goes through the MIME reader that
//! turns it into an SMS text. Neither may panic, and a transaction never holds a recipient
//! outside the served domain.
#![no_main]
use libfuzzer_sys::fuzz_target;

use std::sync::Arc;

use smsgate_smtp::config::{Allowed, TextFrom};
use smsgate_smtp::session::{Session, Settings, Step};
use smsgate_smtp::text;

fuzz_target!(|data: &[u8]| {
    let settings = Arc::new(Settings {
        hostname: "mx.fuzz".into(),
        domain: "sms.example.com".into(),
        tls_available: true,
        allow_plain_auth: data.first().is_some_and(|b| b & 1 == 1),
        max_message_bytes: 4096,
        max_recipients: 5,
        allowed: vec![Allowed {
            sender: "dev@site.example".into(),
            networks: smsgate_core::outbound::parse_networks(&["127.0.0.0/8"]).unwrap(),
            tenant: "t".into(),
            owner: "smtp:dev@site.example".into(),
        }],
    });
    let mut s = Session::new(settings, "127.0.0.1".parse().unwrap(), false);
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        let mut step = s.line(line);
        loop {
            step = match step {
                Step::Reply(_) => break,
                Step::Close(_) => return,
                Step::StartTls => {
                    s.tls_started();
                    break;
                }
                Step::Authenticate { .. } => s.auth_result(None),
                Step::CheckRecipient(r) => {
                    assert!(r.address.to_ascii_lowercase().ends_with("@sms.example.com"));
                    s.rcpt_result(r, Ok(()))
                }
                Step::ReadData => {
                    let env = s.envelope().expect("DATA only within a transaction");
                    assert!(!env.recipients.is_empty());
                    for from in [TextFrom::Body, TextFrom::Both] {
                        let _ = text::extract(rest, from);
                    }
                    return;
                }
            };
        }
    }
});
