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
