//! Durability across restarts, with the real binary: a graceful stop (SIGTERM) mid-queue and
//! a crash (SIGKILL) mid-queue. The simulated network keeps a journal of every submit it
//! accepted, so the tests can count what "the network" got.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smsgate_testkit::http::Api;
use smsgate_testkit::process::GatewayProcess;

/// A request that must succeed; returns the JSON answer.
async fn call(base: &str, key: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let api = Api::new(base.to_owned(), key.to_owned());
    let (status, v) = api.call(method, path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("smsgate.toml");
    let toml = format!(
        r#"
[http]
listen = "127.0.0.1:0"
[store]
url = "{}"
[cluster]
node_timeout = "2s"
[dispatcher]
retry_base = "100ms"
retry_cap = "500ms"
[[connectors]]
name = "sim"
type = "simulator"
delivery_delay = "100ms"
submit_latency = "15ms"
capacity = 4
journal = "{}/network.journal"
"#,
        smsgate_testkit::backend::url(dir, "smsgate.db"),
        dir.display()
    );
    std::fs::write(&p, toml).unwrap();
    p
}

async fn enqueue(base: &str, key: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in 0..n.div_ceil(100) {
        let messages: Vec<Value> = (0..100.min(n - chunk * 100))
            .map(|i| json!({"to": format!("+4915112{:06}", chunk * 100 + i), "text": format!("reading {i}")}))
            .collect();
        let r = call(
            base,
            key,
            "POST",
            "/v1/messages/batch",
            Some(json!({"messages": messages})),
        )
        .await;
        assert_eq!(r["rejected"], 0, "{r}");
        ids.extend(
            r["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
    }
    ids
}

async fn wait_all_final(base: &str, key: &str, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = call(base, key, "GET", "/v1/stats", None).await;
        let final_count: u64 = stats["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                ["delivered", "undelivered", "failed", "expired", "canceled"]
                    .contains(&p[0].as_str().unwrap())
            })
            .map(|p| p[1].as_u64().unwrap())
            .sum();
        if final_count == n {
            return stats;
        }
        assert!(Instant::now() < deadline, "not all final: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn journal_counts(dir: &Path) -> std::collections::HashMap<String, u32> {
    smsgate_connectors::simnet::journal_submits(&dir.join("network.journal")).unwrap()
}

async fn delivered_count(base: &str, key: &str) -> u64 {
    let stats = call(base, key, "GET", "/v1/stats", None).await;
    stats["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == "delivered")
        .map_or(0, |p| p[1].as_u64().unwrap())
}

async fn a_graceful_restart_mid_queue_sends_every_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let gw = GatewayProcess::start(crate::SMSGATE, &config);
    let key = gw.key.clone().expect("first start prints a key");
    let ids = enqueue(&gw.base, &key, 300).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gw.stop(), "a graceful stop exits 0");
    let sent_before = journal_counts(dir.path()).len();
    assert!(
        sent_before > 0 && sent_before < 300,
        "stopped mid-queue: {sent_before} sent"
    );

    let gw = GatewayProcess::start(crate::SMSGATE, &config);
    assert!(
        gw.key.is_none(),
        "the admin key is printed only on first start"
    );
    wait_all_final(&gw.base, &key, 300).await;
    assert_eq!(delivered_count(&gw.base, &key).await, 300);
    gw.stop();

    let counts = journal_counts(dir.path());
    for id in &ids {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "message {id} reached the network {:?} times",
            counts.get(id)
        );
    }
    println!(
        "graceful restart: {sent_before} sent before the stop, 300/300 delivered, 0 duplicates"
    );
}

async fn a_crash_mid_queue_loses_nothing_and_duplicates_only_ambiguous_submits() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let gw = GatewayProcess::start(crate::SMSGATE, &config);
    let key = gw.key.clone().unwrap();
    let ids = enqueue(&gw.base, &key, 300).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.kill();
    let sent_before = journal_counts(dir.path()).len();

    let gw = GatewayProcess::start(crate::SMSGATE, &config);
    wait_all_final(&gw.base, &key, 300).await;
    assert_eq!(
        delivered_count(&gw.base, &key).await,
        300,
        "every accepted message delivered"
    );
    let mut duplicates = 0;
    let counts = journal_counts(dir.path());
    for id in &ids {
        let n = *counts.get(id).unwrap_or(&0);
        assert!(n >= 1, "message {id} never reached the network");
        if n > 1 {
            duplicates += 1;
            let m = call(&gw.base, &key, "GET", &format!("/v1/messages/{id}"), None).await;
            let ambiguous = m["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"] == "ambiguous");
            assert!(
                ambiguous,
                "duplicate {id} was not in flight at the crash: {m}"
            );
        }
    }
    // Duplicates are submits whose result the kill cut off: at most the connector's capacity
    // (4) in flight, plus results already back but still in the recorder's uncommitted group
    // (a few more on a loaded machine). A regression that resent settled messages would show
    // hundreds here, and each duplicate must carry its `ambiguous` event (checked above).
    assert!(duplicates <= 16, "{duplicates} duplicates");
    gw.stop();
    println!(
        "crash: {sent_before} sent before SIGKILL, 300/300 delivered, {duplicates} ambiguous duplicates"
    );
}

/// SQLite serves one node: a second gateway on the same data directory refuses to start
/// (instead of taking the first one's in-flight messages for crashed work), and starts once
/// the first has stopped.
#[tokio::test]
async fn a_second_gateway_on_the_same_sqlite_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = || smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    let first = smsgate::gateway::Gateway::start(config()).await.unwrap();
    let err = match smsgate::gateway::Gateway::start(config()).await {
        Ok(_) => panic!("a second gateway started on the same SQLite store"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    first.shutdown().await;
    let again = smsgate::gateway::Gateway::start(config()).await.unwrap();
    again.shutdown().await;
}

smsgate_testkit::both_backends!(
    multi_thread:
    a_graceful_restart_mid_queue_sends_every_message_exactly_once,
    a_crash_mid_queue_loses_nothing_and_duplicates_only_ambiguous_submits,
);
