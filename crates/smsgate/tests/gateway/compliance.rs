//! Opt-out by reply on the simulated network: STOP → confirmation → sends refused with 422
//! `opted_out` → START → sends work again; HELP gets the help text; the opt-out API.

use std::time::Duration;

use serde_json::{Value, json};
use smsgate_testkit::TestGateway;

const PHONE: &str = "+4915112345678";

/// A key of tenant `tenant`; its secret.
async fn tenant_key(t: &TestGateway, tenant: &str) -> String {
    let (status, v) = t
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": tenant, "tenant": tenant})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v["secret"].as_str().unwrap().to_owned()
}

async fn phone_says(t: &TestGateway, text: &str) {
    let (status, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": PHONE, "to": "+4930555000", "text": text})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
}

/// Waits until a message to the phone carries `text`.
async fn reply_with(t: &TestGateway, key: &str, text: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = t.call_as(key, "GET", "/v1/messages?limit=50", None).await;
        if let Some(m) = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["to"] == PHONE && m["text"].as_str().is_some_and(|b| b.contains(text)))
        {
            return m.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reply with '{text}': {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(t: &TestGateway, key: &str) -> (u16, Value) {
    t.call_as(
        key,
        "POST",
        "/v1/messages",
        Some(json!({"to": PHONE, "text": "Your meter reading is due"})),
    )
    .await
}

async fn stop_opts_out_start_opts_back_in_and_help_answers() {
    let t = TestGateway::start(json!({})).await;
    let acme = tenant_key(&t, "acme").await;
    let bolt = tenant_key(&t, "bolt").await;
    let (status, _) = send(&t, &acme).await;
    assert_eq!(status, 202);
    // The phone answers acme's message: STOP belongs to acme, the last to message it.
    phone_says(&t, " Stop. ").await;
    let confirmation = reply_with(&t, &acme, "unsubscribed").await;
    assert_eq!(
        confirmation["from"], "+4930555000",
        "answered from the number texted"
    );
    let (status, v) = send(&t, &acme).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "opted_out");
    let (status, v) = t
        .call_as(
            &acme,
            "POST",
            "/v1/messages/batch",
            Some(json!({"messages": [{"to": PHONE, "text": "a"}, {"to": "+4915112345679", "text": "b"}]})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["messages"][0]["error"]["code"], "opted_out");
    assert_eq!(v["messages"][1]["status"], "queued");
    // Another tenant is not affected by acme's STOP.
    let (status, _) = send(&t, &bolt).await;
    assert_eq!(status, 202);
    let (_, list) = t.call_as(&acme, "GET", "/v1/optouts", None).await;
    assert_eq!(list[0]["number"], PHONE, "{list}");
    assert_eq!(list[0]["source"], "keyword");
    let (_, list) = t.call_as(&bolt, "GET", "/v1/optouts", None).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "bolt sees no acme opt-out"
    );
    // The list through the API: add, remove, and a second remove finds nothing.
    let (status, _) = t
        .call_as(
            &acme,
            "POST",
            "/v1/optouts",
            Some(json!({"number": "+4915112345670"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = t
        .call_as(&acme, "DELETE", "/v1/optouts/+4915112345670", None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = t
        .call_as(&acme, "DELETE", "/v1/optouts/+4915112345670", None)
        .await;
    assert_eq!(status, 404);
    t.gw.shutdown().await;
}

async fn start_after_stop_lets_messages_through_again_and_help_gets_the_help_text() {
    let t = TestGateway::start(json!({})).await;
    let acme = tenant_key(&t, "acme").await;
    send(&t, &acme).await;
    phone_says(&t, "STOP").await;
    reply_with(&t, &acme, "unsubscribed").await;
    phone_says(&t, "start").await;
    reply_with(&t, &acme, "You are subscribed").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, v) = send(&t, &acme).await;
        if status == 202 {
            break;
        }
        assert_eq!(v["error"]["code"], "opted_out");
        assert!(tokio::time::Instant::now() < deadline, "still opted out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    phone_says(&t, "HELP").await;
    reply_with(&t, &acme, "Reply STOP to unsubscribe, START").await;
    // Events for the tenant's webhooks and the audit trail of the list.
    let (_, list) = t.call_as(&acme, "GET", "/v1/optouts", None).await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    t.gw.shutdown().await;
}

async fn a_number_is_exported_and_erased_within_its_tenant() {
    let t = TestGateway::start(json!({})).await;
    let acme = tenant_key(&t, "acme").await;
    let bolt = tenant_key(&t, "bolt").await;
    send(&t, &acme).await;
    send(&t, &bolt).await;
    phone_says(&t, "my meter says 42").await; // bolt messaged last: bolt's
    let (status, _) = t
        .call_as(&bolt, "POST", "/v1/optouts", Some(json!({"number": PHONE})))
        .await;
    assert_eq!(status, 201);
    let (status, v) = t
        .call_as(&bolt, "GET", &format!("/v1/numbers/{PHONE}/export"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["messages"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["inbound"][0]["text"], "my meter says 42", "{v}");
    let (status, v) = t
        .call_as(&bolt, "DELETE", &format!("/v1/numbers/{PHONE}"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["erased"], 2);
    let (_, v) = t
        .call_as(&bolt, "GET", &format!("/v1/numbers/{PHONE}/export"), None)
        .await;
    assert_eq!(v["messages"][0]["text"], "", "{v}");
    assert_eq!(v["inbound"][0]["text"], "");
    // The opt-out outlives the erasure under the number's hash: still no sends to it.
    let (_, list) = t.call_as(&bolt, "GET", "/v1/optouts", None).await;
    let kept = list[0]["number"].as_str().unwrap();
    assert!(
        kept.starts_with("sha256:") && !list.to_string().contains(PHONE),
        "{list}"
    );
    let (status, v) = send(&t, &bolt).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "opted_out");
    // The recipient can still opt back in by number.
    let (status, _) = t
        .call_as(&bolt, "DELETE", &format!("/v1/optouts/{PHONE}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(send(&t, &bolt).await.0, 202);
    let (_, v) = t
        .call_as(&acme, "GET", &format!("/v1/numbers/{PHONE}/export"), None)
        .await;
    assert_eq!(
        v["messages"][0]["text"], "Your meter reading is due",
        "acme's is untouched"
    );
    let (_, audit) = t.call("GET", "/v1/audit", None).await;
    assert!(audit.to_string().contains("number.erase"), "{audit}");
    t.gw.shutdown().await;
}

async fn a_tenant_that_requires_consent_sends_only_after_join_or_a_recorded_opt_in() {
    let t = TestGateway::start(json!({})).await;
    let (status, v) = t
        .call(
            "PUT",
            "/v1/tenants/acme",
            Some(json!({"require_consent": true, "inbound": ["+4930555000"]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let acme = tenant_key(&t, "acme").await;
    let (status, v) = send(&t, &acme).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "no_consent");
    // The phone texts JOIN to acme's number: consent recorded, confirmation sent.
    phone_says(&t, "JOIN").await;
    reply_with(&t, &acme, "You are subscribed").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while send(&t, &acme).await.0 != 202 {
        assert!(tokio::time::Instant::now() < deadline, "still no consent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, list) = t.call_as(&acme, "GET", "/v1/consents", None).await;
    assert_eq!(list[0]["number"], PHONE, "{list}");
    assert_eq!(list[0]["source"], "keyword");
    // A consent recorded through the API, and withdrawn.
    let other = "+4915112345679";
    let (status, _) = t
        .call_as(
            &acme,
            "POST",
            "/v1/consents",
            Some(json!({"number": other, "source": "web form"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = t
        .call_as(
            &acme,
            "POST",
            "/v1/messages",
            Some(json!({"to": other, "text": "hi"})),
        )
        .await;
    assert_eq!(status, 202);
    t.call_as(&acme, "DELETE", &format!("/v1/consents/{other}"), None)
        .await;
    let (status, _) = t
        .call_as(
            &acme,
            "POST",
            "/v1/messages",
            Some(json!({"to": other, "text": "hi"})),
        )
        .await;
    assert_eq!(status, 422);
    // Erasing the number removes its consent too.
    t.call_as(&acme, "DELETE", &format!("/v1/numbers/{PHONE}"), None)
        .await;
    let (status, v) = send(&t, &acme).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("no_consent"))
    );
    t.gw.shutdown().await;
}

async fn inbound_rules_answer_keywords_and_forward_the_rest_but_not_help_or_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.inbound_rules = serde_json::from_value(json!([
        {"keyword": "PRICE", "reply": "Price of {rest}: 3 EUR"},
        {"to": "+4930555*", "forward": "+4915199999999", "forward_text": "SMS from {from}: {text}"},
    ]))
    .unwrap();
    let t = TestGateway::start_with(c, dir).await;
    phone_says(&t, "price apples").await;
    let answer = reply_with(&t, &t.key, "Price of apples: 3 EUR").await;
    assert_eq!(answer["from"], "+4930555000");
    phone_says(&t, "the pump is leaking").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = t
            .call("GET", "/v1/messages?to=%2B4915199999999", None)
            .await;
        if page["data"][0]["text"] == format!("SMS from {PHONE}: the pump is leaking") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not forwarded: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A HELP is answered by the compliance text, not forwarded.
    phone_says(&t, "HELP").await;
    reply_with(&t, &t.key, "Reply STOP to unsubscribe, START").await;
    let (_, page) = t
        .call("GET", "/v1/messages?to=%2B4915199999999", None)
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    t.gw.shutdown().await;
}

async fn a_join_rule_posts_the_sms_to_its_webhook_and_answers_instead_of_the_default() {
    let hook = smsgate_testkit::Receiver::start().await;
    let secret = "join-rule-secret-0123";
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.inbound_rules = serde_json::from_value(json!([
        {"keyword": "JOIN", "webhook": hook.url, "webhook_secret": secret,
         "reply": "Welcome to the pump alerts, {from}!"},
    ]))
    .unwrap();
    let t = TestGateway::start_with(c, dir).await;
    let acme = tenant_key(&t, "acme").await;
    send(&t, &acme).await; // the phone's answers are acme's
    // Opted out first: the JOIN rule's answer must still reach the phone opting back in.
    phone_says(&t, "STOP").await;
    reply_with(&t, &acme, "unsubscribed").await;
    phone_says(&t, "join").await;
    let hit = hook
        .wait_for(|v| v["event"] == "inbound.routed" && v["data"]["text"] == "join")
        .await;
    let now = smsgate_core::clock::Clock::system().now_ms() / 1000;
    assert!(
        smsgate_core::webhook::verify(secret, &hit.signature, &hit.body, now, 300),
        "signed with the rule's secret: {hit:?}"
    );
    let v: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(v["data"]["from"], PHONE);
    assert_eq!(v["data"]["tenant"], "acme");
    assert_eq!(v["data"]["rule"], 1);
    assert!(
        !hit.body.contains(secret) && v["data"].get("webhook_url").is_none(),
        "the target is not in the body: {}",
        hit.body
    );
    reply_with(&t, &acme, &format!("Welcome to the pump alerts, {PHONE}!")).await;
    let (_, list) = t.call_as(&acme, "GET", "/v1/optouts", None).await;
    assert!(list.as_array().unwrap().is_empty(), "opted back in: {list}");
    // JOIN is still an opt-in: the consent is recorded, the default answer is not sent.
    let (_, consents) = t.call_as(&acme, "GET", "/v1/consents", None).await;
    assert_eq!(consents[0]["number"], PHONE, "{consents}");
    let (_, page) = t.call_as(&acme, "GET", "/v1/messages?limit=50", None).await;
    assert!(
        !page.to_string().contains("You are subscribed"),
        "one answer only: {page}"
    );
    t.gw.shutdown().await;
}

/// `"HH:MM-HH:MM"` around the present moment in Berlin (a window that holds now).
fn window_around_now_in_berlin() -> String {
    let now = smsgate_core::clock::Clock::system().now_ms();
    let (std, dst) = smsgate_core::quiet::zone_of(PHONE);
    let local_min = ((now + i64::from(smsgate_core::quiet::offset_at(std, dst, now)) * 60_000)
        .rem_euclid(86_400_000)
        / 60_000) as i64;
    let hm = |m: i64| {
        format!(
            "{:02}:{:02}",
            m.rem_euclid(1440) / 60,
            m.rem_euclid(1440) % 60
        )
    };
    format!("{}-{}", hm(local_min - 60), hm(local_min + 60))
}

async fn inbound_rules_made_through_the_api_apply_at_once_within_their_tenant() {
    let hook = smsgate_testkit::Receiver::start().await;
    let secret = "admin-rule-secret-0123";
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.inbound_rules =
        serde_json::from_value(json!([{"keyword": "HOURS", "reply": "9-17"}])).unwrap();
    let t = TestGateway::start_with(c, dir).await;
    let (acme, bolt) = (tenant_key(&t, "acme").await, tenant_key(&t, "bolt").await);
    send(&t, &acme).await; // the phone's answers are acme's
    let rules = "/v1/inbound-rules";
    // Checked as the config's rules are, and within the tenant's reach.
    let (status, v) = t
        .call_as(&acme, "POST", rules, Some(json!({"keyword": "PRICE"})))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_rule")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no action"),
        "{v}"
    );
    let (status, v) = t
        .call_as(
            &acme,
            "POST",
            rules,
            Some(json!({"keyword": "PRICE", "webhook": hook.url, "webhook_secret": secret})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("url_not_allowed")),
        "{v}"
    );
    let (status, _) = t
        .call_as(
            &acme,
            "POST",
            rules,
            Some(json!({"tenant": "bolt", "keyword": "PRICE", "reply": "x"})),
        )
        .await;
    assert_eq!(status, 403, "a tenant's rule is its own");
    let (status, mine) = t
        .call_as(
            &acme,
            "POST",
            rules,
            Some(json!({"keyword": "PRICE", "reply": "acme: {rest} cost 3 EUR"})),
        )
        .await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(
        (&mine["rule"]["tenant"], &mine["owner"]),
        (&json!("acme"), &json!("acme"))
    );
    let (status, theirs) = t
        .call_as(
            &bolt,
            "POST",
            rules,
            Some(json!({"keyword": "PRICE", "reply": "bolt prices"})),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    // Applies to the next SMS, no restart; bolt's rule does not see acme's SMS.
    phone_says(&t, "price apples").await;
    let answer = reply_with(&t, &acme, "acme: apples cost 3 EUR").await;
    assert_eq!(answer["from"], "+4930555000");
    // Each tenant sees its own; the admin sees the config's first, then all stored ones.
    let (_, list) = t.call_as(&bolt, "GET", rules, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], theirs["id"]);
    let (_, list) = t.call("GET", rules, None).await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "config:1",
            mine["id"].as_str().unwrap(),
            theirs["id"].as_str().unwrap()
        ]
    );
    let mine_url = format!("{rules}/{}", mine["id"].as_str().unwrap());
    assert_eq!(t.call_as(&bolt, "DELETE", &mine_url, None).await.0, 404);
    assert_eq!(
        t.call("DELETE", &format!("{rules}/config:1"), None).await.0,
        409
    );
    // An admin's rule may reach the loopback network; its secret is never shown.
    let (status, admins) = t
        .call(
            "POST",
            rules,
            Some(json!({"keyword": "PRICE", "webhook": hook.url, "webhook_secret": secret})),
        )
        .await;
    assert_eq!(status, 201, "{admins}");
    assert!(admins["rule"].get("webhook_secret").is_none(), "{admins}");
    assert_eq!(t.call_as(&acme, "DELETE", &mine_url, None).await.0, 204);
    assert_eq!(t.call_as(&acme, "GET", &mine_url, None).await.0, 404);
    // acme's rule is gone: the admin's, next in line, takes the SMS.
    phone_says(&t, "price pears").await;
    let hit = hook
        .wait_for(|v| v["event"] == "inbound.routed" && v["data"]["text"] == "price pears")
        .await;
    let v: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(
        (&v["data"]["rule"], &v["data"]["tenant"]),
        (&admins["id"], &json!("acme"))
    );
    let (_, page) = t.call_as(&acme, "GET", "/v1/messages?limit=50", None).await;
    assert!(
        !page.to_string().contains("pears cost"),
        "the deleted rule answered: {page}"
    );
    t.gw.shutdown().await;
}

async fn quiet_hours_hold_bulk_messages_but_never_alerts() {
    let t = TestGateway::start(json!({})).await;
    let window = window_around_now_in_berlin();
    let (status, v) = t
        .call(
            "PUT",
            "/v1/tenants/acme",
            Some(json!({"quiet_hours": window})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = t
        .call(
            "PUT",
            "/v1/tenants/acme",
            Some(json!({"quiet_hours": "9-5"})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_quiet_hours"))
    );
    t.call(
        "PUT",
        "/v1/tenants/acme",
        Some(json!({"quiet_hours": window})),
    )
    .await;
    let acme = tenant_key(&t, "acme").await;
    let before = smsgate_core::clock::Clock::system().now_ms();
    let (status, v) = send(&t, &acme).await;
    assert_eq!(status, 202, "{v}");
    let bulk = v["id"].as_str().unwrap().to_owned();
    let (status, v) = t
        .call_as(
            &acme,
            "POST",
            "/v1/messages",
            Some(json!({"to": PHONE, "text": "Pump 3 overheating", "priority": "high"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let alert = v["id"].as_str().unwrap().to_owned();
    t.wait_status(&alert, "delivered").await;
    let (_, m) = t.call("GET", &format!("/v1/messages/{bulk}"), None).await;
    assert_eq!(m["status"], "queued", "held: {m}");
    let send_at = smsgate_core::clock::parse_rfc3339(m["send_at"].as_str().unwrap()).unwrap();
    assert!(
        send_at >= before + 59 * 60_000,
        "held until the window ends: {m}"
    );
    let deferred = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "deferred")
        .unwrap_or_else(|| panic!("a deferred event: {m}"));
    assert!(
        deferred["detail"].as_str().unwrap().contains("quiet hours"),
        "{deferred}"
    );
    t.gw.shutdown().await;
}

async fn a_routes_quiet_hours_hold_its_bulk_messages_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    c.routes = serde_json::from_value(json!([
        {"name": "germany", "prefix": "+49", "quiet_hours": window_around_now_in_berlin(),
         "connectors": ["sim"]},
        {"prefix": "", "connectors": ["sim"]},
    ]))
    .unwrap();
    let t = TestGateway::start_with(c, dir).await;
    let (status, v) = send(&t, &t.key).await;
    assert_eq!(status, 202, "{v}");
    let held = v["id"].as_str().unwrap().to_owned();
    let (_, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+441234567890", "text": "Monthly report"})),
        )
        .await;
    let other = v["id"].as_str().unwrap().to_owned();
    let (_, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": PHONE, "text": "Valve open", "priority": "high"})),
        )
        .await;
    t.wait_status(v["id"].as_str().unwrap(), "delivered").await;
    t.wait_status(&other, "delivered").await;
    let (_, m) = t.call("GET", &format!("/v1/messages/{held}"), None).await;
    assert_eq!(m["status"], "queued", "held by the route: {m}");
    assert!(
        m.to_string().contains("quiet hours of route 'germany'"),
        "the timeline says why: {m}"
    );
    t.gw.shutdown().await;
}

async fn a_held_message_is_delivered_when_the_window_ends() {
    let clock = smsgate_core::clock::Clock::adjustable();
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    // Berlin's window opened an hour ago (adjustable clock) and closes in an hour.
    c.routes = serde_json::from_value(json!([
        {"prefix": "", "quiet_hours": window_around_now_in_berlin(), "connectors": ["sim"]}]))
    .unwrap();
    let gw = smsgate::gateway::Gateway::start_with_clock(c, clock)
        .await
        .unwrap();
    let key = gw.first_admin_key.clone().unwrap();
    let t = TestGateway::new(gw, key, dir);
    let (status, v) = send(&t, &t.key).await;
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(m["status"], "queued", "held inside the window: {m}");
    assert!(clock.advance(Duration::from_secs(61 * 60)));
    t.wait_status(&id, "delivered").await;
    t.gw.shutdown().await;
}

#[test]
fn a_route_with_bad_quiet_hours_is_refused_at_start() {
    let routes: Vec<smsgate_core::routing::Route> = serde_json::from_value(json!([
        {"prefix": "+49", "quiet_hours": "late", "connectors": ["sim"]}]))
    .unwrap();
    let e = smsgate_core::routing::Router::new(
        &routes,
        &smsgate_core::routing::Connectors::new(Vec::new()),
    )
    .err()
    .expect("refused");
    assert!(e.to_string().contains("quiet_hours 'late'"), "{e}");
}

smsgate_testkit::both_backends!(
    stop_opts_out_start_opts_back_in_and_help_answers,
    start_after_stop_lets_messages_through_again_and_help_gets_the_help_text,
    a_number_is_exported_and_erased_within_its_tenant,
    a_join_rule_posts_the_sms_to_its_webhook_and_answers_instead_of_the_default,
    a_tenant_that_requires_consent_sends_only_after_join_or_a_recorded_opt_in,
    inbound_rules_answer_keywords_and_forward_the_rest_but_not_help_or_stop,
    inbound_rules_made_through_the_api_apply_at_once_within_their_tenant,
    quiet_hours_hold_bulk_messages_but_never_alerts,
    a_routes_quiet_hours_hold_its_bulk_messages_only,
    a_held_message_is_delivered_when_the_window_ends,
);
