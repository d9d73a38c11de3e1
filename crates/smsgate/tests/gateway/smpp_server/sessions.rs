//! Binding and the flow of a session: wrong credentials (one answer, then the connection
//! closes), connection limits, a client that never reads, the account window and
//! `max_tps`, the queue bound (`ESME_RMSGQFUL`), and a connection dropped mid-window.

use super::*;

async fn wrong_credentials_get_the_bind_error_and_nothing_else() {
    let t = gateway(json!({})).await;
    // The same answer for an unknown system_id and a wrong password: nothing to tell which
    // accounts exist.
    let e = bind_as(&t.gw, BindType::Transceiver, "nobody", "secret1")
        .await
        .unwrap_err();
    assert_eq!(e, BindError::Rejected(CommandStatus::EsmeRbindfail));
    let e = bind_as(&t.gw, BindType::Transceiver, "app1", "secret2")
        .await
        .unwrap_err();
    assert_eq!(e, BindError::Rejected(CommandStatus::EsmeRbindfail));
    // The right credentials still bind afterwards.
    let (c, _events) = bind(&t.gw, BindType::Transmitter).await;
    assert_eq!(c.bind_info().peer_system_id, "smsgate");
    c.unbind().await;
    t.gw.shutdown().await;
}

/// A raw `bind_transceiver` (SMPP 3.4 §4.1.5) with these credentials.
fn raw_bind(system_id: &str, password: &str, sequence: u32) -> Vec<u8> {
    let mut body = Vec::new();
    for field in [system_id, password, ""] {
        body.extend_from_slice(field.as_bytes());
        body.push(0);
    }
    body.extend_from_slice(&[0x34, 0, 0, 0]); // interface_version, addr_ton, addr_npi, range ""
    let mut pdu = Vec::new();
    pdu.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    pdu.extend_from_slice(&0x0000_0009u32.to_be_bytes());
    pdu.extend_from_slice(&0u32.to_be_bytes());
    pdu.extend_from_slice(&sequence.to_be_bytes());
    pdu.extend_from_slice(&body);
    pdu
}

async fn a_failed_bind_is_answered_and_the_connection_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = gateway(json!({})).await;
    let mut s = tokio::net::TcpStream::connect(t.gw.smpp_addr.unwrap())
        .await
        .unwrap();
    s.write_all(&raw_bind("app1", "guess-1", 1)).await.unwrap();
    let mut header = [0u8; 16];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut header))
        .await
        .expect("a bind_transceiver_resp")
        .unwrap();
    let word = |i: usize| u32::from_be_bytes(header[i..i + 4].try_into().unwrap());
    assert_eq!(word(4), 0x8000_0009, "bind_transceiver_resp");
    assert_eq!(word(8), 0x0000_000D, "ESME_RBINDFAIL");
    assert_eq!(word(12), 1, "answers our sequence number");
    let len = word(0) as usize;
    let mut rest = vec![0u8; len - 16];
    s.read_exact(&mut rest).await.unwrap();
    // A second guess on the same connection gets nowhere: the server has closed it.
    let _ = s.write_all(&raw_bind("app1", "guess-2", 2)).await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("the server closes the connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "no answer to a second bind: {:?}", &buf[..n]);
    // The right credentials bind on a new connection.
    let (c, _events) = bind(&t.gw, BindType::Transmitter).await;
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn connections_over_the_per_ip_limit_are_closed_at_once() {
    use tokio::io::AsyncReadExt;
    let t = gateway(json!({"max_connections_per_ip": 2})).await;
    let addr = t.gw.smpp_addr.unwrap();
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Both are open and waiting for a bind; the third is closed without a word.
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("the third connection is closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // A slot freed is a slot for the next client.
    drop(first);
    let mut bound = None;
    for _ in 0..50 {
        if let Ok(c) = bind_as(&t.gw, BindType::Transmitter, "app1", "secret1").await {
            bound = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (c, _events) = bound.expect("a bind once the first connection is gone");
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn a_client_that_sends_but_never_reads_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = gateway(json!({"response_timeout": "1s"})).await;
    let mut s = tokio::net::TcpStream::connect(t.gw.smpp_addr.unwrap())
        .await
        .unwrap();
    // enquire_link (SMPP 3.4 §4.11) needs no bind and is answered every time: 4,096 of them
    // per write, up to 8 MiB in all, never reading an answer.
    let mut chunk = Vec::with_capacity(4096 * 16);
    for seq in 1..=4096u32 {
        chunk.extend_from_slice(&16u32.to_be_bytes());
        chunk.extend_from_slice(&0x0000_0015u32.to_be_bytes());
        chunk.extend_from_slice(&0u32.to_be_bytes());
        chunk.extend_from_slice(&seq.to_be_bytes());
    }
    let mut sent = 0usize;
    while sent < 8 << 20 {
        match tokio::time::timeout(Duration::from_secs(2), s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            // The server stopped reading (or already closed): exactly what should happen.
            _ => break,
        }
    }
    assert!(sent < 8 << 20, "the server kept reading all {sent} bytes");
    // After its response_timeout with our output unread, the server closes: reading now
    // drains what it had sent and then ends.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut buf = vec![0u8; 1 << 16];
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        let mut total = 0usize;
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break total,
                Ok(n) => total += n,
            }
        }
    })
    .await
    .expect("the server closed the connection");
    assert!(
        drained < sent,
        "answers for only part of what was sent: {drained} of {sent}"
    );
    // The gateway serves others as before.
    let (c, _events) = bind(&t.gw, BindType::Transmitter).await;
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn the_account_window_and_max_tps_answer_throttled() {
    let t = gateway(json!({
        "accounts": [
            {"system_id": "slow", "password": "pw-12345", "max_tps": 2},
            {"system_id": "narrow", "password": "pw-12345", "window": 1},
        ],
    }))
    .await;
    for (account, expect_ok) in [("slow", Some(2)), ("narrow", None)] {
        let (c, _events) = bind_as(&t.gw, BindType::Transmitter, account, "pw-12345")
            .await
            .unwrap();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..6 {
            let c = c.clone();
            set.spawn(async move {
                submit(
                    &c,
                    sm(&format!("49151123456{i:02}"), 0, 0, &gsm("burst"), vec![]),
                )
                .await
            });
        }
        let (mut ok, mut throttled) = (0, 0);
        while let Some(r) = set.join_next().await {
            match r.unwrap() {
                Ok(_) => ok += 1,
                Err(SubmitError::Throttled(CommandStatus::EsmeRthrottled)) => throttled += 1,
                Err(e) => panic!("{account}: {e:?}"),
            }
        }
        assert_eq!(ok + throttled, 6);
        assert!(throttled >= 1, "{account}: nothing throttled");
        if let Some(n) = expect_ok {
            // A burst of 2; a third only if the machine took half a second to admit six.
            assert!(
                (n..=n + 1).contains(&ok),
                "{account}: max_tps 2 admitted {ok}"
            );
        } else {
            assert!(ok >= 1, "{account}: the window admits one at a time");
        }
        assert_eq!(
            messages_of(&t.gw, &format!("smpp:{account}")).await.len(),
            ok
        );
        c.unbind().await;
    }
    t.gw.shutdown().await;
}

async fn a_full_queue_answers_msgqful_like_the_api_answers_429() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "100ms"}));
    c.smpp_server = Some(server_config(json!({})));
    c.limits.max_queued = 2;
    let t = TestGateway::start_with(c, dir).await;
    let (client, _events) = bind(&t.gw, BindType::Transmitter).await;
    // Scheduled an hour ahead (relative SMPP time), so they stay in the queue.
    let later = |i: u8| {
        let mut s = sm(&format!("4915112345{i:03}"), 0, 0, &gsm("later"), vec![]);
        s.schedule_delivery_time =
            EmptyOrFullCOctetString::from_vec(b"000000010000000R\0".to_vec()).unwrap();
        s
    };
    submit(&client, later(1)).await.unwrap();
    submit(&client, later(2)).await.unwrap();
    let e = submit(&client, later(3)).await.unwrap_err();
    assert_eq!(e, SubmitError::Throttled(CommandStatus::EsmeRmsgqful));
    let (s, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x"})),
        )
        .await;
    assert_eq!(s, 429, "one bound over both channels: {v}");
    assert_eq!(messages_of(&t.gw, "smpp:app1").await.len(), 2);
    client.unbind().await;
    t.gw.shutdown().await;
}

async fn a_connection_dropped_mid_window_loses_nothing_that_was_acknowledged() {
    let t = gateway(json!({})).await;
    let (c, _events) = bind(&t.gw, BindType::Transmitter).await;
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (c, acked) = (c.clone(), acked_tx.clone());
        set.spawn(async move {
            let r = submit(
                &c,
                sm(&format!("49151123456{i:02}"), 0, 0, &gsm("drop"), vec![]),
            )
            .await;
            if let Ok(id) = &r {
                let _ = acked.send(id.clone());
            }
            r
        });
    }
    // Cut the TCP connection right after the 10th response.
    let mut acked = Vec::new();
    while acked.len() < 10 {
        acked.push(acked_rx.recv().await.unwrap());
    }
    c.abort();
    let mut lost_responses = 0;
    while let Some(r) = set.join_next().await {
        if let Err(e) = r.unwrap() {
            assert!(
                matches!(e, SubmitError::Ambiguous(_) | SubmitError::NotBound),
                "{e:?}"
            );
            lost_responses += 1;
        }
    }
    while let Ok(id) = acked_rx.try_recv() {
        acked.push(id);
    }
    assert_eq!(acked.len() + lost_responses, 40);
    // Every acknowledged submit reaches a final status.
    for id in &acked {
        t.wait_status(id, "delivered").await;
    }
    // Submits whose response never came were stored or not; count both.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = messages_of(&t.gw, "smpp:app1").await;
    let unacked_stored = stored.len() - acked.len();
    println!(
        "dropped mid-window: {} acknowledged, {} without response of which {} stored and {} not",
        acked.len(),
        lost_responses,
        unacked_stored,
        lost_responses - unacked_stored
    );
    assert!(stored.len() >= acked.len() && stored.len() <= 40);
    for id in &acked {
        assert!(stored.iter().any(|m| &m.id.to_string() == id));
    }
    t.gw.shutdown().await;
}

/// One bind on a fresh connection; the `command_status` of its answer.
async fn bind_status(t: &TestGateway, system_id: &str, password: &str) -> u32 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(t.gw.smpp_addr.unwrap())
        .await
        .unwrap();
    s.write_all(&raw_bind(system_id, password, 1))
        .await
        .unwrap();
    let mut header = [0u8; 16];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut header))
        .await
        .expect("a bind response")
        .unwrap();
    u32::from_be_bytes(header[8..12].try_into().unwrap())
}

async fn a_client_that_keeps_retrying_binds_is_paused_even_with_the_right_password() {
    let t = gateway(json!({})).await;
    for i in 0..4 {
        assert_eq!(bind_status(&t, "app1", &format!("guess{i}")).await, 0x0D);
    }
    // Past three failures binds from this address (and for app1) pause: even the right
    // password gets the same ESME_RBINDFAIL, so guessing on costs time.
    assert_eq!(bind_status(&t, "app1", "secret1").await, 0x0D, "paused");
    assert_eq!(
        bind_status(&t, "app2", "secret2").await,
        0x0D,
        "per address too"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        bind_status(&t, "app1", "secret1").await,
        0,
        "bound after the pause"
    );
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    wrong_credentials_get_the_bind_error_and_nothing_else,
    a_failed_bind_is_answered_and_the_connection_closed,
    connections_over_the_per_ip_limit_are_closed_at_once,
    a_client_that_sends_but_never_reads_is_cut_off,
    the_account_window_and_max_tps_answer_throttled,
    a_full_queue_answers_msgqful_like_the_api_answers_429,
    a_connection_dropped_mid_window_loses_nothing_that_was_acknowledged,
    a_client_that_keeps_retrying_binds_is_paused_even_with_the_right_password,
);
