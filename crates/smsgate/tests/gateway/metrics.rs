//! `GET /metrics` on a running gateway: what it counts after a delivered message, that it needs
//! no API key, and (with `SMSGATE_INTEROP=1`) that the official Prometheus Python client's
//! parser reads the exposition without error.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use smsgate_testkit::TestGateway;

async fn scrape(t: &TestGateway) -> (u16, String, String) {
    let r = t
        .http
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

/// The value of the sample whose name-and-labels part is exactly `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_messages_and_connectors_without_a_key() {
    let t = TestGateway::start(json!({"delivery_delay": "20ms"})).await;
    let id = t
        .send(json!({"to": "+4915112345678", "text": "metrics"}))
        .await;
    t.wait_status(&id, "delivered").await;

    let (status, ctype, text) = scrape(&t).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert_eq!(
        value(&text, "smsgate_messages{status=\"delivered\"}"),
        Some(1.0),
        "{text}"
    );
    let sim = "{connector=\"sim\",kind=\"simulator\"}";
    assert_eq!(
        value(&text, &format!("smsgate_connector_up{sim}")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &format!("smsgate_connector_submitted_total{sim}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("smsgate_connector_receipts_total{sim}")),
        Some(1.0)
    );
    assert_eq!(value(&text, "smsgate_store_up"), Some(1.0));
    assert!(text.contains("# TYPE smsgate_connector_submitted_total counter"));
    // Counts only: no message content or numbers leak to an unauthenticated scraper.
    assert!(!text.contains("4915112345678") && !text.contains("metrics\""));

    if std::env::var("SMSGATE_INTEROP").as_deref() != Ok("1") {
        let _ = writeln!(
            std::io::stderr(),
            "prometheus_client parse: skipped: set SMSGATE_INTEROP=1 (needs `pip install -r interop/requirements.txt`)"
        );
        return;
    }
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys\n\
             from prometheus_client.parser import text_string_to_metric_families\n\
             fams = list(text_string_to_metric_families(sys.stdin.read()))\n\
             samples = {s.name + str(sorted(s.labels.items())): s.value for f in fams for s in f.samples}\n\
             print(len(fams), samples[\"smsgate_connector_submitted_total[('connector', 'sim'), ('kind', 'simulator')]\"])",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 not found");
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut it = stdout.split_whitespace();
    let families: usize = it.next().unwrap().parse().unwrap();
    assert!(families >= 10, "{stdout}");
    let submitted: f64 = it.next().unwrap().parse().unwrap();
    assert_eq!(submitted, 1.0, "{stdout}");
}
