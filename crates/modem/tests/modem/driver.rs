//! The driver against the simulator over an in-process pipe: start-up, the life of a message
//! (send, status report, delivered), inbound single and long messages in both indication
//! modes, a URC in the middle of `AT+CMGS`, a wrong PIN, a hung modem, and a crash between
//! `AT+CMGR` and `AT+CMGD`.

use std::sync::Arc;
use std::time::Duration;

use smsgate_modem::at::SendClass;
use smsgate_modem::driver::{
    Heard, Indications, LinkState, Modem, ModemEvent, ModemSettings, ReportState, SendRequest,
};
use smsgate_modem::sim::{SimConfig, Simulator};
use tokio::sync::mpsc;

fn settings() -> ModemSettings {
    ModemSettings {
        device: "sim".into(),
        command_timeout: Duration::from_millis(500),
        send_timeout: Duration::from_secs(2),
        health_interval: Duration::from_secs(60),
        max_per_minute: 6000,
        reset_backoff: Duration::from_millis(100),
        reset_backoff_max: Duration::from_millis(400),
        ..ModemSettings::default()
    }
}

fn start(sim: &Simulator, s: ModemSettings) -> (Modem, mpsc::Receiver<ModemEvent>) {
    let (tx, rx) = mpsc::channel(16);
    (Modem::start("m1", s, Arc::new(sim.clone()), tx), rx)
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn ready(m: &Modem) {
    until("modem ready", || m.status().can_send()).await;
}

/// The next event, acknowledged as durable.
async fn heard(rx: &mut mpsc::Receiver<ModemEvent>) -> Heard {
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event in time")
        .expect("driver alive");
    ev.ack.done(true);
    ev.heard
}

fn req(to: &str, text: &str) -> SendRequest {
    SendRequest {
        id: "m".into(),
        to: to.into(),
        text: text.into(),
        encoding: None,
        validity: Some(Duration::from_secs(3600)),
        reference: 7,
        binary: None,
    }
}

#[tokio::test]
async fn start_up_reads_identity_and_a_message_lives_until_delivered() {
    let sim = Simulator::new(SimConfig::default());
    let (m, mut rx) = start(&sim, settings());
    ready(&m).await;
    let st = m.status();
    assert_eq!(st.identity.manufacturer.as_deref(), Some("smsgate"));
    assert_eq!(st.identity.imsi.as_deref(), Some("262019999999999"));
    assert_eq!(st.signal_dbm, Some(-73));
    assert_eq!(st.smsc.as_deref(), Some("+491710760000"));

    let ids = m.send(req("+4915112345678", "hello")).await.unwrap();
    assert_eq!(ids.len(), 1);
    let sent = sim.stats().sent;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+4915112345678");
    assert!(sent[0].status_report_requested);
    assert_eq!(
        heard(&mut rx).await,
        Heard::Report {
            remote_id: ids[0].clone(),
            state: ReportState::Delivered,
            status: "00".into()
        }
    );
    until("report deleted", || sim.stats().stored == 0).await;
}

#[tokio::test]
async fn long_unicode_messages_go_out_in_parts_with_one_report_each() {
    let sim = Simulator::new(SimConfig {
        report: smsgate_modem::sim::ReportOutcome::Undelivered,
        ..SimConfig::default()
    });
    let (m, mut rx) = start(&sim, settings());
    ready(&m).await;
    let text = "Grüße 😀 ".repeat(20);
    let ids = m.send(req("+4915112345678", &text)).await.unwrap();
    assert_eq!(ids.len(), 3); // 180 UTF-16 units, 67 per part
    let sent = sim.stats().sent;
    assert_eq!(
        sent.iter().map(|p| p.text.as_str()).collect::<String>(),
        text
    );
    assert!(
        sent.iter()
            .all(|p| p.concat.is_some_and(|c| c.reference == 7))
    );
    let mut reported = Vec::new();
    for _ in 0..3 {
        let Heard::Report {
            remote_id, state, ..
        } = heard(&mut rx).await
        else {
            panic!("expected reports")
        };
        assert_eq!(state, ReportState::Undelivered);
        reported.push(remote_id);
    }
    reported.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(reported, want);
}

#[tokio::test]
async fn cms_errors_are_classified() {
    let sim = Simulator::new(SimConfig::default());
    let (m, _rx) = start(&sim, settings());
    ready(&m).await;
    sim.fail_next_send(1);
    let e = m.send(req("+4915112345678", "x")).await.unwrap_err();
    assert_eq!((e.class, e.code.as_str()), (SendClass::Permanent, "cms_1"));
    sim.fail_next_send(42);
    let e = m.send(req("+4915112345678", "x")).await.unwrap_err();
    assert_eq!(e.class, SendClass::Temporary);
    assert!(e.message.contains("congestion"), "{}", e.message);
}

#[tokio::test]
async fn inbound_single_and_long_messages_are_reported_then_deleted() {
    let sim = Simulator::new(SimConfig::default());
    let (m, mut rx) = start(&sim, settings());
    ready(&m).await;
    sim.inject_mo("+4917011111111", "ping").unwrap();
    assert_eq!(
        heard(&mut rx).await,
        Heard::Inbound {
            from: "+4917011111111".into(),
            text: "ping".into(),
            incomplete: false,
            binary: None,
        }
    );
    let long = "Ünïcödé and a long text. ".repeat(12);
    assert_eq!(sim.inject_mo("+4917022222222", &long).unwrap(), 5);
    assert_eq!(
        heard(&mut rx).await,
        Heard::Inbound {
            from: "+4917022222222".into(),
            text: long,
            incomplete: false,
            binary: None,
        }
    );
    until("storage emptied", || sim.stats().stored == 0).await;
    assert!(sim.stats().deletes >= 6);
}

#[tokio::test]
async fn direct_indications_are_acknowledged_with_cnma_after_reporting() {
    let sim = Simulator::new(SimConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let (m, mut rx) = start(
        &sim,
        ModemSettings {
            indications: Indications::Direct,
            state_file: Some(dir.path().join("m1.json")),
            ..settings()
        },
    );
    ready(&m).await;
    let long = "direct ".repeat(40);
    sim.inject_mo("+4917033333333", &long).unwrap();
    let Heard::Inbound { text, .. } = heard(&mut rx).await else {
        panic!("inbound expected")
    };
    assert_eq!(text, long);
    until("both parts acknowledged", || sim.stats().acks == 2).await;
    assert_eq!(sim.stats().stored, 0);
    // Status reports come as +CDS too.
    let ids = m.send(req("+4915112345678", "x")).await.unwrap();
    assert!(matches!(heard(&mut rx).await, Heard::Report { remote_id, .. } if remote_id == ids[0]));
    until("report acknowledged", || sim.stats().acks == 3).await;
}

#[tokio::test]
async fn a_urc_during_cmgs_is_handled_after_the_send() {
    let sim = Simulator::new(SimConfig::default());
    let (m, mut rx) = start(&sim, settings());
    ready(&m).await;
    sim.inject_mo_during_next_send("+4917044444444", "mid-send");
    let ids = m.send(req("+4915112345678", "out")).await.unwrap();
    assert_eq!(ids.len(), 1);
    let mut got = [heard(&mut rx).await, heard(&mut rx).await];
    got.sort_by_key(|h| matches!(h, Heard::Report { .. }));
    assert_eq!(
        got[0],
        Heard::Inbound {
            from: "+4917044444444".into(),
            text: "mid-send".into(),
            incomplete: false,
            binary: None,
        }
    );
    assert!(matches!(&got[1], Heard::Report { remote_id, .. } if *remote_id == ids[0]));
}

#[tokio::test]
async fn a_wrong_pin_is_tried_once_and_the_driver_says_so() {
    let sim = Simulator::new(SimConfig {
        pin: Some("1234".into()),
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let wrong = ModemSettings {
        pin: Some("0000".into()),
        state_file: Some(dir.path().join("m1.json")),
        ..settings()
    };
    let (m, _rx) = start(&sim, wrong.clone());
    until("failed", || {
        matches!(m.status().link, LinkState::Failed { .. })
    })
    .await;
    let LinkState::Failed { reason } = m.status().link else {
        unreachable!()
    };
    assert!(reason.contains("rejected the PIN"), "{reason}");
    assert!(reason.contains("incorrect password"), "{reason}");
    // Several backoff periods later, still one attempt: the SIM is not locked.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.stats().pin_attempts, 1);
    let e = m.send(req("+4915112345678", "x")).await.unwrap_err();
    assert_eq!(e.class, SendClass::Unavailable);
    // A restart with the same wrong PIN does not spend another attempt either.
    drop(m);
    let (m, _rx) = start(&sim, wrong);
    until("failed again", || {
        matches!(m.status().link, LinkState::Failed { .. })
    })
    .await;
    assert_eq!(sim.stats().pin_attempts, 1);
}

#[tokio::test]
async fn the_right_pin_unlocks_the_sim() {
    let sim = Simulator::new(SimConfig {
        pin: Some("1234".into()),
        ..SimConfig::default()
    });
    let (m, _rx) = start(
        &sim,
        ModemSettings {
            pin: Some("1234".into()),
            ..settings()
        },
    );
    ready(&m).await;
    assert_eq!(sim.stats().pin_attempts, 1);
}

#[tokio::test]
async fn a_hung_modem_is_reset_and_serves_again_without_losing_messages() {
    let sim = Simulator::new(SimConfig::default());
    let (m, mut rx) = start(&sim, settings());
    ready(&m).await;
    sim.hang(Some(Duration::from_secs(2)));
    // A message arriving while it hangs is stored without an indication.
    sim.inject_mo("+4917055555555", "while hung").unwrap();
    let e = m
        .send(req("+4915112345678", "during the hang"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.class, SendClass::Temporary | SendClass::Unavailable),
        "{e:?}"
    );
    assert!(sim.stats().sent.is_empty(), "nothing reached the network");
    until("resetting", || {
        matches!(m.status().link, LinkState::Resetting { .. })
    })
    .await;
    ready(&m).await;
    assert!(m.status().counters.resets >= 1);
    // The start-up sweep finds the stored message; the retried send goes out.
    assert_eq!(
        heard(&mut rx).await,
        Heard::Inbound {
            from: "+4917055555555".into(),
            text: "while hung".into(),
            incomplete: false,
            binary: None,
        }
    );
    let ids = m
        .send(req("+4915112345678", "during the hang"))
        .await
        .unwrap();
    assert!(matches!(heard(&mut rx).await, Heard::Report { remote_id, .. } if remote_id == ids[0]));
    assert_eq!(sim.stats().sent.len(), 1);
}

#[tokio::test]
async fn a_crash_between_cmgr_and_cmgd_repeats_the_message_but_never_loses_it() {
    let sim = Simulator::new(SimConfig::default());

    // Crash before the message was durable: the driver is gone before the ack.
    let (m, mut rx) = start(&sim, settings());
    ready(&m).await;
    sim.inject_mo("+4917066666666", "first").unwrap();
    let ev = rx.recv().await.unwrap();
    drop(m);
    drop(ev); // never acknowledged
    drop(rx);
    assert_eq!(sim.stats().stored, 1, "not deleted before it was durable");

    // Restart: the sweep reads it again, exactly once.
    let (m, mut rx) = start(&sim, settings());
    assert!(matches!(heard(&mut rx).await, Heard::Inbound { text, .. } if text == "first"));
    until("deleted", || sim.stats().stored == 0).await;

    // Crash after it was durable but before AT+CMGD was answered: it comes twice.
    sim.inject_mo("+4917066666666", "second").unwrap();
    let ev = rx.recv().await.unwrap();
    sim.hang(None); // AT+CMGD will never be answered
    ev.ack.done(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(m);
    drop(rx);
    sim.unhang();
    assert_eq!(sim.stats().stored, 1);
    let (_m, mut rx) = start(&sim, settings());
    assert!(matches!(heard(&mut rx).await, Heard::Inbound { text, .. } if text == "second"));
    until("deleted", || sim.stats().stored == 0).await;
}
