//! `type = "http"` connectors delivering through real providers, receipts included:
//! - `twilio` against a second smsgate's Twilio-compatible API (its signed StatusCallbacks
//!   checked with `callback_token`);
//! - `kannel` against Debian's Kannel 1.4.5 (bearerbox + smsbox with an SMPP link to
//!   `smsgate sim smsc`), its `dlr-url` calls as receipts;
//! - `generic` against the second smsgate's REST API (`POST /v1/messages` with a JSON
//!   template, its `message.status` callbacks as receipts).
//!
//! Run with `SMSGATE_INTEROP=1` (the Kannel one needs Kannel installed).

use serde_json::{Value, json};
use sha2::Digest;
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop;

use crate::kannel::{Procs, free_port, start_kannel};

/// The provider: a plain smsgate whose callbacks may reach loopback.
async fn provider() -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    config.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
    TestGateway::start_with(config, dir).await
}

/// Our gateway on a known port (the provider must be told where receipts go), with one
/// `http` connector `up` of `settings`.
async fn gateway_with(port: u16, settings: Value) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({}));
    config.http.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let mut c = json!({"name": "up", "type": "http"});
    for (k, v) in settings.as_object().unwrap() {
        c[k] = v.clone();
    }
    config.connectors = vec![serde_json::from_value(c).unwrap()];
    TestGateway::start_with(config, dir).await
}

async fn send(t: &TestGateway, text: &str) -> String {
    let (status, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "from": "12345", "text": text})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// The provider's message with `text`.
async fn provider_message(p: &TestGateway, text: &str) -> Value {
    let (_, page) = p.call("GET", "/v1/messages?limit=100", None).await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == text)
        .cloned()
        .unwrap_or_else(|| panic!("the provider has no '{text}': {page}"))
}

async fn provider_key(p: &TestGateway) -> (String, String) {
    let (status, key) = p
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "upstream", "tenant": "carrier",
                "scopes": ["messages:send", "messages:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    (
        key["account_sid"].as_str().unwrap().to_owned(),
        key["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twilio_preset_delivers_through_a_twilio_compatible_api_with_signed_receipts() {
    if !interop::enabled("the_twilio_preset_delivers_through_a_twilio_compatible_api") {
        return;
    }
    let p = provider().await;
    let (sid, secret) = provider_key(&p).await;
    let port = free_port();
    let token = hex::encode(sha2::Sha256::digest(secret.as_bytes()));
    let t = gateway_with(
        port,
        json!({"preset": "twilio", "url": format!("http://{}", p.gw.addr),
            "account_sid": sid, "auth_token": secret, "callback_token": token,
            "dlr_base": format!("http://127.0.0.1:{port}"), "max_tps": 50}),
    )
    .await;
    let id = send(&t, "through twilio").await;
    let m = t.wait_status(&id, "delivered").await;
    assert_eq!(m["connector"], "up", "{m}");
    let theirs = provider_message(&p, "through twilio").await;
    assert_eq!(theirs["to"], "+4915112345678");
    assert_eq!(theirs["status"], "delivered");
    // A forged report (no valid signature) is refused and changes nothing.
    let r = t
        .http
        .post(format!("{}/v1/upstreams/up/dlr", t.base))
        .form(&[("MessageSid", "SM00"), ("MessageStatus", "undelivered")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // The credentials are not shown.
    let (_, connectors) = t.call("GET", "/v1/connectors", None).await;
    assert!(!connectors.to_string().contains(&secret), "{connectors}");
    t.gw.shutdown().await;
    p.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generic_preset_delivers_through_a_json_api_with_callbacks_as_receipts() {
    if !interop::enabled("the_generic_preset_delivers_through_a_json_api") {
        return;
    }
    let p = provider().await;
    let (_, secret) = provider_key(&p).await;
    let port = free_port();
    let t = gateway_with(
        port,
        json!({"preset": "generic", "url": format!("http://{}/v1/messages", p.gw.addr),
            "headers": {"Authorization": format!("Bearer {secret}")},
            "body": r#"{"to": {{to|tojson}}, "text": {{text|tojson}}, "callback_url": {{dlr_url|tojson}}}"#,
            "id_pointer": "/id", "dlr_id": "data.id", "dlr_status": "data.status",
            "dlr_base": format!("http://127.0.0.1:{port}"), "dlr_token": "s3cret-token"}),
    )
    .await;
    let id = send(&t, "through \"generic\" JSON").await;
    t.wait_status(&id, "delivered").await;
    let theirs = provider_message(&p, "through \"generic\" JSON").await;
    assert_eq!(theirs["status"], "delivered");
    // A report without the token is refused.
    let r = t
        .http
        .post(format!("{}/v1/upstreams/up/dlr", t.base))
        .header("content-type", "application/json")
        .body(json!({"data": {"id": theirs["id"], "status": "failed"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // A refusal by the provider is permanent and named: the number opted out there.
    let (status, v) = p
        .call(
            "POST",
            "/v1/optouts",
            Some(json!({"number": "+4915112345679", "tenant": "carrier"})),
        )
        .await;
    assert!(status == 201 || status == 200, "{status} {v}");
    let (status, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345679", "text": "refused there"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let m = t.wait_status(v["id"].as_str().unwrap(), "failed").await;
    assert_eq!(m["error_code"], "http_422", "{m}");
    assert!(
        m["error_message"].as_str().unwrap().contains("opted_out"),
        "the provider's reason is kept: {m}"
    );
    t.gw.shutdown().await;
    p.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kannel_preset_delivers_through_debians_kannel_with_dlr_url_receipts() {
    if !interop::enabled("the_kannel_preset_delivers_through_debians_kannel") {
        return;
    }
    let kdir = tempfile::tempdir().unwrap();
    let mut procs = Procs(Vec::new());
    let sendsms = start_kannel(kdir.path(), &mut procs).await;
    let port = free_port();
    let t = gateway_with(
        port,
        json!({"preset": "kannel", "url": format!("http://127.0.0.1:{sendsms}"),
            "username": "tester", "password": "foobar", "from": "12345",
            "dlr_base": format!("http://127.0.0.1:{port}"), "dlr_token": "kannel-token"}),
    )
    .await;
    let id = send(&t, "through Kannel").await;
    let m = t.wait_status(&id, "delivered").await;
    assert_eq!(m["connector"], "up", "{m}");
    drop(procs);
    t.gw.shutdown().await;
}
