//! The modem simulator: its behaviour on plain bytes with time passed in, and served on a real
//! pseudo-terminal.

use std::time::{Duration, Instant};

use smsgate_modem::sim::{SimConfig, SimModem};
use smsgate_sms::tpdu::{Address, SmsSubmit, Tpdu, parse_modem_pdu};
use smsgate_sms::{SegmentOptions, segment};

struct Bench {
    m: SimModem,
    now: Instant,
}

impl Bench {
    fn new(config: SimConfig) -> Self {
        let now = Instant::now();
        Self {
            m: SimModem::new(config, now, 1_800_000_000),
            now,
        }
    }

    /// Sends one line and returns everything the modem answered by now.
    fn at(&mut self, line: &str) -> String {
        self.m
            .handle_input(format!("{line}\r").as_bytes(), self.now);
        self.out()
    }

    fn out(&mut self) -> String {
        let mut s = String::new();
        while let Some(b) = self.m.poll_output(self.now) {
            s.push_str(&String::from_utf8_lossy(&b));
        }
        s
    }

    fn advance(&mut self, d: Duration) -> String {
        self.now += d;
        self.m.handle_timeout(self.now);
        self.out()
    }
}

fn submit_pdu(to: &str, text: &str, srr: bool) -> (String, usize) {
    let m = segment(text, &SegmentOptions::default()).unwrap();
    let subs = SmsSubmit::for_message(&Address::parse(to), &m, 0, None, None, srr).unwrap();
    subs[0].to_cmgs(None).unwrap()
}

#[test]
fn it_echoes_until_ate0_and_formats_errors_per_cmee() {
    let mut b = Bench::new(SimConfig::default());
    assert_eq!(b.at("AT"), "AT\r\r\nOK\r\n");
    assert_eq!(b.at("ATE0"), "ATE0\r\r\nOK\r\n");
    assert_eq!(b.at("AT"), "\r\nOK\r\n");
    assert_eq!(b.at("AT+CMGR=99"), "\r\nERROR\r\n");
    b.at("AT+CMEE=1");
    assert_eq!(b.at("AT+CMGR=99"), "\r\n+CMS ERROR: 321\r\n");
    b.at("AT+CMEE=2");
    assert_eq!(
        b.at("AT+CMGR=99"),
        "\r\n+CMS ERROR: invalid memory index\r\n"
    );
    assert_eq!(b.at("AT+NOPE"), "\r\nERROR\r\n");
}

#[test]
fn a_wrong_pin_costs_one_attempt_and_three_lock_the_sim() {
    let mut b = Bench::new(SimConfig {
        pin: Some("1234".into()),
        ..SimConfig::default()
    });
    b.at("ATE0");
    b.at("AT+CMEE=1");
    assert_eq!(b.at("AT+CPIN?"), "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(b.at("AT+CMGL=4"), "\r\n+CMS ERROR: 311\r\n");
    assert_eq!(b.at("AT+CPIN=\"0000\""), "\r\n+CME ERROR: 16\r\n");
    assert_eq!(b.m.stats().pin_attempts, 1);
    assert_eq!(b.at("AT+CPIN=\"1234\""), "\r\nOK\r\n");
    assert_eq!(b.at("AT+CPIN?"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");

    let mut b = Bench::new(SimConfig {
        pin: Some("1234".into()),
        ..SimConfig::default()
    });
    for _ in 0..3 {
        b.at("AT+CPIN=9999");
    }
    assert!(b.m.stats().puk_required);
}

#[test]
fn a_send_gets_a_reference_and_a_stored_status_report() {
    let mut b = Bench::new(SimConfig {
        first_reference: 250,
        ..SimConfig::default()
    });
    for l in ["ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,2,0"] {
        b.at(l);
    }
    let (hex, len) = submit_pdu("+4915112345678", "hello", true);
    assert_eq!(b.at(&format!("AT+CMGS={len}")), "\r\n> ");
    b.m.handle_input(format!("{hex}\x1a").as_bytes(), b.now);
    assert_eq!(b.out(), "\r\n+CMGS: 250\r\n\r\nOK\r\n");
    assert_eq!(b.m.stats().sent[0].to, "+4915112345678");
    assert_eq!(b.m.stats().sent[0].text, "hello");
    assert_eq!(b.advance(Duration::from_millis(100)), "");
    assert_eq!(
        b.advance(Duration::from_millis(100)),
        "\r\n+CDSI: \"SM\",1\r\n"
    );
    let r = b.at("AT+CMGR=1");
    let pdu = r.lines().nth(3).unwrap();
    let Tpdu::StatusReport(sr) = parse_modem_pdu(pdu, None).unwrap().tpdu else {
        panic!("not a status report: {r}")
    };
    assert_eq!(sr.message_reference, 250);
    assert_eq!(sr.status, 0);
    b.at("AT+CMGD=1");
    assert_eq!(b.m.stats().stored, 0);
}

#[test]
fn injected_messages_are_stored_with_indices_and_announced() {
    let mut b = Bench::new(SimConfig::default());
    for l in ["ATE0", "AT+CMGF=0", "AT+CNMI=2,1,0,2,0"] {
        b.at(l);
    }
    let parts =
        b.m.inject_mo("+4917011111111", &"long ".repeat(40), b.now)
            .unwrap();
    assert_eq!(parts, 2);
    assert_eq!(b.out(), "\r\n+CMTI: \"SM\",1\r\n\r\n+CMTI: \"SM\",2\r\n");
    let list = b.at("AT+CMGL=4");
    assert_eq!(list.matches("+CMGL:").count(), 2, "{list}");
    b.at("AT+CMGD=1");
    assert_eq!(b.m.stats().stored, 1);
}

#[test]
fn direct_delivery_waits_for_cnma_and_is_redelivered_without_it() {
    let mut b = Bench::new(SimConfig::default());
    for l in ["ATE0", "AT+CMGF=0", "AT+CSMS=1", "AT+CNMI=2,2,0,1,0"] {
        b.at(l);
    }
    b.m.inject_mo("+4917011111111", "one", b.now).unwrap();
    b.m.inject_mo("+4917011111111", "two", b.now).unwrap();
    let first = b.out();
    assert!(first.starts_with("\r\n+CMT: ,"), "{first}");
    assert_eq!(
        first.matches("+CMT:").count(),
        1,
        "the second waits: {first}"
    );
    // The acknowledgement releases the second; leave that one unacknowledged.
    let acked = b.at("AT+CNMA");
    assert!(acked.starts_with("\r\nOK\r\n\r\n+CMT: ,"), "{acked}");
    let again = b.advance(Duration::from_secs(11));
    assert_eq!(again.matches("+CMT:").count(), 1, "redelivered: {again}");
    assert_eq!(b.m.stats().acks, 1);
    assert_eq!(b.at("AT+CNMA"), "\r\nOK\r\n");
    assert_eq!(b.at("AT+CNMA"), "\r\nERROR\r\n");
}

#[test]
fn a_hanging_modem_answers_nothing_until_the_hang_ends() {
    let mut b = Bench::new(SimConfig::default());
    b.at("ATE0");
    b.m.set_hang(Some(Duration::from_secs(5)), b.now);
    assert_eq!(b.at("AT"), "");
    assert_eq!(b.advance(Duration::from_secs(5)), "");
    assert_eq!(b.at("AT"), "\r\nOK\r\n");
}

#[test]
fn cms_errors_can_be_injected_into_sends() {
    let mut b = Bench::new(SimConfig::default());
    for l in ["ATE0", "AT+CMEE=1", "AT+CMGF=0"] {
        b.at(l);
    }
    b.m.fail_next_send(42);
    let (hex, len) = submit_pdu("+4915112345678", "x", false);
    b.at(&format!("AT+CMGS={len}"));
    b.m.handle_input(format!("{hex}\x1a").as_bytes(), b.now);
    assert_eq!(b.out(), "\r\n+CMS ERROR: 42\r\n");
    assert!(b.m.stats().sent.is_empty());
}

#[tokio::test]
async fn the_simulator_serves_a_pseudo_terminal_that_opens_like_a_serial_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = smsgate_modem::sim::Simulator::new(SimConfig::default());
    let (path, _task) = sim.spawn_pty(std::future::pending()).unwrap();
    assert!(path.starts_with("/dev/pts"), "{}", path.display());
    let mut tty = smsgate_modem::transport::Tty::open(&path, 115200).unwrap();
    tty.write_all(b"AT+CGMI\r").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"OK\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), tty.read(&mut buf))
            .await
            .expect("the simulator answers")
            .unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"AT+CGMI\r\r\nsmsgate\r\n\r\nOK\r\n");
    // Closing and reopening the device (what a reset does) works while the simulator runs.
    drop(tty);
    let mut tty = smsgate_modem::transport::Tty::open(&path, 9600).unwrap();
    tty.write_all(b"ATE0\r").await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), tty.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"ATE0"));
}
