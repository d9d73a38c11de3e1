//! `GET /v1/events/stream` on a whole gateway: a message sent through the API shows its
//! statuses on the stream as they happen, a tenant's key sees only its tenant, a key sees only
//! what its scopes cover and the patterns it asked for, and a reconnect with `Last-Event-ID`
//! (or `?since=`) resumes from the log after that event. `smsgate tail` is the real binary
//! following the stream.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use smsgate_testkit::TestGateway;
use smsgate_testkit::sse::SseEvent;

const STREAM: &str = "/v1/events/stream";

/// A key of `tenant` with `scopes` (the default scopes when empty); its secret.
async fn key(t: &TestGateway, tenant: &str, scopes: &[&str]) -> String {
    let mut body = json!({"name": tenant, "tenant": tenant});
    if !scopes.is_empty() {
        body["scopes"] = json!(scopes);
    }
    let (status, v) = t.call("POST", "/v1/keys", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    v["secret"].as_str().unwrap().to_owned()
}

async fn send_as(t: &TestGateway, key: &str, to: &str) -> String {
    let (s, v) = t
        .call_as(
            key,
            "POST",
            "/v1/messages",
            Some(json!({"to": to, "text": "stream me"})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

fn is_status_of(e: &SseEvent, id: &str, status: &str) -> bool {
    e.event == "message.status" && e.data["data"]["id"] == id && e.data["data"]["status"] == status
}

/// The statuses of message `id` among `events`, in stream order.
fn statuses_of<'a>(events: &'a [SseEvent], id: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e.event == "message.status" && e.data["data"]["id"] == id)
        .map(|e| e.data["data"]["status"].as_str().unwrap())
        .collect()
}

async fn a_sent_message_shows_every_status_on_the_stream_as_it_happens() {
    let t = TestGateway::start(json!({})).await;
    let mut stream = t.open_events(&t.key, STREAM, None).await.unwrap();
    let id = t.send(json!({"to": "+4915112345678", "text": "hi"})).await;
    let events = stream.until(|e| is_status_of(e, &id, "delivered")).await;
    assert_eq!(
        statuses_of(&events, &id),
        ["queued", "sending", "sent", "delivered"],
        "{events:#?}"
    );
    let mut last = 0;
    for e in &events {
        // The SSE id is the log position, the body the webhook body of the same event.
        let seq: i64 = e.id.parse().unwrap();
        assert!(seq > last, "ids ascend: {events:#?}");
        last = seq;
        assert_eq!(e.data["id"], format!("evt_{seq}"));
        assert_eq!(e.data["event"], e.event);
        assert!(e.data["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let delivered = &events.last().unwrap().data["data"];
    assert_eq!(delivered["to"], "+4915112345678");
    assert_eq!(delivered["connector"], "sim");
    t.gw.shutdown().await;
}

async fn a_tenant_key_sees_its_own_events_and_no_other_tenants() {
    let t = TestGateway::start(json!({})).await;
    let acme = key(&t, "acme", &[]).await;
    let globex = key(&t, "globex", &[]).await;
    let mut acme_stream = t.open_events(&acme, STREAM, None).await.unwrap();
    let mut admin_stream = t.open_events(&t.key, STREAM, None).await.unwrap();
    // globex's message is delivered before acme's is sent: had acme's stream shown it, it
    // would have come before acme's own events.
    let theirs = send_as(&t, &globex, "+4915100000002").await;
    t.wait_status(&theirs, "delivered").await;
    let ours = send_as(&t, &acme, "+4915100000001").await;
    let seen = acme_stream
        .until(|e| is_status_of(e, &ours, "delivered"))
        .await;
    assert_eq!(
        statuses_of(&seen, &ours).first(),
        Some(&"queued"),
        "{seen:#?}"
    );
    assert!(statuses_of(&seen, &theirs).is_empty(), "{seen:#?}");
    // The admin sees both tenants.
    let all = admin_stream
        .until(|e| is_status_of(e, &ours, "delivered"))
        .await;
    assert!(
        statuses_of(&all, &theirs).contains(&"delivered"),
        "{all:#?}"
    );
    t.gw.shutdown().await;
}

async fn scopes_and_patterns_choose_the_events_a_stream_carries() {
    let t = TestGateway::start(json!({})).await;
    // A key that can only send sees nothing, and is told so instead of an empty stream.
    let sender = key(&t, "acme", &["messages:send"]).await;
    let (status, body) = t.open_events(&sender, STREAM, None).await.err().unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("messages:read"), "{body}");
    // A malformed pattern is a 400, not a silent stream; no key is a 401.
    let (status, body) = t
        .open_events(&t.key, &format!("{STREAM}?events=message.status,,"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, _) = t.open_events("", STREAM, None).await.err().unwrap();
    assert_eq!(status, 401);

    // An inbound-only key gets the inbound SMS but not the statuses of messages.
    let inbound = key(&t, "default", &["inbound:read"]).await;
    let mut inbound_stream = t.open_events(&inbound, STREAM, None).await.unwrap();
    // The admin asks for statuses only.
    let mut statuses = t
        .open_events(&t.key, &format!("{STREAM}?events=message.st*"), None)
        .await
        .unwrap();
    let id = t.send(json!({"to": "+4915112345678", "text": "hi"})).await;
    t.wait_status(&id, "delivered").await;
    let (s, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+4915112345678", "to": "+4930555000", "text": "hello"})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let e = inbound_stream.next_within(Duration::from_secs(10)).await;
    assert_eq!(e.event, "message.inbound", "{e:#?}");
    assert_eq!(e.data["data"]["text"], "hello");
    let seen = statuses.until(|e| is_status_of(e, &id, "delivered")).await;
    assert!(
        seen.iter().all(|e| e.event == "message.status"),
        "{seen:#?}"
    );
    t.gw.shutdown().await;
}

async fn a_reconnect_with_last_event_id_gets_only_the_events_after_it() {
    let t = TestGateway::start(json!({})).await;
    let mut stream = t.open_events(&t.key, STREAM, None).await.unwrap();
    let id = t.send(json!({"to": "+4915112345678", "text": "hi"})).await;
    let events = stream.until(|e| is_status_of(e, &id, "delivered")).await;
    drop(stream);
    let queued = events
        .iter()
        .find(|e| is_status_of(e, &id, "queued"))
        .unwrap();

    // Resumed after `queued`: the rest of the timeline from the log, nothing before it.
    let mut resumed = t
        .open_events(&t.key, STREAM, Some(&queued.id))
        .await
        .unwrap();
    let again = resumed.until(|e| is_status_of(e, &id, "delivered")).await;
    assert_eq!(
        statuses_of(&again, &id),
        ["sending", "sent", "delivered"],
        "{again:#?}"
    );
    assert!(
        again
            .iter()
            .all(|e| e.id.parse::<i64>().unwrap() > queued.id.parse::<i64>().unwrap())
    );
    // An id beyond the log (a restored store) resumes at the newest event, skipping nothing
    // that comes after it.
    let mut ahead = t.open_events(&t.key, STREAM, Some("999999")).await.unwrap();
    let later = t.send(json!({"to": "+4915112345678", "text": "gap"})).await;
    let gap = ahead.until(|e| is_status_of(e, &later, "delivered")).await;
    assert!(is_status_of(&gap[0], &later, "queued"), "{gap:#?}");
    let newest = gap.last().unwrap().id.clone();
    drop(ahead);
    // `?since=` does the same for clients that cannot set headers.
    let mut since = t
        .open_events(&t.key, &format!("{STREAM}?since={}", queued.id), None)
        .await
        .unwrap();
    let e = since.next_within(Duration::from_secs(10)).await;
    assert!(is_status_of(&e, &id, "sending"), "{e:#?}");

    // Without either, a new stream starts after the newest event, and says so first with a
    // frame of only `id:`, so a client that reconnects before any event resumes there.
    let mut raw = t
        .http
        .get(format!("{}{STREAM}", t.base))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let first = raw.chunk().await.unwrap().unwrap();
    assert_eq!(
        std::str::from_utf8(&first).unwrap(),
        format!("id: {newest}\n\n")
    );
    drop(raw);
    let mut fresh = t.open_events(&t.key, STREAM, None).await.unwrap();
    let second = t
        .send(json!({"to": "+4915112345678", "text": "again"}))
        .await;
    let e = fresh.next_within(Duration::from_secs(10)).await;
    assert!(is_status_of(&e, &second, "queued"), "{e:#?}");
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    a_sent_message_shows_every_status_on_the_stream_as_it_happens,
    a_tenant_key_sees_its_own_events_and_no_other_tenants,
    scopes_and_patterns_choose_the_events_a_stream_carries,
    a_reconnect_with_last_event_id_gets_only_the_events_after_it,
);

/// Keeps stdout lines of a child coming on a channel, so a test can wait for one with a
/// timeout.
fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The next line from `rx` within `secs`, without holding up the gateway in this process.
fn line_within(rx: &std::sync::mpsc::Receiver<String>, secs: u64) -> Option<String> {
    tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(secs)).ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smsgate_tail_prints_a_line_per_event_without_colour_into_a_pipe() {
    let t = TestGateway::start(json!({})).await;
    let mut child = Command::new(crate::SMSGATE)
        .args(["tail", "--events", "message.status", "--url", &t.base])
        .env("SMSGATE_KEY", &t.key)
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    // `tail` says on stderr when it follows, so nothing sent after that line is missed, and
    // stdout carries events only.
    let first = line_within(&err, 30).expect("tail printed nothing on stderr");
    assert!(first.starts_with("following "), "{first}");
    let id = t.send(json!({"to": "+4915112345678", "text": "hi"})).await;
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("delivered")) {
        let line = line_within(&rx, 10).unwrap_or_else(|| panic!("tail printed only {lines:#?}"));
        lines.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for (line, status) in lines.iter().zip(["queued", "sending", "sent", "delivered"]) {
        assert!(!line.contains('\x1b'), "no colour into a pipe: {line:?}");
        assert!(line.contains("message.status"), "{line}");
        assert!(line.contains(&id), "{line}");
        assert!(line.contains("+4915112345678"), "{line}");
        assert!(line.split_whitespace().any(|w| w == status), "{line}");
    }
    t.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_outlives_the_request_timeout_and_ends_when_the_gateway_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    // The timeout bounds producing an answer's head, not how long a stream then runs.
    c.http.request_timeout = Duration::from_millis(300);
    let t = TestGateway::start_with(c, dir).await;
    let mut stream = t.open_events(&t.key, STREAM, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let id = t
        .send(json!({"to": "+4915112345678", "text": "late"}))
        .await;
    stream.until(|e| is_status_of(e, &id, "delivered")).await;
    // An open stream does not hold the stop for the listener's 10 s drain.
    let TestGateway { gw, dir: _dir, .. } = t;
    let started = std::time::Instant::now();
    gw.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(stream.next().await.is_none(), "the stream ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smsgate_top_prints_rates_the_queue_and_the_connectors() {
    let t = TestGateway::start(json!({})).await;
    t.send(json!({"to": "+4915112345678", "text": "count me"}))
        .await;
    let out = tokio::task::block_in_place(|| {
        Command::new(crate::SMSGATE)
            .args(["top", "--interval", "0.2", "-n", "2", "--url", &t.base])
            .env("SMSGATE_KEY", &t.key)
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    // Into a pipe: two plain frames, the second with rates (the first has none to compare).
    assert!(!text.contains('\x1b'), "{text:?}");
    assert_eq!(text.matches("smsgate top").count(), 2, "{text}");
    assert!(
        text.contains("msg/s accepted") && text.contains("waiting"),
        "{text}"
    );
    let sim = text.lines().rfind(|l| l.starts_with("sim ")).unwrap();
    assert!(sim.contains("simulator") && sim.contains("bound"), "{text}");
    assert!(sim.contains("0.0"), "rates on the second frame: {text}");
    t.gw.shutdown().await;
}
