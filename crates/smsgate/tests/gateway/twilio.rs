//! The Twilio-compatible API against the official `twilio` Python package
//! (`interop/twilio/client.py`): create, fetch, list with paging, schedule and cancel, Twilio
//! errors, and StatusCallbacks checked by the package's own `RequestValidator`. Run with
//! `SMSGATE_INTEROP=1`.

use serde_json::json;
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop::{self, Peer};

async fn the_official_twilio_sdk_sends_fetches_lists_cancels_and_validates_callbacks() {
    if !interop::enabled(
        "the_official_twilio_sdk_sends_fetches_lists_cancels_and_validates_callbacks",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    // The test's callback receiver listens on loopback.
    config.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
    config.twilio.messaging_services = vec![
        serde_json::from_value(json!({"sid": format!("MG{}", "1".repeat(32)),
            "senders": ["+4930555001", "+4930555002"]}))
        .unwrap(),
    ];
    let t = TestGateway::start_with(config, dir).await;
    let (status, key) = t
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "twilio-app", "tenant": "acme",
                "scopes": ["messages:send", "messages:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let sid = key["account_sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("AC") && sid.len() == 34, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let lines = Peer::spawn(
        "python3",
        &[
            "twilio/client.py".to_owned(),
            format!("http://{}", t.gw.addr),
            sid.clone(),
            secret,
            "+4915112345678".to_owned(),
        ],
    )
    .finish()
    .await;
    assert_eq!(lines.last().map(String::as_str), Some("DONE"), "{lines:?}");
    for what in [
        "create",
        "fetch",
        "callbacks",
        "list",
        "cancel",
        "invalid_to",
        "not_found",
        "auth",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("OK {what} "))),
            "{what}: {lines:?}"
        );
    }
    // Another key's SID in the path is refused even with a valid key.
    let (status, other) = t
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "other", "tenant": "bolt"})),
        )
        .await;
    assert_eq!(status, 201);
    let r = t
        .http
        .get(format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            t.base,
            other["account_sid"].as_str().unwrap()
        ))
        .basic_auth(&sid, Some(key["secret"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], 20003, "{body}");
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    the_official_twilio_sdk_sends_fetches_lists_cancels_and_validates_callbacks
);

/// Waits for a message to `to` whose text contains `needle`.
async fn message_to(t: &TestGateway, to: &str, needle: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, page) = t.call("GET", "/v1/messages?limit=50", None).await;
        if let Some(m) = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["to"] == to && m["text"].as_str().is_some_and(|x| x.contains(needle)))
        {
            return m.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message to {to} with '{needle}': {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_inbound_sms_reaches_a_twilio_app_and_its_twiml_answer_is_sent_back() {
    if !interop::enabled("an_inbound_sms_reaches_a_twilio_app_and_its_twiml_answer_is_sent_back") {
        return;
    }
    let token = "app-auth-token-0123456789";
    let mut app = Peer::spawn(
        "python3",
        &["twilio/sms_app.py".to_owned(), token.to_owned()],
    );
    let port = app.expect("PORT ").await[5..].to_owned();
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    config.inbound_rules = serde_json::from_value(json!([{
        "to": "+4930555000",
        "twilio_url": format!("http://127.0.0.1:{port}/sms"),
        "webhook_secret": token,
    }]))
    .unwrap();
    let t = TestGateway::start_with(config, dir).await;
    let (status, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+4915112345678", "to": "+4930555000", "text": "Hello app"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let seen: serde_json::Value = serde_json::from_str(&app.expect("INBOUND ").await[8..]).unwrap();
    assert_eq!(seen["valid"], true, "RequestValidator accepts it: {seen}");
    assert_eq!(seen["From"], "+4915112345678");
    assert_eq!(seen["To"], "+4930555000");
    assert_eq!(seen["Body"], "Hello app");
    assert!(
        seen["MessageSid"].as_str().unwrap().starts_with("SM"),
        "{seen}"
    );
    // The TwiML answer goes back to the phone, from the number it texted.
    let m = message_to(&t, "+4915112345678", "Got 'Hello app' & thanks").await;
    assert_eq!(m["from"], "+4930555000", "{m}");
    t.gw.shutdown().await;
}
