//! `retry_undelivered` on a route, through a real gateway loaded from TOML: two simulated
//! networks, one that reports every message undelivered (error `001`) and one that delivers.
//! An undelivered receipt from the first sends the message again through the second; the
//! timeline stays honest (`sent`, `receipt_retry`, `resent`, `delivered`, never backwards).
//! Codes the route does not list, and a route with no connector left, end `undelivered`.

use serde_json::Value;
use smsgate::config::Config;
use smsgate_testkit::TestGateway;

/// A gateway from `routes` (TOML) over the connectors `lossy` (every receipt undelivered),
/// `lossy2` (the same) and `good`.
async fn gateway(routes: &str) -> anyhow::Result<TestGateway> {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
[http]
listen = "127.0.0.1:0"
[store]
url = "{}"
[dispatcher]
retry_base = "100ms"
retry_cap = "400ms"
[[connectors]]
name = "lossy"
type = "simulator"
delivery_delay = "50ms"
failure_rate = 1.0
[[connectors]]
name = "lossy2"
type = "simulator"
delivery_delay = "50ms"
failure_rate = 1.0
[[connectors]]
name = "good"
type = "simulator"
delivery_delay = "50ms"
{routes}
"#,
        smsgate_testkit::backend::url(dir.path(), "smsgate.db")
    );
    let path = dir.path().join("smsgate.toml");
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(Some(&path))?;
    let gw = smsgate::gateway::Gateway::start(config).await?;
    let key = gw.first_admin_key.clone().unwrap();
    Ok(TestGateway::new(gw, key, dir))
}

fn kinds(m: &Value) -> Vec<String> {
    m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that the statuses of the timeline never go backwards.
fn never_backwards(m: &Value) {
    let rank = |s: &str| match s {
        "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        _ => 3,
    };
    let statuses: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "statuses go backwards: {statuses:?}"
    );
}

async fn an_undelivered_receipt_is_retried_on_the_routes_next_connector() {
    let t = gateway(
        r#"
[[routes]]
prefix = "+49"
connectors = ["lossy", "good"]
retry_undelivered = true
retry_error_codes = ["1"]
"#,
    )
    .await
    .unwrap();
    let id = t
        .send(serde_json::json!({"to": "+4915112345678", "text": "valve 7 closed"}))
        .await;
    let m = t.wait_status(&id, "delivered").await;
    assert_eq!(m["connector"], "good");
    assert_eq!(
        kinds(&m),
        [
            "queued",
            "sending",
            "sent",
            "receipt_retry",
            "resent",
            "delivered"
        ]
    );
    let retry = &m["events"][3];
    assert_eq!(
        retry["status"], "sent",
        "the message stays sent while it is retried"
    );
    let detail = retry["detail"].as_str().unwrap();
    assert!(
        detail.contains("lossy") && detail.contains("001"),
        "{detail}"
    );
    never_backwards(&m);
    assert_eq!(m["attempts"], 2);

    let (_, routes) = t.call("GET", "/v1/routes", None).await;
    assert_eq!(routes["routes"][0]["retry_undelivered"], true, "{routes}");
    t.gw.shutdown().await;
}

async fn unlisted_codes_and_a_route_with_no_connector_left_end_undelivered() {
    let t = gateway(
        r#"
[[routes]]
prefix = "+49"
connectors = ["lossy", "good"]
retry_undelivered = true
retry_error_codes = ["34"]
[[routes]]
prefix = "+43"
connectors = ["lossy", "lossy2"]
retry_undelivered = true
[[routes]]
prefix = "+33"
connectors = ["lossy", "good"]
"#,
    )
    .await
    .unwrap();
    let unlisted = t
        .send(serde_json::json!({"to": "+4915112345678", "text": "x"}))
        .await;
    let m = t.wait_status(&unlisted, "undelivered").await;
    assert_eq!(m["connector"], "lossy");
    assert!(!kinds(&m).contains(&"receipt_retry".to_owned()), "{m}");

    let exhausted = t
        .send(serde_json::json!({"to": "+436641234567", "text": "x"}))
        .await;
    let m = t.wait_status(&exhausted, "undelivered").await;
    assert_eq!(m["connector"], "lossy2");
    assert_eq!(
        kinds(&m),
        [
            "queued",
            "sending",
            "sent",
            "receipt_retry",
            "resent",
            "undelivered"
        ]
    );
    never_backwards(&m);

    let off = t
        .send(serde_json::json!({"to": "+33612345678", "text": "x"}))
        .await;
    let m = t.wait_status(&off, "undelivered").await;
    assert_eq!(
        m["connector"], "lossy",
        "retry_undelivered is off by default"
    );
    t.gw.shutdown().await;
}

async fn retry_error_codes_without_retry_undelivered_are_refused_at_start() {
    let e = gateway(
        r#"
[[routes]]
prefix = "+49"
connectors = ["lossy", "good"]
retry_error_codes = ["1"]
"#,
    )
    .await
    .err()
    .expect("refused");
    let text = format!("{e:#}");
    assert!(
        text.contains("retry_error_codes") && text.contains("retry_undelivered"),
        "{text}"
    );
}

smsgate_testkit::both_backends!(retry_error_codes_without_retry_undelivered_are_refused_at_start,);

smsgate_testkit::both_backends!(
    multi_thread:
    an_undelivered_receipt_is_retried_on_the_routes_next_connector,
    unlisted_codes_and_a_route_with_no_connector_left_end_undelivered,
);
