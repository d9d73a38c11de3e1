//! Tiers 3 and 4: the tokio drivers over `tokio::io::duplex` against the simulator or a
//! scriptable fake SMSC, and over loopback TCP on port 0 (server shutdown, supervisor).

use std::time::Duration;

use rusmpp::pdus::{BindTransceiverResp, BindTransmitterResp, SubmitSm, SubmitSmResp};
use rusmpp::types::OctetString;
use rusmpp::values::RegisteredDelivery;
use smsgate_smpp::client::{
    self, AmbiguousReason, BindError, ClientConfig, ClientEvent, SubmitError,
};
use smsgate_smpp::pdu::{CommandId, CommandStatus, Frame, FrameDecoder};
use smsgate_smpp::receipt::{MessageIdFormat, ReceiptState};
use smsgate_smpp::session::{BindParams, BindType, CloseReason, SessionConfig};
use smsgate_smpp::sim::{InjectError, MoMessage, SimConfig, Simulator};
use smsgate_smpp::supervisor::{LinkState, Supervisor, SupervisorConfig, TcpDialer};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::cs;

fn submit(receipt: bool) -> SubmitSm {
    SubmitSm::builder()
        .source_addr(cs("smsgate"))
        .destination_addr(cs("4915112345678"))
        .registered_delivery(RegisteredDelivery::from(u8::from(receipt)))
        .short_message(OctetString::from_vec(b"hello world".to_vec()).unwrap())
        .build()
}

fn config(bind_type: BindType, password: &str, window: usize) -> ClientConfig {
    let mut c = ClientConfig::new(BindParams::new(bind_type, "esme", password));
    c.session = SessionConfig {
        window,
        ..SessionConfig::default()
    };
    c
}

fn sim(config: SimConfig) -> (Simulator, DuplexStream) {
    let sim = Simulator::new(config);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let s = sim.clone();
    tokio::spawn(async move { s.serve_connection(b).await });
    (sim, a)
}

async fn next_inbound(events: &mut client::Events) -> client::Inbound {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(ClientEvent::Inbound(i))) => return i,
            Ok(Some(_)) => continue,
            other => panic!("no inbound message: {other:?}"),
        }
    }
}

#[tokio::test]
async fn submit_is_answered_and_the_receipt_correlates_after_ack() {
    let (sim, io) = sim(SimConfig {
        receipt_delay: Duration::from_millis(20),
        ..SimConfig::default()
    });
    let (client, mut events) = client::bind(io, config(BindType::Transceiver, "pw", 10))
        .await
        .unwrap();
    assert!(
        matches!(events.recv().await, Some(ClientEvent::Bound(b)) if b.peer_system_id == "smsgate-sim")
    );
    let resp = client.submit(submit(true)).await.unwrap();
    let id = resp.message_id().as_str().to_owned();
    assert!(sim.message(&id).is_some());
    let inbound = next_inbound(&mut events).await;
    let receipt = inbound.receipt().expect("a receipt");
    assert_eq!(receipt.message_id, id);
    assert_eq!(receipt.state, ReceiptState::Delivered);
    assert_eq!(receipt.text.unwrap().text.as_deref(), Some("hello world"));
    assert!(
        !sim.message(&id).unwrap().receipt_acked,
        "not acknowledged before ack()"
    );
    inbound.ack();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !sim.message(&id).unwrap().receipt_acked {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(sim.stats().receipts_acked, 1);
}

#[tokio::test]
async fn text_receipt_ids_in_decimal_correlate_with_hex_resp_ids_after_normalisation() {
    let config = SimConfig {
        receipt_delay: Duration::ZERO,
        text_id_decimal: true,
        ..SimConfig::default()
    };
    let (_sim, io) = sim(config);
    let (client, mut events) = client::bind(io, self::config(BindType::Transceiver, "pw", 10))
        .await
        .unwrap();
    let id = client
        .submit(submit(true))
        .await
        .unwrap()
        .message_id()
        .as_str()
        .to_owned();
    let inbound = next_inbound(&mut events).await;
    let text_id = inbound.receipt().unwrap().text.unwrap().id;
    assert_ne!(text_id, id);
    assert_eq!(
        MessageIdFormat::DECIMAL.normalize(&text_id),
        MessageIdFormat::HEX.normalize(&id)
    );
    inbound.ack();
}

#[tokio::test]
async fn wrong_credentials_are_rejected_with_rinvpaswd_or_rinvsysid() {
    let accounts = vec![("esme".to_owned(), "pw".to_owned())];
    let (_, io) = sim(SimConfig {
        accounts: accounts.clone(),
        ..SimConfig::default()
    });
    let err = client::bind(io, config(BindType::Transmitter, "wrong", 10))
        .await
        .unwrap_err();
    assert_eq!(err, BindError::Rejected(CommandStatus::EsmeRinvpaswd));
    let (sim, io) = sim(SimConfig {
        accounts,
        ..SimConfig::default()
    });
    let mut c = config(BindType::Transmitter, "pw", 10);
    c.bind.system_id = "nobody".into();
    let err = client::bind(io, c).await.unwrap_err();
    assert_eq!(err, BindError::Rejected(CommandStatus::EsmeRinvsysid));
    assert_eq!(sim.stats().bind_rejected, 1);
}

#[tokio::test]
async fn throttling_and_failures_are_classified() {
    let (_, io) = sim(SimConfig {
        throttle_rate: 1.0,
        ..SimConfig::default()
    });
    let (client, _events) = client::bind(io, config(BindType::Transmitter, "pw", 10))
        .await
        .unwrap();
    assert_eq!(
        client.submit(submit(false)).await,
        Err(SubmitError::Throttled(CommandStatus::EsmeRthrottled))
    );
    let (_, io) = sim(SimConfig {
        failure_rate: 1.0,
        ..SimConfig::default()
    });
    let (client, _events) = client::bind(io, config(BindType::Transmitter, "pw", 10))
        .await
        .unwrap();
    assert_eq!(
        client.submit(submit(false)).await,
        Err(SubmitError::Temporary(CommandStatus::EsmeRsubmitfail))
    );
    assert!(matches!(
        client::classify(CommandStatus::EsmeRinvdstadr, &[]),
        SubmitError::Permanent(_)
    ));
}

#[tokio::test]
async fn receiver_bind_submit_is_not_bound() {
    let (_, io) = sim(SimConfig::default());
    let (client, _events) = client::bind(io, config(BindType::Receiver, "pw", 10))
        .await
        .unwrap();
    assert_eq!(
        client.submit(submit(false)).await,
        Err(SubmitError::NotBound)
    );
}

/// A fake SMSC: binds anything; once `expect` submits arrived it answers the first `answer`
/// and then drops the connection (or, with `hold`, keeps it open without answering more).
async fn fake_smsc(io: DuplexStream, expect: usize, answer: usize, hold: bool) {
    let (mut r, mut w) = tokio::io::split(io);
    let mut decoder = FrameDecoder::new(70_000);
    let mut buf = vec![0u8; 8192];
    let mut submits = Vec::new();
    loop {
        let n = r.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        decoder.extend(&buf[..n]);
        while let Some(Ok(frame)) = decoder.next_frame() {
            let seq = frame.sequence_number();
            let reply = match frame.command_id() {
                CommandId::BindTransmitter => Frame::new(
                    CommandStatus::EsmeRok,
                    seq,
                    BindTransmitterResp::new(cs("fake"), None),
                ),
                CommandId::BindTransceiver => Frame::new(
                    CommandStatus::EsmeRok,
                    seq,
                    BindTransceiverResp::new(cs("fake"), None),
                ),
                CommandId::SubmitSm => {
                    submits.push(seq);
                    continue;
                }
                _ => continue,
            };
            w.write_all(&reply.to_bytes()).await.unwrap();
        }
        if submits.len() >= expect {
            for (i, seq) in submits.iter().take(answer).enumerate() {
                let resp = SubmitSmResp::new(cs(&format!("m{i}")), vec![]);
                w.write_all(&Frame::new(CommandStatus::EsmeRok, *seq, resp).to_bytes())
                    .await
                    .unwrap();
            }
            if hold {
                std::future::pending::<()>().await;
            }
            return;
        }
    }
}

#[tokio::test]
async fn dropping_the_connection_mid_window_leaves_no_submit_silently_lost() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(fake_smsc(b, 10, 3, false));
    let (client, mut events) = client::bind(a, config(BindType::Transmitter, "pw", 10))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let c = client.clone();
        tasks.spawn(async move { c.submit(submit(false)).await });
    }
    let (mut ok, mut ambiguous) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => ok += 1,
            Err(SubmitError::Ambiguous(AmbiguousReason::ConnectionLost)) => ambiguous += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, ambiguous), (3, 7));
    let mut last = None;
    while let Some(e) = events.recv().await {
        last = Some(e);
    }
    assert!(matches!(
        last,
        Some(ClientEvent::Disconnected(CloseReason::TransportClosed(_)))
    ));
    assert_eq!(
        client.submit(submit(false)).await,
        Err(SubmitError::NotBound)
    );
}

#[tokio::test(start_paused = true)]
async fn unanswered_submit_becomes_ambiguous_after_the_response_timeout() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(fake_smsc(b, 2, 1, true));
    let mut c = config(BindType::Transmitter, "pw", 10);
    c.session.response_timeout = Duration::from_secs(5);
    c.session.enquire_link_interval = Duration::from_secs(3600);
    let (client, _events) = client::bind(a, c).await.unwrap();
    let started = tokio::time::Instant::now();
    let (first, second) = tokio::join!(client.submit(submit(false)), client.submit(submit(false)));
    assert_eq!(first.unwrap().message_id().as_str(), "m0");
    assert_eq!(
        second,
        Err(SubmitError::Ambiguous(AmbiguousReason::Timeout))
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn window_of_one_serialises_submits() {
    let (sim, io) = sim(SimConfig::default());
    let (client, _events) = client::bind(io, config(BindType::Transmitter, "pw", 1))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = client.clone();
        tasks.spawn(async move { c.submit(submit(false)).await.unwrap() });
    }
    while tasks.join_next().await.is_some() {}
    assert_eq!(sim.stats().accepted, 20);
    assert_eq!(sim.protocol_counters().throttled_out, 0);
}

#[tokio::test(start_paused = true)]
async fn max_tps_paces_submits() {
    let (_, io) = sim(SimConfig::default());
    let mut c = config(BindType::Transmitter, "pw", 10);
    c.max_tps = Some(10);
    let (client, _events) = client::bind(io, c).await.unwrap();
    let started = tokio::time::Instant::now();
    for _ in 0..11 {
        client.submit(submit(false)).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn mo_injection_waits_for_the_consumer_ack() {
    let (sim, io) = sim(SimConfig::default());
    let (_client, mut events) = client::bind(io, config(BindType::Receiver, "pw", 10))
        .await
        .unwrap();
    let s = sim.clone();
    let mo = MoMessage {
        from: "4915112345678".into(),
        to: "1234".into(),
        text: "Grüße €".into(),
        system_id: None,
        ..Default::default()
    };
    let inject = tokio::spawn(async move { s.inject_mo(mo).await });
    let inbound = next_inbound(&mut events).await;
    let sm = inbound.deliver_sm().unwrap();
    assert!(inbound.receipt().is_none());
    let text = smsgate_sms::UserData::from_smpp(
        u8::from(sm.data_coding),
        false,
        sm.short_message().as_ref(),
        false,
    )
    .and_then(|ud| ud.text())
    .unwrap();
    assert_eq!(text, "Grüße €");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!inject.is_finished(), "deliver_sm_resp must wait for ack()");
    inbound.ack();
    assert!(inject.await.unwrap().is_ok());
    assert_eq!(sim.stats().mo_delivered, 1);
}

#[tokio::test]
async fn dropping_an_inbound_message_unacknowledged_asks_for_redelivery() {
    let (sim, io) = sim(SimConfig::default());
    let (_client, mut events) = client::bind(io, config(BindType::Transceiver, "pw", 10))
        .await
        .unwrap();
    let s = sim.clone();
    let mo = MoMessage {
        from: "49151".into(),
        to: "1234".into(),
        text: "x".into(),
        system_id: None,
        ..Default::default()
    };
    let inject = tokio::spawn(async move { s.inject_mo(mo).await });
    drop(next_inbound(&mut events).await);
    assert!(matches!(inject.await.unwrap(), Err(InjectError::Failed(_))));
    let mo = MoMessage {
        from: "49151".into(),
        to: "1234".into(),
        text: "x".into(),
        system_id: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(sim.inject_mo(mo).await, Err(InjectError::NoReceiver));
}

#[tokio::test]
async fn server_shutdown_unbinds_clients() {
    let sim = Simulator::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let s = sim.clone();
    let server = tokio::spawn(async move {
        s.run(listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let (client, mut events) = client::connect(addr, config(BindType::Transceiver, "pw", 10))
        .await
        .unwrap();
    assert_eq!(sim.stats().binds, 1);
    stop.send(()).unwrap();
    let mut last = None;
    while let Some(e) = events.recv().await {
        last = Some(e);
    }
    assert!(
        matches!(last, Some(ClientEvent::Disconnected(CloseReason::Unbound))),
        "{last:?}"
    );
    assert!(!client.is_bound());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn supervisor_reconnects_after_the_smsc_drops_the_connection() {
    let sim = Simulator::new(SimConfig {
        disconnect_rate: 1.0,
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let s = sim.clone();
    tokio::spawn(async move { s.run(listener, std::future::pending()).await });
    let connector = TcpDialer {
        addr: addr.to_string(),
        timeout: Duration::from_secs(2),
    };
    let mut config = SupervisorConfig::new(config(BindType::Transmitter, "pw", 10));
    config.backoff_initial = Duration::from_millis(20);
    let (supervisor, _events) = Supervisor::spawn(connector, config);
    let mut state = supervisor.watch_state();
    let bound = |s: &LinkState| *s == LinkState::Bound;
    tokio::time::timeout(Duration::from_secs(5), state.wait_for(bound))
        .await
        .unwrap()
        .unwrap();
    let result = supervisor.submit(submit(false)).await;
    assert_eq!(
        result,
        Err(SubmitError::Ambiguous(AmbiguousReason::ConnectionLost))
    );
    let reconnecting = |s: &LinkState| matches!(s, LinkState::Reconnecting { attempt: 1, .. });
    tokio::time::timeout(Duration::from_secs(5), state.wait_for(reconnecting))
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), state.wait_for(bound))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sim.stats().binds, 2);
    supervisor.shutdown().await;
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_caps() {
    let config = SupervisorConfig::new(config(BindType::Transmitter, "pw", 10));
    let mut rng = smsgate_smpp::rng::Rng::new(7);
    for attempt in 1..12 {
        let base = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(60));
        let d = config.backoff(attempt, &mut rng);
        assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
    }
}
