//! The IoT scenario end to end on the built-in simulated network, through the REST API, with an
//! adjustable clock (escalation delays, heartbeats and restarts take no real time):
//! a device texts `T=85` → the rule raises an alert → the on-call phone gets the SMS → nobody
//! acknowledges → level two is told → level two replies `ACK` → acknowledged → the device texts
//! `T=70` → resolved; a command round trip; a silent device; an escalation due during downtime.
//!
//! "A phone gets the SMS" is read where the gateway tracks it: the message to that number in
//! `/v1/messages`, delivered by the simulated network.

use std::time::Duration;

use serde_json::{Value, json};
use smsgate::gateway::Gateway;
use smsgate_core::clock::Clock;
use smsgate_testkit::{Receiver, TestGateway};

const PUMP: &str = "+4915100000003";
const METER: &str = "+4915100000004";
const ALICE: &str = "+4915100000001";
const BOB: &str = "+4915100000002";
const CAROL: &str = "+4915100000005";

async fn start(clock: Clock, dir: tempfile::TempDir, key: Option<String>) -> TestGateway {
    let config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    let gw = Gateway::start_with_clock(config, clock).await.unwrap();
    let key = key.or_else(|| gw.first_admin_key.clone()).unwrap();
    TestGateway::new(gw, key, dir)
}

async fn create(t: &TestGateway, path: &str, body: Value) {
    let (s, v) = t.call("POST", path, Some(body)).await;
    assert_eq!(s, 201, "{path}: {v}");
}

/// Alice (level 1) → Bob (level 2) → Carol (level 3), five minutes each; pump-3 with rule
/// `hot` (`T > 80`, clear `T < 75`, resolved SMS on).
async fn setup(t: &TestGateway) {
    for (id, n) in [("alice", ALICE), ("bob", BOB), ("carol", CAROL)] {
        create(
            t,
            "/v1/contacts",
            json!({"id": id, "name": id, "number": n}),
        )
        .await;
    }
    create(
        t,
        "/v1/groups",
        json!({"id": "oncall", "allow_status": true, "levels": [
            {"contacts": ["alice"], "delay": "5m"},
            {"contacts": ["bob"], "delay": "5m"},
            {"contacts": ["carol"], "delay": "5m"}]}),
    )
    .await;
    create(
        t,
        "/v1/devices",
        json!({"id": "pump-3", "name": "Pump 3", "number": PUMP, "commands": ["OFF", "ON"]}),
    )
    .await;
    create(
        t,
        "/v1/rules",
        json!({"id": "hot", "name": "Overheat", "condition": "T > 80", "clear": "T < 75",
               "group": "oncall", "severity": "critical", "notify_resolved": true,
               "template": "{{device.name}}: temperature {{T}} C. Reply ACK {{alert.id}}"}),
    )
    .await;
}

async fn text_in(t: &TestGateway, from: &str, text: &str) {
    let (s, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": from, "text": text})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
}

/// Messages to a number, oldest first.
async fn sms_to(t: &TestGateway, number: &str) -> Vec<Value> {
    let q = number.replace('+', "%2B");
    let (_, v) = t.call("GET", &format!("/v1/messages?to={q}"), None).await;
    let mut list = v["data"].as_array().cloned().unwrap_or_default();
    list.reverse();
    list
}

/// Polls `f` until it gives `Some` (10 s at most).
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `number` has `n` messages, the last one delivered, and returns the texts.
async fn delivered_to(t: &TestGateway, number: &str, n: usize) -> Vec<String> {
    eventually(&format!("{n} delivered SMS to {number}"), || async {
        let list = sms_to(t, number).await;
        (list.len() == n && list.iter().all(|m| m["status"] == "delivered")).then(|| {
            list.iter()
                .map(|m| m["text"].as_str().unwrap_or("").to_owned())
                .collect()
        })
    })
    .await
}

async fn alert(t: &TestGateway, id: i64) -> Value {
    t.call("GET", &format!("/v1/alerts/{id}"), None).await.1
}

async fn alert_becomes(t: &TestGateway, id: i64, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(&format!("alert {id} to change"), || async {
        let a = alert(t, id).await;
        pred(&a).then_some(a)
    })
    .await
}

async fn alert_escalates_is_acknowledged_by_sms_reply_and_resolves_then_commands_and_silence() {
    let clock = Clock::adjustable();
    let t = start(clock, tempfile::tempdir().unwrap(), None).await;
    let hooks = Receiver::start().await;
    let (s, _) = t
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": hooks.url, "events": ["alert.*", "command.*", "device.telemetry"]})),
        )
        .await;
    assert_eq!(s, 201);
    setup(&t).await;

    // The device reports a high temperature: level one is told.
    text_in(&t, PUMP, "T=85").await;
    let texts = delivered_to(&t, ALICE, 1).await;
    assert_eq!(texts, vec!["Pump 3: temperature 85 C. Reply ACK 1"]);
    let a = alert(&t, 1).await;
    assert_eq!(
        (a["state"].as_str(), a["level"].as_i64()),
        (Some("open"), Some(1))
    );
    assert_eq!(a["readings"]["T"]["value"], 85);
    assert!(sms_to(&t, BOB).await.is_empty());

    // Nobody answers for five minutes: level two is told, level three not yet.
    clock.advance(Duration::from_secs(5 * 60 + 1));
    let texts = delivered_to(&t, BOB, 1).await;
    assert_eq!(texts, vec!["Pump 3: temperature 85 C. Reply ACK 1"]);
    alert_becomes(&t, 1, |a| a["level"] == 2).await;
    assert!(sms_to(&t, CAROL).await.is_empty());

    // Level two replies ACK: acknowledged, escalation stops, Bob gets a confirmation.
    text_in(&t, BOB, "ACK").await;
    let a = alert_becomes(&t, 1, |a| a["state"] == "acknowledged").await;
    assert_eq!(a["acknowledged_by"], "bob");
    assert_eq!(a["next_escalation_at"], Value::Null);
    let texts = delivered_to(&t, BOB, 2).await;
    assert_eq!(texts[1], "Acknowledged: 1 Overheat Pump 3.");
    clock.advance(Duration::from_secs(10 * 60));

    // Back inside the band the alert stays; below the clear threshold it resolves.
    text_in(&t, PUMP, "T=78").await;
    text_in(&t, PUMP, "T=70").await;
    let a = alert_becomes(&t, 1, |a| a["state"] == "resolved").await;
    assert!(a["resolved_at"].is_string());
    let alice = delivered_to(&t, ALICE, 2).await;
    assert!(
        alice[1].starts_with("RESOLVED Overheat: Pump 3"),
        "{}",
        alice[1]
    );
    delivered_to(&t, BOB, 3).await;
    assert!(
        sms_to(&t, CAROL).await.is_empty(),
        "level three was never needed"
    );
    let (_, history) = t.call("GET", "/v1/devices/pump-3/telemetry", None).await;
    let statuses: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["T=70", "T=78", "T=85"]);

    // A command round trip: queued, sent by the network, answered by the device.
    let (s, cmd) = t
        .call(
            "POST",
            "/v1/devices/pump-3/commands",
            Some(json!({"command": "OFF", "expect": "^OK", "timeout": "2m"})),
        )
        .await;
    assert_eq!(s, 202, "{cmd}");
    assert_eq!(cmd["state"], "pending");
    let path = format!("/v1/devices/pump-3/commands/{}", cmd["id"]);
    let texts = delivered_to(&t, PUMP, 1).await;
    assert_eq!(texts, vec!["OFF"]);
    eventually("command sent", || async {
        let c = t.call("GET", &path, None).await.1;
        (c["state"] == "sent").then_some(())
    })
    .await;
    text_in(&t, PUMP, "OK pump off").await;
    let c = eventually("command acknowledged", || async {
        let c = t.call("GET", &path, None).await.1;
        (c["state"] == "acknowledged").then_some(c)
    })
    .await;
    assert_eq!(c["reply"], "OK pump off");
    let (s, v) = t
        .call(
            "POST",
            "/v1/devices/pump-3/commands",
            Some(json!({"command": "REBOOT"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("command_not_allowed"))
    );

    // A silent device: a meter with a 30-minute heartbeat says nothing for 31 minutes.
    create(
        &t,
        "/v1/devices",
        json!({"id": "meter-1", "number": METER, "heartbeat": "30m", "tags": ["meter"]}),
    )
    .await;
    create(
        &t,
        "/v1/rules",
        json!({"id": "quiet", "name": "Silent meter", "kind": "silence", "tag": "meter",
               "group": "oncall"}),
    )
    .await;
    clock.advance(Duration::from_secs(31 * 60));
    let alice = delivered_to(&t, ALICE, 3).await;
    assert!(
        alice[2]
            .starts_with("WARNING Silent meter: meter-1 silent since registration. Reply ACK 2"),
        "{}",
        alice[2]
    );
    text_in(&t, METER, "kwh=1234").await;
    alert_becomes(&t, 2, |a| a["state"] == "resolved").await;

    // Every step reached the webhook, signed.
    for event in [
        "alert.raised",
        "alert.escalated",
        "alert.acknowledged",
        "alert.resolved",
        "command.pending",
        "command.sent",
        "command.acknowledged",
        "device.telemetry",
    ] {
        let hit = hooks.wait_for(|v| v["event"] == event).await;
        assert!(hit.signature.starts_with("t="), "{event}");
    }
    t.gw.shutdown().await;
}

async fn an_escalation_due_during_downtime_fires_once_after_restart() {
    let clock = Clock::adjustable();
    let t = start(clock, tempfile::tempdir().unwrap(), None).await;
    setup(&t).await;
    text_in(&t, PUMP, "T=90").await;
    delivered_to(&t, ALICE, 1).await;
    let (key, dir) = (t.key.clone(), t.dir);
    t.gw.shutdown().await;

    // Two hours pass while the gateway is down: both escalations fell due.
    clock.advance(Duration::from_secs(2 * 3600));
    let t = start(clock, dir, Some(key)).await;
    delivered_to(&t, BOB, 1).await;
    let a = alert_becomes(&t, 1, |a| a["level"] == 2).await;
    assert_eq!(a["state"], "open");
    assert!(
        sms_to(&t, CAROL).await.is_empty(),
        "one step after downtime, not a burst"
    );
    assert_eq!(
        sms_to(&t, ALICE).await.len(),
        1,
        "level one is not told again"
    );

    // The next step counts from the restart.
    clock.advance(Duration::from_secs(5 * 60 + 1));
    delivered_to(&t, CAROL, 1).await;
    alert_becomes(&t, 1, |a| a["level"] == 3).await;

    // The API acknowledges too; a second ack is a conflict.
    let (s, v) = t.call("POST", "/v1/alerts/1/ack", None).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("acknowledged")));
    let (s, v) = t.call("POST", "/v1/alerts/1/ack", None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_acknowledged"))
    );
    t.gw.shutdown().await;
}

async fn the_iot_api_answers_mistakes_with_json_errors_and_is_documented() {
    let t = start(Clock::adjustable(), tempfile::tempdir().unwrap(), None).await;
    setup(&t).await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("").to_owned();
    let cases = [
        (
            "/v1/rules",
            json!({"id": "x", "condition": "T > > 1"}),
            400,
            "invalid_condition",
        ),
        (
            "/v1/rules",
            json!({"id": "x", "condition": "T > 1", "group": "nope"}),
            400,
            "unknown_group",
        ),
        (
            "/v1/rules",
            json!({"id": "x", "condition": "T > 1", "template": "{{"}),
            400,
            "invalid_template",
        ),
        (
            "/v1/rules",
            json!({"id": "hot", "condition": "T > 1"}),
            409,
            "already_exists",
        ),
        (
            "/v1/devices",
            json!({"id": "d", "number": "12345"}),
            400,
            "invalid_number",
        ),
        (
            "/v1/devices",
            json!({"id": "d", "number": PUMP}),
            409,
            "number_taken",
        ),
        (
            "/v1/devices",
            json!({"id": "d", "number": "+4915100000009", "colour": 1}),
            400,
            "invalid_json",
        ),
        (
            "/v1/groups",
            json!({"id": "g", "levels": [{"contacts": ["nobody"]}]}),
            400,
            "unknown_contact",
        ),
        (
            "/v1/devices/nope/commands",
            json!({"command": "OFF"}),
            404,
            "not_found",
        ),
        (
            "/v1/devices/pump-3/commands",
            json!({"command": "OFF", "expect": "("}),
            400,
            "invalid_pattern",
        ),
    ];
    for (path, body, status, want) in cases {
        let (s, v) = t.call("POST", path, Some(body.clone())).await;
        assert_eq!(
            (s, code(&v)),
            (status, want.to_owned()),
            "{path} {body}: {v}"
        );
    }
    let (s, v) = t.call("DELETE", "/v1/contacts/alice", None).await;
    assert_eq!((s, code(&v).as_str()), (409, "in_use"));
    let (s, v) = t.call("GET", "/v1/alerts?state=burning", None).await;
    assert_eq!((s, code(&v).as_str()), (400, "invalid_state"));
    let (s, _) = t.call("GET", "/v1/alerts/77", None).await;
    assert_eq!(s, 404);

    // PUT replaces; the device's secret is never shown.
    let res = t
        .http
        .put(format!("{}/v1/devices/pump-3", t.base))
        .bearer_auth(&t.key)
        .header("content-type", "application/json")
        .body(json!({"number": PUMP, "name": "Pump three", "secret": "s3cr3t"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (_, d) = t.call("GET", "/v1/devices/pump-3", None).await;
    assert_eq!(
        (d["name"].as_str(), d["has_secret"].as_bool()),
        (Some("Pump three"), Some(true))
    );
    assert_eq!(d["secret"], Value::Null);
    let (_, list) = t.call("GET", "/v1/devices", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    let (_, doc) = t.call("GET", "/v1/openapi.json", None).await;
    for p in [
        "/v1/devices",
        "/v1/devices/{id}/commands",
        "/v1/rules",
        "/v1/alerts/{id}/ack",
        "/v1/contacts",
        "/v1/groups",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    t.gw.shutdown().await;
}

/// Starts the real `smsgate` binary on a blocking thread; the handle yields its output.
fn run_cli(t: &TestGateway, args: &[&str]) -> tokio::task::JoinHandle<std::process::Output> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.args(args)
        .env("SMSGATE_URL", &t.base)
        .env("SMSGATE_KEY", &t.key);
    tokio::task::spawn_blocking(move || cmd.output().expect("cannot run smsgate"))
}

/// Runs the real `smsgate` binary against the gateway; returns its stdout, panics with its
/// stderr when it fails and `ok` is expected (and vice versa).
async fn cli(t: &TestGateway, args: &[&str], ok: bool) -> String {
    let out = run_cli(t, args).await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(
        out.status.success(),
        ok,
        "smsgate {args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    if ok { stdout } else { stderr }
}

async fn the_cli_registers_devices_sends_commands_and_acknowledges_alerts() {
    let t = start(Clock::system(), tempfile::tempdir().unwrap(), None).await;
    setup(&t).await;

    let out = cli(
        &t,
        &[
            "devices",
            "add",
            "meter-4",
            "--number",
            METER,
            "--name",
            "Meter 4",
            "--tag",
            "basement",
            "--commands",
            "OFF,ON",
        ],
        true,
    )
    .await;
    assert!(
        out.contains("device meter-4 registered for +4915100000004"),
        "{out}"
    );
    let (s, d) = t.call("GET", "/v1/devices/meter-4", None).await;
    assert_eq!(s, 200);
    assert_eq!(d["tags"], json!(["basement"]));
    assert_eq!(d["commands"], json!(["OFF", "ON"]));

    text_in(&t, PUMP, "T=85.5C;P=1.9").await;
    let list = cli(&t, &["devices", "list"], true).await;
    let pump = list.lines().find(|l| l.starts_with("pump-3")).unwrap();
    assert!(pump.contains("P=1.9, T=85.5 C"), "{list}");
    let show = cli(&t, &["devices", "show", "pump-3"], true).await;
    assert!(show.contains("T=85.5C;P=1.9"), "{show}");

    delivered_to(&t, ALICE, 1).await;
    let alerts = cli(&t, &["alerts", "list", "--state", "open"], true).await;
    assert!(
        alerts.starts_with("#1 ") && alerts.contains("pump-3"),
        "{alerts}"
    );
    let acked = cli(&t, &["alerts", "ack", "1"], true).await;
    assert_eq!(acked.trim(), "alert #1 acknowledged");
    assert_eq!(alert(&t, 1).await["state"], "acknowledged");

    // A command the device does not accept is refused with the API's reason.
    let err = cli(&t, &["devices", "command", "pump-3", "REBOOT"], false).await;
    assert!(err.contains("command_not_allowed"), "{err}");

    // `--wait` follows the command until the device's reply acknowledges it.
    let waiter = run_cli(
        &t,
        &[
            "devices", "command", "pump-3", "OFF", "--expect", "^OFF OK", "--wait",
        ],
    );
    delivered_to(&t, PUMP, 1).await;
    text_in(&t, PUMP, "OFF OK").await;
    let out = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("devices command --wait did not finish")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("reply: OFF OK"), "{stdout}");

    let gone = cli(&t, &["devices", "remove", "meter-4"], true).await;
    assert_eq!(gone.trim(), "device meter-4 removed");
    assert_eq!(t.call("GET", "/v1/devices/meter-4", None).await.0, 404);
}

async fn the_cli_applies_a_registry_file_and_lists_contacts_groups_and_rules() {
    let t = start(Clock::system(), tempfile::tempdir().unwrap(), None).await;
    let file = t.dir.path().join("registry.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[contacts]]
id = "alice"
number = "{ALICE}"

[[contacts]]
id = "bob"
number = "{BOB}"

[[groups]]
id = "oncall"
levels = [{{ contacts = ["alice"], delay = "5m" }}, {{ contacts = ["bob"], delay = "10m" }}]

[[devices]]
id = "pump-3"
number = "{PUMP}"

[[rules]]
id = "hot"
condition = "T > 80"
device = "pump-3"
group = "oncall"
severity = "critical"
"#
        ),
    )
    .unwrap();
    let out = cli(&t, &["iot", "apply", file.to_str().unwrap()], true).await;
    assert!(out.contains("5 entries applied"), "{out}");
    // Applying again converges instead of failing on existing ids.
    cli(&t, &["iot", "apply", file.to_str().unwrap()], true).await;

    let contacts = cli(&t, &["contacts", "list"], true).await;
    assert_eq!(contacts.lines().count(), 2, "{contacts}");
    assert!(
        contacts.contains(ALICE) && contacts.contains(BOB),
        "{contacts}"
    );
    let groups = cli(&t, &["groups", "list"], true).await;
    assert!(groups.contains("[alice] 5m → [bob] 10m"), "{groups}");
    let rules = cli(&t, &["rules", "list"], true).await;
    assert!(
        rules.contains("hot") && rules.contains("T > 80") && rules.contains("device=pump-3"),
        "{rules}"
    );

    // The applied rule is live: the device's report raises an alert to level one.
    text_in(&t, PUMP, "T=90").await;
    delivered_to(&t, ALICE, 1).await;

    // A rule that references a missing group is refused with the API's reason, naming the entry.
    std::fs::write(
        &file,
        "[[rules]]\nid = \"cold\"\ncondition = \"T < 0\"\ngroup = \"nope\"\n",
    )
    .unwrap();
    let err = cli(&t, &["iot", "apply", file.to_str().unwrap()], false).await;
    assert!(
        err.contains("'cold'") && err.contains("unknown_group"),
        "{err}"
    );

    cli(&t, &["contacts", "add", "carol", "--number", CAROL], true).await;
    assert_eq!(
        t.call("GET", "/v1/contacts/carol", None).await.1["number"],
        CAROL
    );
    let gone = cli(&t, &["rules", "remove", "hot"], true).await;
    assert_eq!(gone.trim(), "rule hot removed");
    let err = cli(&t, &["rules", "remove", "hot"], false).await;
    assert!(err.contains("not_found"), "{err}");
}

smsgate_testkit::both_backends!(
    multi_thread:
    alert_escalates_is_acknowledged_by_sms_reply_and_resolves_then_commands_and_silence,
    an_escalation_due_during_downtime_fires_once_after_restart,
    the_iot_api_answers_mistakes_with_json_errors_and_is_documented,
    the_cli_registers_devices_sends_commands_and_acknowledges_alerts,
    the_cli_applies_a_registry_file_and_lists_contacts_groups_and_rules,
);
