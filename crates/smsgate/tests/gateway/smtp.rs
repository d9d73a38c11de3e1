//! Email-to-SMS against real mail clients: Python's `smtplib` (`interop/smtp/send.py`) and
//! Debian's `swaks`, with replies mailed to a local `aiosmtpd` sink (`interop/smtp/sink.py`)
//! standing in for the operator's relay. Run with `SMSGATE_INTEROP=1`.

use std::time::Duration;

use serde_json::{Value, json};
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop::{self, Peer, tls_file};

const DOMAIN: &str = "sms.example.com";
const PHONE: &str = "+4915112345678";
const DATE: &str = "Tue, 08 Dec 2026 10:00:00 +0000";

/// A gateway with `[smtp]` on port 0 (STARTTLS with the test certificate), the allow-list
/// entry `nvr@site.example` from loopback, and `extra` merged into the section.
async fn gateway(extra: Value) -> TestGateway {
    gateway_on(json!({"delivery_delay": "50ms"}), extra, json!([])).await
}

/// [`gateway`] on a simulated network with `sim` settings and `[[inbound_rules]]`.
async fn gateway_on(sim: Value, extra: Value, rules: Value) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), sim);
    config.inbound_rules = serde_json::from_value(rules).unwrap();
    let mut smtp = json!({
        "listen": "127.0.0.1:0",
        "domain": DOMAIN,
        "tls_cert": tls_file("server.pem"),
        "tls_key": tls_file("server.key"),
        "allow": [{"sender": "nvr@site.example", "networks": ["127.0.0.0/8"], "tenant": "acme"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        smtp[k] = v.clone();
    }
    config.smtp = Some(serde_json::from_value(smtp).unwrap());
    TestGateway::start_with(config, dir).await
}

fn port(t: &TestGateway) -> String {
    t.gw.smtp_addr.unwrap().port().to_string()
}

async fn key(t: &TestGateway, tenant: &str, scopes: &[&str]) -> String {
    let (status, v) = t
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "mail", "tenant": tenant, "scopes": scopes})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v["secret"].as_str().unwrap().to_owned()
}

/// Runs `interop/smtp/send.py` with `args`; its output lines.
async fn smtplib(t: &TestGateway, args: &[&str]) -> Vec<String> {
    let mut all = vec!["smtp/send.py".to_owned(), "127.0.0.1".into(), port(t)];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    Peer::spawn("python3", &all).finish().await
}

/// Runs Debian's `swaks` against the listener; `(exit code, transcript)`.
async fn swaks(t: &TestGateway, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &port(t),
            "--timeout",
            "20",
        ])
        .args(args)
        .output()
        .await
        .expect("swaks missing: apt-get install swaks libnet-ssleay-perl (done by .ci/run)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The message ids in a `250 2.0.0 OK queued as <id> …` answer.
fn queued_ids(line: &str) -> Vec<String> {
    let rest = line.split("queued as ").nth(1).unwrap_or_default();
    rest.split([' ', '(', ')'])
        .filter(|w| w.len() == 36 && w.contains('-'))
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

async fn message_count(t: &TestGateway) -> usize {
    let (_, page) = t.call("GET", "/v1/messages?limit=100", None).await;
    page["data"].as_array().unwrap().len()
}

async fn an_authenticated_mail_over_starttls_becomes_sms_and_the_answer_is_mailed_back() {
    if !interop::enabled(
        "an_authenticated_mail_over_starttls_becomes_sms_and_the_answer_is_mailed_back",
    ) {
        return;
    }
    let mut sink = Peer::spawn("python3", &["smtp/sink.py".to_owned()]);
    let sink_port = sink.expect("PORT ").await[5..].to_owned();
    let t = gateway_on(
        json!({"delivery_delay": "50ms"}),
        json!({"replies": {"relay": format!("smtp://127.0.0.1:{sink_port}"), "window": "1h"}}),
        // An inbound rule's email action goes through the same relay.
        json!([{"keyword": "LEAK", "email": "ops@example.com"}]),
    )
    .await;
    let secret = key(&t, "acme", &["messages:send", "messages:read"]).await;
    let ca = tls_file("ca.pem");
    let second = format!("4915112345679@{DOMAIN}");
    let first = format!("{PHONE}@{DOMAIN}");
    let lines = smtplib(
        &t,
        &[
            "--from",
            "scada@plant.example",
            "--to",
            &first,
            "--to",
            &second,
            "--to",
            "boss@gmail.com",
            "--subject",
            "Pump 3",
            "--body",
            "Pump 3 pressure low: 1.2 bar\n\n-- \nSCADA plant 7\nDo not reply",
            "--starttls",
            "--cafile",
            &ca,
            "--user",
            "scada",
            "--password",
            &secret,
            "--message-id",
            "<alarm-77@plant.example>",
            "--date",
            DATE,
        ],
    )
    .await;
    // The outside recipient is refused in the same transaction, alone.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("REFUSED boss@gmail.com 550")),
        "{lines:?}"
    );
    let ok = lines.iter().find(|l| l.starts_with("OK 250")).expect("250");
    let ids = queued_ids(ok);
    assert_eq!(ids.len(), 2, "one SMS per recipient: {lines:?}");
    for id in &ids {
        let m = t.wait_status(id, "delivered").await;
        assert_eq!(
            m["text"], "Pump 3 pressure low: 1.2 bar",
            "signature cut: {m}"
        );
        // The key's own: it reads them back.
        let (status, _) = t
            .call_as(&secret, "GET", &format!("/v1/messages/{id}"), None)
            .await;
        assert_eq!(status, 200);
    }
    // The same mail again (a client that lost our 250): no second SMS.
    let count = message_count(&t).await;
    let again = smtplib(
        &t,
        &[
            "--from",
            "scada@plant.example",
            "--to",
            &first,
            "--subject",
            "Pump 3",
            "--body",
            "Pump 3 pressure low: 1.2 bar",
            "--starttls",
            "--cafile",
            &ca,
            "--user",
            "scada",
            "--password",
            &secret,
            "--message-id",
            "<alarm-77@plant.example>",
            "--date",
            DATE,
        ],
    )
    .await;
    let again_ok = again.iter().find(|l| l.starts_with("OK 250")).expect("250");
    let repeat = queued_ids(again_ok);
    assert!(
        repeat.len() == 1 && ids.contains(&repeat[0]),
        "answered with the first SMS: {again_ok}"
    );
    assert_eq!(message_count(&t).await, count, "no second SMS");
    // The phone answers: mailed to the alarm's sender, threaded under it.
    let (status, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": PHONE, "to": "+4930555000", "text": "On my way, 20 min"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let mail: Value = serde_json::from_str(&sink.expect("MAIL ").await[5..]).unwrap();
    assert_eq!(mail["rcpt_tos"], json!(["scada@plant.example"]), "{mail}");
    assert_eq!(mail["subject"], "Re: Pump 3", "{mail}");
    assert_eq!(mail["in_reply_to"], "<alarm-77@plant.example>", "{mail}");
    assert!(
        mail["body"]
            .as_str()
            .unwrap()
            .starts_with("On my way, 20 min"),
        "{mail}"
    );
    assert_eq!(mail["from"], format!("sms@{DOMAIN}"), "{mail}");
    let (status, _) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(
                json!({"from": "+4915199999999", "to": "+4930555000", "text": "leak in basement"}),
            ),
        )
        .await;
    assert_eq!(status, 202);
    let mail: Value = serde_json::from_str(&sink.expect("MAIL ").await[5..]).unwrap();
    assert_eq!(mail["rcpt_tos"], json!(["ops@example.com"]), "{mail}");
    assert_eq!(mail["subject"], "SMS from +4915199999999", "{mail}");
    assert!(
        mail["body"]
            .as_str()
            .unwrap()
            .starts_with("leak in basement"),
        "{mail}"
    );
    t.gw.shutdown().await;
}

#[tokio::test]
async fn swaks_is_refused_as_an_open_relay_a_stranger_and_a_wrong_key_but_an_allowed_device_sends()
{
    if !interop::enabled("swaks_is_refused_as_an_open_relay_a_stranger_and_a_wrong_key") {
        return;
    }
    let t = gateway(json!({})).await;
    let secret = key(&t, "acme", &["messages:send"]).await;
    let read_only = key(&t, "acme", &["messages:read"]).await;
    // Without the `+` (swaks reads any argument starting with `+` as an option).
    let to_arg = format!("--to={}@{DOMAIN}", &PHONE[1..]);
    let before = message_count(&t).await;

    // Open relay: authenticated, but the recipient is elsewhere.
    let (code, out) = swaks(
        &t,
        &[
            "--to",
            "victim@gmail.com",
            "--from",
            "a@b.example",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "x",
            "--auth-password",
            &secret,
        ],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("550 5.7.1"), "{out}");
    // A stranger without AUTH.
    let (code, out) = swaks(&t, &[&to_arg, "--from", "someone@else.example"]).await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("530 5.7.0"), "{out}");
    // AUTH before STARTTLS is not even offered.
    let (code, out) = swaks(
        &t,
        &[
            &to_arg,
            "--from",
            "a@b.example",
            "--auth",
            "PLAIN",
            "--auth-user",
            "x",
            "--auth-password",
            &secret,
        ],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    // A wrong key, and a key that may not send.
    for bad in ["sk_wrong", read_only.as_str()] {
        let (code, out) = swaks(
            &t,
            &[
                &to_arg,
                "--from",
                "a@b.example",
                "--tls",
                "--auth",
                "LOGIN",
                "--auth-user",
                "x",
                "--auth-password",
                bad,
            ],
        )
        .await;
        assert_ne!(code, 0, "{out}");
        assert!(out.contains("535 5.7.8"), "{out}");
    }
    // An invalid number is refused per recipient.
    let (code, out) = swaks(
        &t,
        &[&format!("--to=12ab@{DOMAIN}"), "--from", "nvr@site.example"],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("553 5.1.3"), "{out}");
    assert_eq!(message_count(&t).await, before, "nothing was queued");

    // The allow-listed NVR from loopback, no AUTH, an HTML body in ISO-8859-1.
    let (code, out) = swaks(
        &t,
        &[
            &to_arg,
            "--from",
            "nvr@site.example",
            "--header",
            "Subject: Kamera 4",
            "--add-header",
            "MIME-Version: 1.0",
            "--add-header",
            "Content-Type: text/html; charset=ISO-8859-1",
            "--add-header",
            "Content-Transfer-Encoding: quoted-printable",
            "--body",
            "<html><body><p>Bewegung im K=FChlraum</p><p>Kamera 4</p></body></html>",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("250 2.0.0 OK queued as"))
        .expect("250");
    let ids = queued_ids(line);
    assert_eq!(ids.len(), 1, "{line}");
    let m = t.wait_status(&ids[0], "delivered").await;
    assert_eq!(m["text"], "Bewegung im Kühlraum\nKamera 4", "{m}");
    // acme's, as the allow-list entry says: another tenant does not see it.
    let path = format!("/v1/messages/{}", ids[0]);
    assert_eq!(t.call_as(&read_only, "GET", &path, None).await.0, 200);
    let bolt = key(&t, "bolt", &["messages:read"]).await;
    assert_eq!(t.call_as(&bolt, "GET", &path, None).await.0, 404);

    // Authenticated over STARTTLS with swaks too; a text too long for [limits] bounces.
    let long = "x".repeat(160 * 11);
    let (code, out) = swaks(
        &t,
        &[
            &to_arg,
            "--from",
            "a@b.example",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "x",
            "--auth-password",
            &secret,
            "--body",
            &long,
        ],
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("552 5.3.4"), "{out}");
    let (code, out) = swaks(
        &t,
        &[
            &to_arg,
            "--from",
            "a@b.example",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "x",
            "--auth-password",
            &secret,
            "--body",
            "Gate 2 open",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_mail_over_implicit_tls_that_fails_is_reported_to_its_sender() {
    if !interop::enabled("a_mail_over_implicit_tls_that_fails_is_reported_to_its_sender") {
        return;
    }
    let mut sink = Peer::spawn("python3", &["smtp/sink.py".to_owned()]);
    let sink_port = sink.expect("PORT ").await[5..].to_owned();
    // Every SMS is reported undelivered by this network.
    let t = gateway_on(
        json!({"delivery_delay": "50ms", "failure_rate": 1.0}),
        json!({
            "tls_listen": "127.0.0.1:0",
            "text": "subject",
            "replies": {"relay": format!("smtp://127.0.0.1:{sink_port}"), "notify_failures": true},
        }),
        json!([]),
    )
    .await;
    let secret = key(&t, "default", &["messages:send"]).await;
    let ca = tls_file("ca.pem");
    let tls_port = t.gw.smtp_tls_addr.unwrap().port().to_string();
    let to = format!("{PHONE}@{DOMAIN}");
    let out = Peer::spawn(
        "python3",
        &[
            "smtp/send.py",
            "127.0.0.1",
            &tls_port,
            "--ssl",
            "--cafile",
            &ca,
            "--user",
            "u",
            "--password",
            &secret,
            "--from",
            "plc@plant.example",
            "--to",
            &to,
            "--subject",
            "Tank 2 empty",
            "--body",
            "ignored: text = subject",
            "--message-id",
            "<tank-2@plant.example>",
        ]
        .map(str::to_owned),
    )
    .finish()
    .await;
    let ok = out.iter().find(|l| l.starts_with("OK 250")).expect("250");
    let id = queued_ids(ok).pop().unwrap();
    let m = t.wait_status(&id, "undelivered").await;
    assert_eq!(m["text"], "Tank 2 empty", "{m}");
    let mail: Value = serde_json::from_str(&sink.expect("MAIL ").await[5..]).unwrap();
    assert_eq!(mail["rcpt_tos"], json!(["plc@plant.example"]), "{mail}");
    assert_eq!(
        mail["subject"],
        format!("SMS to {PHONE} undelivered: Tank 2 empty"),
        "{mail}"
    );
    assert_eq!(mail["in_reply_to"], "<tank-2@plant.example>", "{mail}");
    assert!(mail["body"].as_str().unwrap().contains(&id), "{mail}");
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    an_authenticated_mail_over_starttls_becomes_sms_and_the_answer_is_mailed_back
);

#[tokio::test]
async fn the_connection_limit_and_the_idle_timeout_close_connections_with_421() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let t = gateway(json!({"max_connections": 1, "timeout": "1s"})).await;
    let addr = t.gw.smtp_addr.unwrap();
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut first = BufReader::new(first);
    let mut line = String::new();
    first.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("220 "), "{line}");
    // A second connection while the first is open: refused at once.
    let second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut second = BufReader::new(second);
    let mut refused = String::new();
    second.read_line(&mut refused).await.unwrap();
    assert!(refused.starts_with("421 4.3.2"), "{refused}");
    // The first one idles past the timeout.
    first.get_mut().write_all(b"EHLO idle\r\n").await.unwrap();
    loop {
        line.clear();
        first.read_line(&mut line).await.unwrap();
        if line.starts_with("250 ") {
            break;
        }
    }
    line.clear();
    first.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("421 4.4.2"), "{line}");
    // Its slot is free again; the status counts what happened.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut third = BufReader::new(third);
    line.clear();
    third.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("220 "), "{line}");
    let (status, v) = t.call("GET", "/v1/channels", None).await;
    assert_eq!(status, 200, "{v}");
    let smtp = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "smtp")
        .cloned()
        .unwrap_or_else(|| panic!("no smtp channel: {v}"));
    assert_eq!(smtp["state"], "listening", "{smtp}");
    assert_eq!(smtp["counters"]["connections"], 3, "{smtp}");
    assert_eq!(smtp["counters"]["open_connections"], 1, "{smtp}");
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
        metrics.contains("smsgate_channel_up{channel=\"smtp\"} 1"),
        "{metrics}"
    );
    t.gw.shutdown().await;
}
