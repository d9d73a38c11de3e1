//! The `smpp` connector inside a real gateway (HTTP on port 0, SQLite in a temp dir) against
//! our SMSC simulator on port 0: GSM, UCS-2 and long messages with receipts, ids in different
//! formats, receipts overtaking responses, throttling, dropped connections, a rejected bind,
//! and inbound messages (single, UDH and SAR parts); over TLS to `smsgate sim smsc
//! --tls-cert`, and an untrusted certificate shown in `GET /v1/connectors`. The same connector
//! against third-party SMSCs is in `smpp_interop.rs`.

use std::time::Duration;

use serde_json::{Value, json};
use smsgate::config::{Config, ConnectorConfig};
use smsgate_smpp::receipt::IdRadix;
use smsgate_smpp::sim::{MoLong, MoMessage, SimConfig, Simulator};
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop::tls_file;

/// A simulator on port 0, served until the test ends.
async fn simulator(config: SimConfig) -> (Simulator, u16) {
    let sim = Simulator::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = sim.clone();
    tokio::spawn(async move { s.run(listener, std::future::pending()).await });
    (sim, port)
}

/// A gateway whose only connector is `smpp` to 127.0.0.1:`port` with `extra` settings.
async fn gateway(port: u16, extra: Value) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({}));
    let mut settings = json!({
        "host": "127.0.0.1",
        "port": port,
        "system_id": "gw",
        "password": "pw",
        "reconnect_initial": "50ms",
        "reconnect_max": "200ms",
    });
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    let Value::Object(settings) = settings else {
        unreachable!()
    };
    c.connectors = vec![ConnectorConfig {
        name: "carrier".into(),
        kind: "smpp".into(),
        settings,
    }];
    TestGateway::start_with(c, dir).await
}

fn sim_config(delay_ms: u64) -> SimConfig {
    SimConfig {
        receipt_delay: Duration::from_millis(delay_ms),
        ..SimConfig::default()
    }
}

async fn wait_bound(t: &TestGateway) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = t.call("GET", "/v1/connectors", None).await;
        if list[0]["state"] == "bound" {
            return list[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never bound: {list}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn inbound(t: &TestGateway, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = t.call("GET", "/v1/inbound", None).await;
        let rows = page["data"].as_array().cloned().unwrap_or_default();
        if rows.len() >= n {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "wanted {n} inbound: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn gsm_unicode_and_long_messages_are_delivered_with_receipts_in_hex_and_decimal_ids() {
    // The SMSC answers ids in hex but writes text receipts in decimal, and sends no TLV id
    // rule hint: the connector is told both formats.
    let (sim, port) = simulator(SimConfig {
        id_format: IdRadix::Hex,
        text_id_decimal: true,
        ..sim_config(30)
    })
    .await;
    let t = gateway(
        port,
        json!({"message_id_format": "hex", "receipt_id_format": "decimal", "window": 4}),
    )
    .await;
    let info = wait_bound(&t).await;
    assert_eq!(info["kind"], "smpp");
    assert_eq!(info["details"]["sessions"][0]["state"], "bound");

    let long = "Tank 4 level report: ".repeat(12);
    let gsm = t
        .send(json!({"to": "+4915112345678", "text": "Pump 3 @ 5 bar £"}))
        .await;
    let ucs2 = t
        .send(json!({"to": "+4915112345679", "text": "Überdruck 🔥 Kessel"}))
        .await;
    let multi = t
        .send(json!({"to": "+4915112345670", "text": long, "from": "ACME"}))
        .await;
    for id in [&gsm, &ucs2, &multi] {
        t.wait_status(id, "delivered").await;
    }
    let m = t.wait_status(&multi, "delivered").await;
    assert_eq!(m["segments"], 2);
    assert_eq!(m["connector"], "carrier");

    let recs = sim.messages();
    let to = |n: &str| -> Vec<_> { recs.iter().filter(|r| r.destination == n).collect() };
    let g = to("4915112345678");
    assert_eq!((g.len(), g[0].data_coding, g[0].esm_class), (1, 0, 0));
    let u = to("4915112345679");
    assert_eq!(u[0].data_coding, 8);
    assert_eq!(
        smsgate_sms::charsets::decode_ucs2(&u[0].short_message),
        "Überdruck 🔥 Kessel"
    );
    let parts = to("4915112345670");
    assert_eq!(parts.len(), 2);
    assert!(
        parts
            .iter()
            .all(|p| p.esm_class == 0x40 && p.source == "ACME")
    );
    assert_eq!(
        &parts[1].short_message[3..6],
        &[parts[0].short_message[3], 2, 2]
    );
    assert!(recs.iter().all(|r| r.receipt_acked));

    let (_, list) = t.call("GET", "/v1/connectors", None).await;
    assert_eq!(list[0]["submitted"], 3);
    assert_eq!(list[0]["receipts"], 4);
    t.gw.shutdown().await;
}

#[tokio::test]
async fn receipts_that_overtake_the_submit_response_still_complete_the_message() {
    // Receipt delay 0: the receipt is written right after the response, usually before the
    // dispatcher recorded the submit; the store keeps it as an orphan until then.
    let (_sim, port) = simulator(sim_config(0)).await;
    let t = gateway(port, json!({})).await;
    wait_bound(&t).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            t.send(json!({"to": format!("+49151123456{i:02}"), "text": "race"}))
                .await,
        );
    }
    for id in &ids {
        t.wait_status(id, "delivered").await;
    }
    t.gw.shutdown().await;
}

#[tokio::test]
async fn sar_and_message_payload_carry_long_messages_too() {
    for (mode, pdus) in [("sar", 3), ("message_payload", 1)] {
        let (sim, port) = simulator(sim_config(10)).await;
        let t = gateway(port, json!({"long_messages": mode})).await;
        wait_bound(&t).await;
        let id = t
            .send(json!({"to": "+4915112345678", "text": "Σ".repeat(400)}))
            .await;
        let m = t.wait_status(&id, "delivered").await;
        assert_eq!(m["segments"], 3, "{mode}");
        assert_eq!(sim.messages().len(), pdus, "{mode}");
        assert!(sim.messages().iter().all(|r| r.esm_class == 0), "{mode}");
        t.gw.shutdown().await;
    }
}

#[tokio::test]
async fn throttling_slows_the_connector_down_and_every_message_still_arrives() {
    let (sim, port) = simulator(SimConfig {
        throttle_rate: 0.3,
        seed: 7,
        ..sim_config(10)
    })
    .await;
    let t = gateway(port, json!({"throttle_pause": "20ms"})).await;
    wait_bound(&t).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            t.send(json!({"to": format!("+49151123456{i:02}"), "text": format!("m{i}")}))
                .await,
        );
    }
    for id in &ids {
        t.wait_status(id, "delivered").await;
    }
    assert!(sim.stats().throttled > 0);
    let (_, list) = t.call("GET", "/v1/connectors", None).await;
    assert_eq!(list[0]["details"]["throttled"], sim.stats().throttled);
    t.gw.shutdown().await;
}

#[tokio::test]
async fn connections_dropped_mid_window_lose_no_message() {
    let (sim, port) = simulator(SimConfig {
        disconnect_rate: 0.05,
        seed: 3,
        ..sim_config(10)
    })
    .await;
    let t = gateway(port, json!({"window": 10})).await;
    wait_bound(&t).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(
            t.send(json!({"to": format!("+49151123456{i:02}"), "text": format!("n{i}")}))
                .await,
        );
    }
    for id in &ids {
        // Ambiguous submits are retried (the default), so each ends delivered.
        t.wait_for(id, |m| m["status"] == "delivered").await;
    }
    assert!(sim.stats().disconnects > 0, "{:?}", sim.stats());
    let (_, list) = t.call("GET", "/v1/connectors", None).await;
    assert!(
        list[0]["details"]["ambiguous"].as_u64().unwrap() > 0,
        "{list}"
    );
    t.gw.shutdown().await;
}

#[tokio::test]
async fn on_ambiguous_fail_fails_the_message_with_code_ambiguous() {
    let (_sim, port) = simulator(SimConfig {
        disconnect_rate: 1.0,
        ..sim_config(10)
    })
    .await;
    let t = gateway(port, json!({"on_ambiguous": "fail"})).await;
    wait_bound(&t).await;
    let id = t.send(json!({"to": "+4915112345678", "text": "x"})).await;
    let m = t.wait_status(&id, "failed").await;
    assert_eq!(m["error_code"], "ambiguous", "{m}");
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_rejected_bind_keeps_reconnecting_and_shows_why() {
    let (sim, port) = simulator(SimConfig {
        accounts: vec![("gw".into(), "right".into())],
        ..sim_config(10)
    })
    .await;
    let t = gateway(port, json!({"password": "wrong"})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = t.call("GET", "/v1/connectors", None).await;
        let s = &list[0]["details"]["sessions"][0];
        if s["state"] == "reconnecting" && sim.stats().bind_rejected >= 2 {
            assert_eq!(list[0]["state"], "reconnecting");
            assert!(
                s["last_error"].as_str().unwrap().contains("Rinvpaswd"),
                "{s}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.gw.shutdown().await;
}

#[tokio::test]
async fn inbound_messages_single_udh_and_sar_are_stored_then_acknowledged() {
    let (sim, port) = simulator(sim_config(10)).await;
    let t = gateway(port, json!({})).await;
    wait_bound(&t).await;
    let long = "Level sensor 2 reports 81 percent at the north tank. ".repeat(5);
    for (text, long_mode) in [
        ("STOP".to_owned(), MoLong::Payload),
        (long.clone(), MoLong::Udh),
        (format!("Ж{long}"), MoLong::Sar),
        (format!("{long}!"), MoLong::Payload),
    ] {
        let mo = MoMessage {
            from: "+4915112345678".into(),
            to: "1234".into(),
            text,
            long: long_mode,
            ..Default::default()
        };
        // Resolves once every part was acknowledged, which happens only after the commit.
        sim.inject_mo(mo).await.unwrap();
    }
    let rows = inbound(&t, 4).await;
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert!(texts.contains(&"STOP"));
    assert!(texts.contains(&long.as_str()));
    assert!(texts.contains(&format!("Ж{long}").as_str()));
    assert!(texts.contains(&format!("{long}!").as_str()));
    assert!(
        rows.iter().all(|r| r["from"] == "+4915112345678"
            && r["to"] == "1234"
            && r["incomplete"] == false)
    );
    assert_eq!(sim.stats().mo_delivered, 4);
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_transmitter_receiver_pair_sends_on_one_bind_and_gets_receipts_and_mo_on_the_other() {
    let (sim, port) = simulator(sim_config(20)).await;
    let t = gateway(port, json!({"bind": "pair"})).await;
    let sessions = t.wait_sessions_bound().await;
    let binds: Vec<&str> = sessions
        .iter()
        .map(|s| s["bind"].as_str().unwrap())
        .collect();
    assert_eq!(binds, ["transmitter", "receiver"]);
    assert_eq!(sim.stats().binds, 2);
    let ids = [
        t.send(json!({"to": "+4915112345678", "text": "over the transmitter"}))
            .await,
        t.send(json!({"to": "+4915112345679", "text": "Quittung über den Empfänger ✓"}))
            .await,
    ];
    for id in &ids {
        // `delivered` needs the receipt, which only the receiver session can get.
        t.wait_status(id, "delivered").await;
    }
    assert_eq!(sim.stats().receipts_acked, 2);
    sim.inject_mo(MoMessage {
        from: "4915112345678".into(),
        to: "1234".into(),
        text: "STATUS".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let rows = inbound(&t, 1).await;
    assert_eq!(rows[0]["text"], "STATUS");
    t.gw.shutdown().await;
}

#[tokio::test]
async fn an_smpp_connector_config_is_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smsgate.toml");
    std::fs::write(
        &path,
        "[[connectors]]\nname = \"c\"\ntype = \"smpp\"\nhost = \"h\"\nsystem_id = \"much-too-long-system-id\"\n",
    )
    .unwrap();
    let e = Config::load(Some(&path)).unwrap_err();
    assert!(format!("{e:#}").contains("system_id"), "{e:#}");
    std::fs::write(
        &path,
        "[[connectors]]\nname = \"c\"\ntype = \"smpp\"\nhost = \"h\"\nsystem_id = \"s\"\nbind = \"both\"\n",
    )
    .unwrap();
    let e = Config::load(Some(&path)).unwrap_err();
    assert!(format!("{e:#}").contains("both"), "{e:#}");
    // TLS files are loaded at start-up, so a wrong path stops it with the path named...
    std::fs::write(
        &path,
        "[[connectors]]\nname = \"c\"\ntype = \"smpp\"\nhost = \"h\"\nsystem_id = \"s\"\ntls = true\ntls_ca_file = \"/nowhere/ca.pem\"\n",
    )
    .unwrap();
    let e = Config::load(Some(&path)).unwrap_err();
    assert!(format!("{e:#}").contains("/nowhere/ca.pem"), "{e:#}");
    // ...and TLS keys without `tls = true` would silently send in the clear: refused.
    std::fs::write(
        &path,
        "[[connectors]]\nname = \"c\"\ntype = \"smpp\"\nhost = \"h\"\nsystem_id = \"s\"\ntls_ca_file = \"ca.pem\"\n",
    )
    .unwrap();
    let e = Config::load(Some(&path)).unwrap_err();
    assert!(format!("{e:#}").contains("tls = true"), "{e:#}");
}

/// `smsgate sim smsc --tls-cert … --tls-key …` in-process on port 0.
async fn tls_simulator() -> (smsgate::sim_smsc::Running, tokio::sync::oneshot::Sender<()>) {
    use clap::Parser;
    let (cert, key) = (tls_file("server.pem"), tls_file("server.key"));
    let cli = smsgate::cli::Cli::try_parse_from([
        "smsgate",
        "sim",
        "smsc",
        "--listen",
        "127.0.0.1:0",
        "--receipt-delay",
        "20ms",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ])
    .unwrap();
    let smsgate::cli::Command::Sim {
        action: smsgate::cli::sim::SimAction::Smsc(args),
    } = cli.command
    else {
        unreachable!()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = smsgate::sim_smsc::start(args, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    (running, stop)
}

#[tokio::test]
async fn over_tls_the_connector_delivers_through_the_simulator_with_receipts() {
    let (sim, _stop) = tls_simulator().await;
    let t = gateway(
        sim.smpp.port(),
        json!({"tls": true, "tls_ca_file": tls_file("ca.pem"), "tls_server_name": "localhost"}),
    )
    .await;
    let info = wait_bound(&t).await;
    assert_eq!(info["details"]["tls"], true);
    let long = "Überdruck im Kessel 3, bitte prüfen. ".repeat(5); // 185 GSM characters: 2 parts
    let ids = [
        t.send(json!({"to": "+4915112345678", "text": "over TLS"}))
            .await,
        t.send(json!({"to": "+4915112345679", "text": long})).await,
    ];
    for id in &ids {
        t.wait_status(id, "delivered").await;
    }
    let texts: Vec<Vec<u8>> = sim
        .sim
        .messages()
        .into_iter()
        .map(|m| m.short_message)
        .collect();
    assert!(texts.iter().any(|m| m == b"over TLS"), "{texts:?}");
    assert_eq!(
        sim.sim.stats().submits,
        1 + 2,
        "one short message and two parts"
    );
    t.gw.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_smsc_certificate_keeps_the_connector_reconnecting_and_says_why() {
    let (sim, _stop) = tls_simulator().await;
    // No tls_ca_file: the public web roots, which do not know the test CA.
    let t = gateway(sim.smpp.port(), json!({"tls": true})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = t.call("GET", "/v1/connectors", None).await;
        let s = &list[0]["details"]["sessions"][0];
        if s["state"] == "reconnecting" {
            let why = s["last_error"].as_str().unwrap();
            assert!(why.contains("TLS handshake failed"), "{why}");
            assert!(why.contains("UnknownIssuer"), "{why}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = t
        .send(json!({"to": "+4915112345678", "text": "stays queued"}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sim.sim.stats().binds,
        0,
        "nothing is sent over an unverified link"
    );
    assert_eq!(sim.sim.stats().submits, 0);
    t.gw.shutdown().await;
}
