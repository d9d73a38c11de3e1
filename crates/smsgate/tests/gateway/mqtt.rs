//! The `[mqtt]` bridge in a running gateway against a real broker (Debian's `mosquitto`):
//! sends published to `{prefix}/send` delivered by the simulated network, refusals on
//! `{prefix}/errors`, status events and inbound SMS on their topics, device commands, and a
//! broker restart that loses no event.
//!
//! The broker is the one `SMSGATE_TEST_MQTT` names (`127.0.0.1:1883`; `.ci/run` sets it);
//! without it every test here says it is skipped. Each test works under a topic prefix (and so
//! a client id) of its own, so parallel tests and other users of the broker never meet. The
//! restart test starts a broker of its own (the `mosquitto` binary, skipped without it) on a
//! free port, with persistence, so the test's subscription survives the restart.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Publish, QoS};
use serde_json::{Value, json};
use smsgate_testkit::TestGateway;
use tokio::sync::mpsc;

/// The broker under test, or `None` (the test prints that it is skipped).
fn broker(test: &str) -> Option<String> {
    match std::env::var("SMSGATE_TEST_MQTT") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            eprintln!("skipped {test}: set SMSGATE_TEST_MQTT=host:port of an MQTT broker");
            None
        }
    }
}

/// A topic prefix no other test (or run) uses.
fn prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "smsgate-test/{test}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A gateway (simulated network, 50 ms delivery) bridged to `addr` under `prefix`, once its
/// bridge is connected.
async fn gateway(addr: &str, prefix: &str, extra: Value) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    let mut m = json!({"url": format!("mqtt://{addr}"), "topic_prefix": prefix, "poll": "50ms"});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    c.mqtt = Some(serde_json::from_value(m).unwrap());
    let t = TestGateway::start_with(c, dir).await;
    wait_channel(&t, "connected").await;
    t
}

/// Polls `GET /v1/channels` until the MQTT channel is in `state` (15 s at most).
async fn wait_channel(t: &TestGateway, state: &str) -> Value {
    wait_channel_until(t, |s| s == state).await
}

/// Polls `GET /v1/channels` until the MQTT channel's state passes `pred` (15 s at most).
async fn wait_channel_until(t: &TestGateway, pred: impl Fn(&str) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (s, v) = t.call("GET", "/v1/channels", None).await;
        assert_eq!(s, 200, "{v}");
        let ch = v["channels"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == "mqtt"))
            .cloned()
            .unwrap_or_default();
        if pred(ch["state"].as_str().unwrap_or_default()) {
            return ch;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "channel never got there: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops the gateway, then ends the bridge's persistent session on the broker (a clean
/// connect with its client id), so test runs leave no sessions behind on a shared broker.
async fn finish(t: TestGateway, addr: &str, prefix: &str) {
    t.gw.shutdown().await;
    let id = format!("smsgate-{}", prefix.replace('/', "-"));
    drop(Client::connect(addr, &id, &[], false).await);
}

/// A test's own MQTT client: what it receives on its subscriptions arrives on `rx`.
struct Client {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Publish>,
    _driver: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Connects as `id` and subscribes to `filters` (QoS 1), once the broker confirmed them.
    /// `persistent`: clean session off, so the broker keeps the subscription and what
    /// arrives for it while the client is away.
    async fn connect(addr: &str, id: &str, filters: &[String], persistent: bool) -> Self {
        let (host, port) = addr.rsplit_once(':').unwrap();
        let mut o = MqttOptions::new(id, host, port.parse().unwrap());
        o.set_keep_alive(Duration::from_secs(5))
            .set_clean_session(!persistent)
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(o, 100);
        for f in filters {
            client.subscribe(f.clone(), QoS::AtLeastOnce).await.unwrap();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
        let any = !filters.is_empty();
        let driver = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let _ = tx.send(p);
                    }
                    Ok(Event::Incoming(Incoming::SubAck(_))) if any => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(Event::Incoming(Incoming::ConnAck(_))) if !any => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(_) => {}
                    // The broker went away (the restart test): try again shortly.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        // One confirmation per subscription, or the connection itself without any.
        for _ in 0..filters.len().max(1) {
            tokio::time::timeout(Duration::from_secs(10), subscribed.recv())
                .await
                .expect("the broker confirms the connection and subscriptions");
        }
        Self {
            client,
            rx,
            _driver: driver,
        }
    }

    async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await
            .unwrap();
    }

    /// The next message on `topic` (others are skipped), as JSON (15 s at most).
    async fn next_on(&mut self, topic: &str) -> Value {
        let wait = async {
            loop {
                let p = self.rx.recv().await.expect("client running");
                if p.topic == topic {
                    return serde_json::from_slice::<Value>(&p.payload).unwrap();
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(15), wait)
            .await
            .unwrap_or_else(|_| panic!("nothing arrived on {topic}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_by_mqtt_is_queued_delivered_and_its_statuses_published() {
    let Some(addr) = broker("a_send_by_mqtt_is_queued_delivered_and_its_statuses_published") else {
        return;
    };
    let p = prefix("send");
    let mut sub = Client::connect(&addr, &format!("{p}-sub"), &[format!("{p}/#")], false).await;
    let t = gateway(&addr, &p, json!({})).await;

    sub.publish(
        &format!("{p}/send"),
        r#"{"to":"+4915112345678","text":"hello","idempotency_key":"k1"}"#,
    )
    .await;
    let accepted = sub.next_on(&format!("{p}/accepted")).await;
    assert_eq!(accepted["status"], "queued", "{accepted}");
    assert_eq!(accepted["idempotency_key"], "k1");
    let id = accepted["id"].as_str().unwrap().to_owned();

    let status_topic = format!("{p}/messages/{id}/status");
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("delivered") {
        let ev = sub.next_on(&status_topic).await;
        assert_eq!(ev["id"], id.as_str());
        assert_eq!(ev["to"], "+4915112345678");
        assert_eq!(ev["tenant"], "default");
        seen.push(ev["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.first().map(String::as_str), Some("queued"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "sent"), "{seen:?}");

    let m = t.wait_status(&id, "delivered").await;
    assert_eq!(m["text"], "hello");

    // The same key again: the first message, nothing new queued.
    sub.publish(
        &format!("{p}/send"),
        r#"{"to":"+4915112345678","text":"hello","idempotency_key":"k1"}"#,
    )
    .await;
    let again = sub.next_on(&format!("{p}/accepted")).await;
    assert_eq!(again["id"], id.as_str());

    let ch = wait_channel(&t, "connected").await;
    assert_eq!(ch["name"], "mqtt");
    assert_eq!(ch["counters"]["received"], 2, "{ch}");
    let metrics = t
        .http
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("smsgate_channel_up{channel=\"mqtt\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("smsgate_channel_messages_total{channel=\"mqtt\",kind=\"received\"} 2"),
        "{metrics}"
    );
    finish(t, &addr, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sends_are_reported_on_errors_and_nothing_is_queued() {
    let Some(addr) = broker("bad_sends_are_reported_on_errors_and_nothing_is_queued") else {
        return;
    };
    let p = prefix("errors");
    let mut sub = Client::connect(&addr, &format!("{p}-sub"), &[format!("{p}/#")], false).await;
    // A retained send, there before the bridge subscribes: the broker would deliver it again
    // at every reconnect, so it is refused.
    sub.client
        .publish(
            format!("{p}/send"),
            QoS::AtLeastOnce,
            true,
            r#"{"to":"+4915112345678","text":"x"}"#,
        )
        .await
        .unwrap();
    let _ = sub.next_on(&format!("{p}/send")).await;
    let t = gateway(&addr, &p, json!({"tenants": ["acme"]})).await;
    let errors = format!("{p}/errors");
    let e = sub.next_on(&errors).await;
    assert_eq!(e["error"]["code"], "retained", "{e}");
    // Cleared (the empty message reaches the bridge as a bad payload).
    sub.client
        .publish(format!("{p}/send"), QoS::AtLeastOnce, true, Vec::new())
        .await
        .unwrap();
    let e = sub.next_on(&errors).await;
    assert_eq!(e["error"]["code"], "invalid_payload", "{e}");

    sub.publish(&format!("{p}/send"), "not json").await;
    let e = sub.next_on(&errors).await;
    assert_eq!(e["topic"], format!("{p}/send"));
    assert_eq!(e["error"]["code"], "invalid_payload", "{e}");
    assert_eq!(e["payload"], "not json");

    sub.publish(&format!("{p}/send"), r#"{"to":"12","text":"x"}"#)
        .await;
    let e = sub.next_on(&errors).await;
    assert_eq!(e["error"]["code"], "invalid_number", "{e}");

    sub.publish(
        &format!("{p}/send/other"),
        r#"{"to":"+4915112345678","text":"x"}"#,
    )
    .await;
    let e = sub.next_on(&errors).await;
    assert_eq!(e["error"]["code"], "tenant_not_allowed", "{e}");
    assert_eq!(e["topic"], format!("{p}/send/other"));

    // A tenant the bridge may send for, but that does not exist.
    sub.publish(
        &format!("{p}/send/acme"),
        r#"{"to":"+4915112345678","text":"x"}"#,
    )
    .await;
    let e = sub.next_on(&errors).await;
    assert_eq!(e["error"]["code"], "unknown_tenant", "{e}");

    let (s, list) = t.call("GET", "/v1/messages", None).await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");

    // Refusals were acknowledged: the next good send goes through.
    sub.publish(
        &format!("{p}/send"),
        r#"{"to":"+4915112345678","text":"fine"}"#,
    )
    .await;
    let accepted = sub.next_on(&format!("{p}/accepted")).await;
    t.wait_status(accepted["id"].as_str().unwrap(), "delivered")
        .await;
    let ch = wait_channel(&t, "connected").await;
    assert_eq!(ch["counters"]["refused"], 6, "{ch}");
    finish(t, &addr, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_sms_and_api_sends_are_published_on_their_topics() {
    let Some(addr) = broker("inbound_sms_and_api_sends_are_published_on_their_topics") else {
        return;
    };
    let p = prefix("inbound");
    let mut sub = Client::connect(&addr, &format!("{p}-sub"), &[format!("{p}/#")], false).await;
    let t = gateway(&addr, &p, json!({})).await;

    let (s, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+4915100000001", "to": "+4930123456", "text": "T=21"})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let inbound = sub.next_on(&format!("{p}/inbound/4930123456")).await;
    assert_eq!(inbound["text"], "T=21");
    assert_eq!(inbound["from"], "+4915100000001");

    // A message sent over REST is followed on MQTT too.
    let id = t
        .send(json!({"to": "+4915112345678", "text": "by rest"}))
        .await;
    let topic = format!("{p}/messages/{id}/status");
    loop {
        if sub.next_on(&topic).await["status"] == "delivered" {
            break;
        }
    }
    finish(t, &addr, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_command_by_mqtt_is_sent_and_its_progress_published() {
    let Some(addr) = broker("a_device_command_by_mqtt_is_sent_and_its_progress_published") else {
        return;
    };
    let p = prefix("command");
    let mut sub = Client::connect(&addr, &format!("{p}-sub"), &[format!("{p}/#")], false).await;
    let t = gateway(&addr, &p, json!({})).await;
    let (s, v) = t
        .call(
            "POST",
            "/v1/devices",
            Some(
                json!({"id": "pump-1", "name": "Pump 1", "number": "+4915100000777",
                "commands": ["OFF", "ON"]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    sub.publish(
        &format!("{p}/devices/pump-1/commands"),
        r#"{"command":"OFF","expect":"^OK"}"#,
    )
    .await;
    let pending = sub
        .next_on(&format!("{p}/devices/pump-1/commands/1/pending"))
        .await;
    assert_eq!(pending["command"], "OFF", "{pending}");
    sub.next_on(&format!("{p}/devices/pump-1/commands/1/sent"))
        .await;

    // A device that does not exist, and a command the device does not know.
    sub.publish(
        &format!("{p}/devices/nope/commands"),
        r#"{"command":"OFF"}"#,
    )
    .await;
    let e = sub.next_on(&format!("{p}/errors")).await;
    assert_eq!(e["error"]["code"], "not_found", "{e}");
    sub.publish(&format!("{p}/devices/pump-1/commands"), r#"{"cmd":"OFF"}"#)
        .await;
    let e = sub.next_on(&format!("{p}/errors")).await;
    assert_eq!(e["error"]["code"], "invalid_payload", "{e}");
    finish(t, &addr, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_refused_by_a_full_queue_waits_unacknowledged_and_goes_through_later() {
    let Some(addr) =
        broker("a_send_refused_by_a_full_queue_waits_unacknowledged_and_goes_through_later")
    else {
        return;
    };
    let p = prefix("full");
    let mut sub = Client::connect(&addr, &format!("{p}-sub"), &[format!("{p}/#")], false).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.limits.max_queued = 1;
    c.mqtt = Some(
        serde_json::from_value(
            json!({"url": format!("mqtt://{addr}"), "topic_prefix": p, "poll": "50ms"}),
        )
        .unwrap(),
    );
    let t = TestGateway::start_with(c, dir).await;
    wait_channel(&t, "connected").await;
    // The one place in the queue, taken until canceled.
    let tomorrow = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap();
    let blocker = t
        .send(json!({"to": "+4915112345678", "text": "later", "send_at": tomorrow.to_string()}))
        .await;

    sub.publish(
        &format!("{p}/send"),
        r#"{"to":"+4915112345678","text":"waits"}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        sub.rx
            .try_recv()
            .map(|m| !m.topic.ends_with("/errors"))
            .unwrap_or(true),
        "a full queue is no refusal"
    );
    let (s, v) = t
        .call("DELETE", &format!("/v1/messages/{blocker}"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    let accepted = sub.next_on(&format!("{p}/accepted")).await;
    let m = t
        .wait_status(accepted["id"].as_str().unwrap(), "delivered")
        .await;
    assert_eq!(m["text"], "waits");
    let ch = wait_channel(&t, "connected").await;
    assert_eq!(ch["counters"]["refused"], 0, "{ch}");
    assert!(
        ch["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("queue"),
        "{ch}"
    );
    finish(t, &addr, &p).await;
}

/// A `mosquitto` of the test's own on a free port, with persistence in `dir`.
struct OwnBroker {
    child: std::process::Child,
    port: u16,
    /// A second listener with TLS (the test CA's `server.pem`), when asked for.
    tls_port: Option<u16>,
    conf: std::path::PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl OwnBroker {
    fn binary() -> Option<String> {
        [
            "/usr/sbin/mosquitto",
            "/usr/bin/mosquitto",
            "/usr/local/sbin/mosquitto",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_owned)
    }

    fn start(dir: &std::path::Path, tls: bool) -> Option<Self> {
        Self::binary()?;
        let port = free_port();
        // Run as root, mosquitto drops to its own user, which must be able to write its
        // persistence file here (and read the TLS files copied here).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut text = format!(
            "allow_anonymous true\npersistence true\npersistence_location {}/\n\
             listener {port} 127.0.0.1\n",
            dir.display()
        );
        let tls_port = tls.then(free_port);
        if let Some(tls_port) = tls_port {
            for f in ["ca.pem", "server.pem", "server.key"] {
                let to = dir.join(f);
                std::fs::copy(smsgate_testkit::interop::tls_file(f), &to).unwrap();
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
            let d = dir.display();
            text.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
                 keyfile {d}/server.key\n"
            ));
        }
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, text).unwrap();
        let mut b = Self {
            child: Self::spawn(&conf),
            port,
            tls_port,
            conf,
        };
        b.wait_up();
        Some(b)
    }

    fn spawn(conf: &std::path::Path) -> std::process::Child {
        std::process::Command::new(Self::binary().unwrap())
            .arg("-c")
            .arg(conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    fn wait_up(&mut self) {
        for _ in 0..100 {
            let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(self.port) && self.tls_port.is_none_or(up) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not start on port {}", self.port);
    }

    /// Stops it the polite way (SIGTERM), so it writes its persistence file.
    fn stop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.child = Self::spawn(&self.conf);
        self.wait_up();
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut own) = OwnBroker::start(dir.path(), false) else {
        eprintln!("skipped a_broker_restart_loses_no_event: no mosquitto binary");
        return;
    };
    let addr = format!("127.0.0.1:{}", own.port);
    let p = prefix("restart");
    let filter = format!("{p}/messages/+/status");
    let mut sub = Client::connect(&addr, &format!("{p}-sub"), &[filter], true).await;
    let t = gateway(&addr, &p, json!({})).await;

    let before = t
        .send(json!({"to": "+4915112345678", "text": "before"}))
        .await;
    t.wait_status(&before, "delivered").await;

    own.stop();
    wait_channel_until(&t, |s| s != "connected").await;
    let mut during = Vec::new();
    for i in 0..3 {
        let id = t
            .send(json!({"to": "+4915112345678", "text": format!("during {i}")}))
            .await;
        during.push(id);
    }
    for id in &during {
        t.wait_status(id, "delivered").await;
    }
    own.restart();
    wait_channel(&t, "connected").await;

    // Every status of every message arrives (at least once), those made while the broker was
    // down included.
    let mut missing: std::collections::BTreeSet<(String, &str)> = std::collections::BTreeSet::new();
    for id in std::iter::once(&before).chain(&during) {
        for status in ["queued", "sent", "delivered"] {
            missing.insert((id.clone(), status));
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(Some(p)) = tokio::time::timeout(left, sub.rx.recv()).await else {
            let (_, ch) = t.call("GET", "/v1/channels", None).await;
            panic!("never arrived: {missing:?}; {ch}");
        };
        let v: Value = serde_json::from_slice(&p.payload).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        let status = v["status"].as_str().unwrap().to_owned();
        missing.retain(|(i, s)| !(*i == id && *s == status));
    }
    t.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_reaches_a_broker_over_tls_with_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some(own) = OwnBroker::start(dir.path(), true) else {
        eprintln!(
            "skipped the_bridge_reaches_a_broker_over_tls_with_its_ca_file: no mosquitto binary"
        );
        return;
    };
    let plain = format!("127.0.0.1:{}", own.port);
    let p = prefix("tls");
    let mut sub = Client::connect(&plain, &format!("{p}-sub"), &[format!("{p}/#")], false).await;
    let gw_dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(gw_dir.path(), json!({"delivery_delay": "50ms"}));
    c.mqtt = Some(
        serde_json::from_value(json!({
            "url": format!("mqtts://127.0.0.1:{}", own.tls_port.unwrap()),
            "topic_prefix": p,
            "ca_file": smsgate_testkit::interop::tls_file("ca.pem"),
        }))
        .unwrap(),
    );
    let t = TestGateway::start_with(c, gw_dir).await;
    let ch = wait_channel(&t, "connected").await;
    assert!(ch["peer"].as_str().unwrap().starts_with("mqtts://"), "{ch}");
    sub.publish(
        &format!("{p}/send"),
        r#"{"to":"+4915112345678","text":"over tls"}"#,
    )
    .await;
    let accepted = sub.next_on(&format!("{p}/accepted")).await;
    let id = accepted["id"].as_str().unwrap();
    t.wait_status(id, "delivered").await;
    t.gw.shutdown().await;
}

#[test]
fn a_ca_file_that_cannot_be_read_fails_the_start_with_its_name() {
    let m: smsgate_mqtt::MqttConfig = serde_json::from_value(json!({
        "url": "mqtts://127.0.0.1:8883", "ca_file": "/nonexistent/ca.pem"}))
    .unwrap();
    let e = m.validate().unwrap_err();
    assert!(
        e.contains("[mqtt] ca_file") && e.contains("/nonexistent/ca.pem"),
        "{e}"
    );
}
