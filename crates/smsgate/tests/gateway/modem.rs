//! The gateway with a `type = "modem"` connector on the modem simulator's pseudo-terminal —
//! what `smsgate serve` does with `device` pointing at `smsgate sim modem --pty`: GSM, Unicode
//! and long messages with delivery reports, inbound single and long messages, the modem in
//! `/v1/connectors`, a hung modem recovered without losing a message, two modems (pty and TCP)
//! in one route failing over while one hangs, and the real `smsgate sim modem --pty` process
//! driven through its standard input.

use std::time::Duration;

use serde_json::{Value, json};
use smsgate::config::ConnectorConfig;
use smsgate_modem::sim::{SimConfig, Simulator};
use smsgate_testkit::{TestGateway, config};

async fn gateway_on(sim: &Simulator) -> TestGateway {
    let (path, _task) = sim.spawn_pty(std::future::pending()).unwrap();
    gateway_on_device(&path.display().to_string()).await
}

fn modem_settings(device: &str) -> serde_json::Map<String, Value> {
    let Value::Object(settings) = json!({
        "device": device,
        "baud": 115200,
        "command_timeout": "1s",
        "send_timeout": "3s",
        "health_interval": "1s",
        "max_per_minute": 600,
        "reset_backoff": "100ms",
        "reset_backoff_max": "500ms",
    }) else {
        unreachable!()
    };
    settings
}

async fn gateway_on_device(device: &str) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), json!({}));
    c.connectors = vec![ConnectorConfig {
        name: "modem-1".into(),
        kind: "modem".into(),
        settings: modem_settings(device),
    }];
    TestGateway::start_with(c, dir).await
}

async fn connector(gw: &TestGateway) -> Value {
    let (s, v) = gw.call("GET", "/v1/connectors", None).await;
    assert_eq!(s, 200, "{v}");
    v[0].clone()
}

async fn wait_bound(gw: &TestGateway) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = connector(gw).await;
        if c["state"] == "bound" {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "never bound: {c}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_inbound(gw: &TestGateway, text: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = gw.call("GET", "/v1/inbound", None).await;
        if let Some(m) = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["text"] == text)
        {
            return m.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no inbound '{text}': {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_go_out_and_come_in_through_a_modem_on_a_pty() {
    let sim = Simulator::new(SimConfig {
        report_delay: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let gw = gateway_on(&sim).await;
    let c = wait_bound(&gw).await;
    assert_eq!(c["kind"], "modem");
    assert_eq!(c["details"]["identity"]["manufacturer"], "smsgate");
    assert_eq!(c["details"]["identity"]["imei"], "350000000000017");
    assert_eq!(c["details"]["signal_dbm"], -73);
    assert_eq!(c["details"]["registration"], "home");

    let gsm = gw
        .send(json!({"to": "+4915112345678", "text": "Hello [modem] €"}))
        .await;
    let long = "Grüße aus Köln 😀 ".repeat(10);
    let ucs = gw.send(json!({"to": "+4915112345678", "text": long})).await;
    let m = gw.wait_status(&gsm, "delivered").await;
    assert_eq!(m["connector"], "modem-1");
    gw.wait_status(&ucs, "delivered").await;
    let sent = sim.stats().sent;
    assert_eq!(sent.len(), 1 + 3, "one GSM part and three UCS-2 parts");
    assert_eq!(sent[0].text, "Hello [modem] €");
    assert_eq!(
        sent[1..]
            .iter()
            .map(|p| p.text.as_str())
            .collect::<String>(),
        long
    );

    sim.inject_mo("+4917011111111", "STATUS?").unwrap();
    let long_in = "a long reply from the field, ".repeat(8);
    sim.inject_mo("+4917022222222", &long_in).unwrap();
    let m = wait_inbound(&gw, "STATUS?").await;
    assert_eq!(m["from"], "+4917011111111");
    assert_eq!(m["connector"], "modem-1");
    let m = wait_inbound(&gw, &long_in).await;
    assert_eq!(m["incomplete"], false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sim.stats().stored > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "storage not emptied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_modem_is_reset_and_the_queued_message_is_delivered_once() {
    let sim = Simulator::new(SimConfig::default());
    let gw = gateway_on(&sim).await;
    wait_bound(&gw).await;
    sim.hang(Some(Duration::from_secs(3)));
    let id = gw
        .send(json!({"to": "+4915112345678", "text": "sent across a hang"}))
        .await;
    // The connector notices, reports itself unavailable while it resets, then recovers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = connector(&gw).await;
        if c["state"] == "reconnecting" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never reset: {c}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c = wait_bound(&gw).await;
    assert!(
        c["details"]["counters"]["resets"].as_u64().unwrap() >= 1,
        "{c}"
    );
    gw.wait_status(&id, "delivered").await;
    let copies = sim
        .stats()
        .sent
        .iter()
        .filter(|p| p.text == "sent across a hang")
        .count();
    assert_eq!(copies, 1);
    gw.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_works_against_the_sim_modem_command_on_its_printed_pty() {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["sim", "modem", "--pty", "--report-delay", "100ms"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut path = String::new();
    while !path.starts_with("/dev/") {
        path.clear();
        assert!(
            out.read_line(&mut path).unwrap() > 0,
            "no device path printed"
        );
        path = path.trim().to_owned();
    }
    let gw = gateway_on_device(&path).await;
    wait_bound(&gw).await;
    let id = gw
        .send(json!({"to": "+4915112345678", "text": "via the CLI simulator"}))
        .await;
    gw.wait_status(&id, "delivered").await;
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "mo +4917099999999 typed into the simulator").unwrap();
    let m = wait_inbound(&gw, "typed into the simulator").await;
    assert_eq!(m["from"], "+4917099999999");
    gw.gw.shutdown().await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_modems_in_one_route_fail_over_while_one_hangs() {
    // modem-1 on a pty, modem-2 behind a TCP serial server (`device = "tcp://…"`, as ser2net).
    let first = Simulator::new(SimConfig::default());
    let second = Simulator::new(SimConfig::default());
    let (pty, _task) = first.spawn_pty(std::future::pending()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp = format!("tcp://{}", listener.local_addr().unwrap());
    let s = second.clone();
    tokio::spawn(async move { s.serve_tcp(listener, std::future::pending()).await });

    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), json!({}));
    c.connectors = vec![
        ConnectorConfig {
            name: "modem-1".into(),
            kind: "modem".into(),
            settings: modem_settings(&pty.display().to_string()),
        },
        ConnectorConfig {
            name: "modem-2".into(),
            kind: "modem".into(),
            settings: modem_settings(&tcp),
        },
    ];
    c.routes = vec![
        serde_json::from_value(json!({"name": "modems", "prefix": "+49",
            "connectors": ["modem-1", "modem-2"]}))
        .unwrap(),
    ];
    let gw = TestGateway::start_with(c, dir).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = gw.call("GET", "/v1/connectors", None).await;
        if list
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["state"] == "bound")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never bound: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Both up: the route's first modem carries the message.
    let id = gw
        .send(json!({"to": "+4915112345678", "text": "before the hang"}))
        .await;
    assert_eq!(
        gw.wait_status(&id, "delivered").await["connector"],
        "modem-1"
    );

    // modem-1 stops answering: the next messages go out through modem-2, once each.
    first.hang(None);
    let ids = [
        gw.send(json!({"to": "+4915112345601", "text": "during the hang 1"}))
            .await,
        gw.send(json!({"to": "+4915112345602", "text": "during the hang 2"}))
            .await,
    ];
    for id in &ids {
        let m = gw.wait_status(id, "delivered").await;
        assert_eq!(m["connector"], "modem-2", "{m}");
    }
    for text in ["during the hang 1", "during the hang 2"] {
        let count = |sim: &Simulator| sim.stats().sent.iter().filter(|p| p.text == text).count();
        assert_eq!((count(&first), count(&second)), (0, 1), "{text}");
    }

    // modem-1 answers again: it is reset, re-initialised and serves the route again.
    first.unhang();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, list) = gw.call("GET", "/v1/connectors", None).await;
        let m1 = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "modem-1")
            .cloned()
            .unwrap();
        if m1["state"] == "bound" && m1["details"]["counters"]["resets"].as_u64() >= Some(1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never recovered: {m1}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = gw
        .send(json!({"to": "+4915112345678", "text": "after the hang"}))
        .await;
    assert_eq!(
        gw.wait_status(&id, "delivered").await["connector"],
        "modem-1"
    );
    gw.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_sms_go_out_and_come_in_through_a_modem_byte_exact() {
    let sim = Simulator::new(SimConfig {
        report_delay: Duration::from_millis(100),
        ..SimConfig::default()
    });
    let gw = gateway_on(&sim).await;
    wait_bound(&gw).await;
    let out: Vec<u8> = (0..150u32).map(|i| (i * 11 % 256) as u8).collect();
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    let id = gw
        .send(json!({"to": "+4915112345678", "binary": hex, "port": {"dest": 5000}}))
        .await;
    let m = gw.wait_status(&id, "delivered").await;
    assert_eq!(m["segments"], 2, "{m}");
    assert_eq!(sim.stats().sent.len(), 2, "two 8-bit SMS-SUBMITs");
    // A tracker's 8-bit report with its port header, long enough for two parts.
    let report: Vec<u8> = (0..180u32).map(|i| (255 - i % 256) as u8).collect();
    let ports = smsgate_sms::udh::InformationElement {
        id: 0x05,
        data: vec![0x13, 0x88, 0x13, 0x89],
    };
    assert_eq!(
        sim.inject_mo_binary("+4917011111111", &report, &[ports])
            .unwrap(),
        2
    );
    let want: String = report.iter().map(|b| format!("{b:02x}")).collect();
    let m = wait_inbound(&gw, &want).await;
    assert_eq!(m["from"], "+4917011111111");
    assert_eq!(
        m["binary"],
        json!({"udh": "050413881389", "data_coding": 4}),
        "{m}"
    );
    gw.gw.shutdown().await;
}
