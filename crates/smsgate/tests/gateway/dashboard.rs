//! The web dashboard in a browser DOM nobody here wrote: `interop/dashboard/check.js` loads
//! `GET /` into npm `jsdom`, runs the page's own script against the live API with the admin
//! key, and prints what its tables show. The gateway behind it has a route, a bound SMPP
//! client, a device that reported a reading, an open alert, a sent and an inbound message;
//! every panel must show its part. Runs with `SMSGATE_INTEROP=1`.

use serde_json::{Value, json};
use smsgate_smpp::client::{self, ClientConfig};
use smsgate_smpp::session::{BindParams, BindType};
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop::{self, Peer};

const PUMP: &str = "+4915100000003";

/// The dashboard in jsdom on the live stream (`interop/dashboard/live.js`), signed in with
/// the test's key and `READY`.
async fn live_page(t: &TestGateway) -> Peer {
    let mut page = Peer::spawn(
        "node",
        &[
            "dashboard/live.js".to_owned(),
            t.base.clone(),
            t.api.key.clone(),
        ],
    );
    page.expect("READY").await;
    page
}

async fn create(t: &TestGateway, path: &str, body: Value) {
    let (s, v) = t.call("POST", path, Some(body)).await;
    assert_eq!(s, 201, "{path}: {v}");
}

/// The rows of one table, each a list of cell texts.
fn table<'a>(tables: &'a Value, id: &str) -> Vec<Vec<&'a str>> {
    tables[id]
        .as_array()
        .unwrap_or_else(|| panic!("no table {id}: {tables}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect()
        })
        .collect()
}

fn has_row(rows: &[Vec<&str>], pred: impl Fn(&[&str]) -> bool) -> bool {
    rows.iter().any(|r| pred(r))
}

#[tokio::test]
async fn every_dashboard_panel_shows_the_live_gateway() {
    if !interop::enabled("every_dashboard_panel_shows_the_live_gateway") {
        return;
    }
    interop::require_jsdom();
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.routes = serde_json::from_value(json!([{"prefix": "+49", "connectors": ["sim"]}])).unwrap();
    c.smpp_server = Some(
        serde_json::from_value(json!({
            "listen": "127.0.0.1:0",
            "accounts": [{"system_id": "app1", "password": "secret1"}],
        }))
        .unwrap(),
    );
    let t = TestGateway::start_with(c, dir).await;

    create(
        &t,
        "/v1/contacts",
        json!({"id": "alice", "name": "Alice", "number": "+4915100000001"}),
    )
    .await;
    create(
        &t,
        "/v1/groups",
        json!({"id": "oncall", "levels": [{"contacts": ["alice"], "delay": "5m"}]}),
    )
    .await;
    create(
        &t,
        "/v1/devices",
        json!({"id": "pump-3", "name": "Pump 3", "number": PUMP}),
    )
    .await;
    create(
        &t,
        "/v1/rules",
        json!({"id": "hot", "name": "Overheat", "condition": "T > 80", "group": "oncall",
               "severity": "critical", "template": "{{device.name}}: temperature {{T}} C"}),
    )
    .await;
    let (s, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": PUMP, "text": "T=85.5"})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    // The IoT engine works after the inbound commit: wait for its alert before looking.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, v) = t.call("GET", "/v1/alerts?state=open", None).await;
        if v["data"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no alert raised: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sent = t
        .send(json!({"to": "+4915112345678", "text": "hello dashboard"}))
        .await;
    t.wait_status(&sent, "delivered").await;
    let addr = t.gw.smpp_addr.unwrap();
    let config = ClientConfig::new(BindParams::new(BindType::Transceiver, "app1", "secret1"));
    let (smpp, _events) = client::connect(addr, config).await.unwrap();

    let peer = Peer::spawn(
        "node",
        &["dashboard/check.js".into(), t.base.clone(), t.key.clone()],
    );
    let out = peer.finish().await;
    let line = out
        .iter()
        .find_map(|l| l.strip_prefix("TABLES "))
        .unwrap_or_else(|| panic!("no TABLES line: {out:?}"));
    let tables: Value = serde_json::from_str(line).unwrap();

    let queue = table(&tables, "queue");
    assert!(
        has_row(&queue, |r| r[0] == "delivered"
            && r[1].parse::<u64>().unwrap_or(0) >= 1),
        "{queue:?}"
    );
    let connectors = table(&tables, "connectors");
    assert!(
        has_row(&connectors, |r| r[0] == "sim" && r[2] == "bound"),
        "{connectors:?}"
    );
    let routes = table(&tables, "routes");
    assert!(
        has_row(&routes, |r| r[0] == "+49…" && r[1] == "sim"),
        "{routes:?}"
    );
    let clients = table(&tables, "smpp");
    assert!(
        has_row(&clients, |r| r[0] == "app1"
            && r[1] == "transceiver"
            && r[2].starts_with("127.0.0.1:")),
        "{clients:?}"
    );
    let devices = table(&tables, "devices");
    assert!(
        has_row(&devices, |r| r[0] == "Pump 3"
            && r[1] == PUMP
            && r[3].contains("T=85.5")),
        "{devices:?}"
    );
    let alerts = table(&tables, "alerts");
    assert!(
        has_row(&alerts, |r| r[1] == "pump-3"
            && r[2] == "critical"
            && r[4].contains("temperature 85.5")),
        "{alerts:?}"
    );
    let messages = table(&tables, "messages");
    assert!(
        has_row(&messages, |r| r[2] == "hello dashboard"
            && r[3] == "delivered"),
        "{messages:?}"
    );
    let inbound = table(&tables, "inbound");
    assert!(
        has_row(&inbound, |r| r[1] == PUMP && r[2] == "T=85.5"),
        "{inbound:?}"
    );

    smpp.unbind().await;
    t.gw.shutdown().await;
}

/// Sign-in: a key becomes an HttpOnly, SameSite=Strict cookie; reads work with it, changes
/// need the CSRF token too; a forged cookie, a revoked key and sign-out end it.
#[tokio::test]
async fn the_dashboard_session_cookie_reads_changes_with_csrf_and_ends() {
    let t = TestGateway::start(json!({})).await;
    let (status, key) = t
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "ops", "tenant": "acme"})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["secret"].as_str().unwrap();
    let url = |p: &str| format!("{}{p}", t.base);
    let wrong = t
        .http
        .post(url("/v1/session"))
        .header("content-type", "application/json")
        .body(json!({"key": "sk_nope"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let r = t
        .http
        .post(url("/v1/session"))
        .header("content-type", "application/json")
        .body(json!({"key": secret}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains(secret), "the key is not in the cookie: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let csrf = body["csrf"].as_str().unwrap().to_owned();
    assert_eq!(body["key"]["tenant"], "acme");
    // Reads with the cookie alone; the session answers who it is after a reload.
    let get = |p: &str, c: &str| t.http.get(url(p)).header("cookie", c.to_owned()).send();
    assert_eq!(
        get("/v1/messages", &cookie)
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let again: Value = serde_json::from_str(
        &get("/v1/session", &cookie)
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again["csrf"], csrf.as_str());
    // A change without the token is refused; with it, it goes through.
    let send = |token: Option<&str>| {
        let mut b = t
            .http
            .post(url("/v1/messages"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/json")
            .body(json!({"to": "+4915112345678", "text": "from the dashboard"}).to_string());
        if let Some(tok) = token {
            b = b.header("x-csrf-token", tok.to_owned());
        }
        b.send()
    };
    assert_eq!(send(None).await.unwrap().status().as_u16(), 403);
    assert_eq!(send(Some("0000")).await.unwrap().status().as_u16(), 403);
    assert_eq!(send(Some(&csrf)).await.unwrap().status().as_u16(), 202);
    // A forged signature is nobody's session.
    let last = if cookie.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
    assert_eq!(
        get("/v1/messages", &forged)
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    // Sign-out clears the cookie; revoking the key ends its sessions at once.
    let out = t
        .http
        .delete(url("/v1/session"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _) = t
        .call(
            "DELETE",
            &format!("/v1/keys/{}", key["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(status == 200 || status == 204, "{status}");
    assert_eq!(
        get("/v1/messages", &cookie)
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    t.gw.shutdown().await;
}

/// Live updates: with the event stream up, a message sent through the API appears in the
/// page and reaches `delivered` without a reload and well before the 30 s safety refresh.
#[tokio::test]
async fn the_dashboard_shows_a_new_message_from_the_stream_without_reload() {
    if !interop::enabled("the_dashboard_shows_a_new_message_from_the_stream_without_reload") {
        return;
    }
    interop::require_jsdom();
    let t = TestGateway::start(json!({"delivery_delay": "100ms"})).await;
    let mut page = live_page(&t).await;
    let id = t
        .send(json!({"to": "+4915112345678", "text": "live from the stream"}))
        .await;
    page.say("EXPECT live from the stream").await;
    let seen = page.expect("SEEN ").await;
    let (ms, how) = seen[5..].split_once(' ').unwrap();
    let ms: u64 = ms.parse().unwrap();
    assert_eq!(how, "stream", "the page fell back to polling: {seen}");
    assert!(
        ms < 10_000,
        "took {ms} ms: the stream did not drive the page"
    );
    t.wait_status(&id, "delivered").await;
    t.gw.shutdown().await;
}

/// From the page: the send form's live estimate, and acknowledging an open alert with its
/// button (the alert is then acknowledged for the API too).
#[tokio::test]
async fn the_dashboard_estimates_a_text_and_acknowledges_an_alert() {
    if !interop::enabled("the_dashboard_estimates_a_text_and_acknowledges_an_alert") {
        return;
    }
    interop::require_jsdom();
    let t = TestGateway::start(json!({"delivery_delay": "50ms"})).await;
    create(
        &t,
        "/v1/contacts",
        json!({"id": "alice", "number": "+4915100000001"}),
    )
    .await;
    create(
        &t,
        "/v1/groups",
        json!({"id": "oncall", "levels": [{"contacts": ["alice"], "delay": "5m"}]}),
    )
    .await;
    create(&t, "/v1/devices", json!({"id": "pump-3", "number": PUMP})).await;
    create(
        &t,
        "/v1/rules",
        json!({"id": "hot", "condition": "T > 80", "group": "oncall", "severity": "critical"}),
    )
    .await;
    let mut page = live_page(&t).await;
    page.say("ESTIMATE Grüße 😀").await;
    let shown = page.expect("ESTIMATED ").await;
    assert_eq!(shown, "ESTIMATED ucs2 · 1 part(s) · 62 left", "{shown}");
    let (status, _) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": PUMP, "to": "+10000000000", "text": "T=91"})),
        )
        .await;
    assert_eq!(status, 202);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let id = loop {
        let (_, v) = t.call("GET", "/v1/alerts?state=open", None).await;
        if let Some(a) = v["data"].as_array().and_then(|a| a.first()) {
            break a["id"].as_i64().unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "no alert: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    page.say(&format!("ACK {id}")).await;
    page.expect("ACKED ").await;
    let (_, a) = t.call("GET", &format!("/v1/alerts/{id}"), None).await;
    assert_eq!(a["state"], "acknowledged", "{a}");
    t.gw.shutdown().await;
}

/// Messages from the page: search by number, and one message's timeline by a click.
#[tokio::test]
async fn the_dashboard_searches_messages_and_shows_a_timeline() {
    if !interop::enabled("the_dashboard_searches_messages_and_shows_a_timeline") {
        return;
    }
    interop::require_jsdom();
    let t = TestGateway::start(json!({"delivery_delay": "50ms"})).await;
    let a = t
        .send(json!({"to": "+4915112345678", "text": "for the first phone"}))
        .await;
    let b = t
        .send(json!({"to": "+4915112345679", "text": "for the second phone"}))
        .await;
    t.wait_status(&a, "delivered").await;
    t.wait_status(&b, "delivered").await;
    let mut page = live_page(&t).await;
    page.say("SEARCH +4915112345679").await;
    assert_eq!(page.expect("SEARCHED ").await, "SEARCHED 1");
    page.say("TIMELINE for the second phone").await;
    assert_eq!(
        page.expect("TIMELINE ").await,
        "TIMELINE queued,sending,sent,delivered"
    );
    t.gw.shutdown().await;
}

/// Devices from the page: a device past its heartbeat is highlighted as silent, and a command
/// sent with the form is queued for it.
#[tokio::test]
async fn the_dashboard_highlights_a_silent_device_and_sends_a_command() {
    if !interop::enabled("the_dashboard_highlights_a_silent_device_and_sends_a_command") {
        return;
    }
    interop::require_jsdom();
    let t = TestGateway::start(json!({"delivery_delay": "50ms"})).await;
    create(
        &t,
        "/v1/devices",
        json!({"id": "pump-3", "number": PUMP, "heartbeat": "1s"}),
    )
    .await;
    create(
        &t,
        "/v1/devices",
        json!({"id": "meter-9", "number": "+4915199990009"}),
    )
    .await;
    let mut page = live_page(&t).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    page.say("SILENT pump-3").await;
    page.expect("SILENT ").await;
    page.say("COMMAND meter-9 STATUS").await;
    let answer = page.expect("COMMANDED ").await;
    assert!(answer.starts_with("COMMANDED command "), "{answer}");
    let (_, cmds) = t.call("GET", "/v1/devices/meter-9/commands", None).await;
    assert!(cmds.to_string().contains("STATUS"), "{cmds}");
    t.gw.shutdown().await;
}
