//! Several nodes on one PostgreSQL store, with real processes (issue 14): three `serve`
//! processes share one database and one `smsgate sim smsc`; traffic goes to all three, and
//! one node at a time is killed with SIGKILL at a random moment (seeded, printed) and started
//! again. At the end every message that got a 202 is delivered, at the SMSC at least once, and
//! each extra copy is covered by an `ambiguous` event of a submit a dead node left in flight
//! (taken over by another node after `[cluster] node_timeout`); `GET /v1/nodes` shows three
//! live nodes, one leader, and the takeovers.
//!
//! PostgreSQL only: skipped (saying so) without `SMSGATE_TEST_POSTGRES`. The short version
//! runs in `cargo test`; the long one is `SMSGATE_CLUSTER_KILLS=12 SMSGATE_CRASH_MESSAGES=300
//! cargo test -p smsgate --test gateway cluster:: -- --ignored --nocapture`
//! (docs/crash-safety.md).

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use smsgate_testkit::process::{GatewayProcess, SmscProcess};

use crate::crash::{
    Rng, Sent, env_or, get, produce, seed, smsc_copies, wait_all_final, write_config,
};

const NODES: usize = 3;

/// Counts of one run, printed at the end (whole, with `{:?}`).
#[derive(Debug, Default)]
#[allow(dead_code)]
struct Report {
    seed: u64,
    kills: u64,
    accepted: usize,
    unanswered: usize,
    smsc_submits: u64,
    duplicates: usize,
    extra_copies: u64,
    ambiguous_events: u64,
    takeovers: u64,
}

async fn run(kills: u64, per_life: u64) -> Option<Report> {
    let Some(server) = smsgate_testkit::backend::postgres_server() else {
        eprintln!("cluster crash test: skipped (set SMSGATE_TEST_POSTGRES to a server URL)");
        return None;
    };
    let seed = seed();
    println!(
        "cluster crash test: seed {seed} (repeat with SMSGATE_CRASH_SEED={seed}), {NODES} nodes, \
         {kills} kills, {per_life} messages per node and life"
    );
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let sep = if server.contains('?') { '&' } else { '?' };
    let store_url = format!("{server}{sep}schema=cluster_{}", seed % 1_000_000_007);
    let smsc = SmscProcess::start(
        crate::SMSGATE,
        &[
            "--receipt-delay",
            "100ms",
            "--submit-latency",
            "20ms",
            "--seed",
            &seed.to_string(),
        ],
    );
    let config = write_config(dir.path(), &store_url, smsc.smpp, 100);
    let first = GatewayProcess::start(crate::SMSGATE, &config);
    let key = first
        .key
        .clone()
        .expect("the first node writes the admin key");
    let mut nodes: Vec<Option<GatewayProcess>> = vec![Some(first)];
    for _ in 1..NODES {
        nodes.push(Some(GatewayProcess::start(crate::SMSGATE, &config)));
    }

    let mut sent = Sent::default();
    let mut tag = 0u64;
    for kill in 0..kills {
        let victim = (kill as usize) % NODES;
        let producers: Vec<_> = nodes
            .iter()
            .map(|n| {
                let base = n.as_ref().unwrap().base.clone();
                let p = tokio::spawn(produce(base, key.clone(), tag, per_life, rng.next()));
                tag += per_life;
                p
            })
            .collect();
        // While the victim's share is still leaving (100 msg/s per node), after its bind.
        let after = rng.range(400, per_life * 1000 / 100 + 200);
        let gw = nodes[victim].take().unwrap();
        tokio::time::sleep(Duration::from_millis(after)).await;
        gw.kill();
        for p in producers {
            let got = p.await.unwrap();
            sent.accepted.extend(got.accepted);
            sent.unanswered.extend(got.unanswered);
        }
        println!(
            "  kill {}: node {} SIGKILLed {after} ms into the round; {} accepted so far, {} \
             unanswered",
            kill + 1,
            victim + 1,
            sent.accepted.len(),
            sent.unanswered.len()
        );
        nodes[victim] = Some(GatewayProcess::start(crate::SMSGATE, &config));
    }
    let bases: Vec<String> = nodes
        .iter()
        .map(|n| n.as_ref().unwrap().base.clone())
        .collect();
    let deadline = Duration::from_secs(90 + sent.accepted.len() as u64 / 50);
    wait_all_final(&bases[0], &key, deadline).await;

    let c = reqwest::Client::new();
    // The killed nodes' last beats age out within node_timeout.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let view = loop {
        let view = get(&c, format!("{}/v1/nodes", bases[1]), Some(&key)).await;
        let live = view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["live"] == true)
            .count();
        if live == NODES {
            break view;
        }
        assert!(
            std::time::Instant::now() < until,
            "three live nodes: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let listed = view["nodes"].as_array().unwrap();
    let live: Vec<&Value> = listed.iter().filter(|n| n["live"] == true).collect();
    // The carrier sees max_tps = 100 in total: a third per node (within a beat of the last
    // change in live nodes).
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let connectors = get(&c, format!("{}/v1/connectors", bases[2]), Some(&key)).await;
        let tps = connectors[0]["details"]["node_tps"].as_f64().unwrap();
        if (tps - 100.0 / 3.0).abs() < 0.01 {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "each of three nodes paces at a third of max_tps: {connectors}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leaders = live
        .iter()
        .filter(|n| {
            n["leases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "leader")
        })
        .count();
    assert_eq!(leaders, 1, "exactly one live leader: {view}");
    let takeovers: u64 = listed
        .iter()
        .map(|n| n["takeovers"].as_u64().unwrap())
        .sum();

    let copies = smsc_copies(&smsc.http).await;
    let stats = get(&c, format!("{}/stats", smsc.http), None).await;
    let mut report = Report {
        seed,
        kills,
        accepted: sent.accepted.len(),
        unanswered: sent.unanswered.len(),
        smsc_submits: stats["submits"].as_u64().unwrap(),
        takeovers,
        ..Report::default()
    };
    // Read each message through a different node than the one that took it.
    let views: Vec<(u64, Value)> = futures::stream::iter(sent.accepted.iter().enumerate())
        .map(|(i, (t, id))| {
            let url = format!("{}/v1/messages/{id}", bases[i % NODES]);
            let (c, key) = (c.clone(), &key);
            async move { (*t, get(&c, url, Some(key)).await) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (t, m) in &views {
        let id = m["id"].as_str().unwrap();
        let events = m["events"].as_array().unwrap();
        let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count() as u64;
        assert_eq!(m["status"], "delivered", "crash-{t} is not delivered: {m}");
        let n = u64::from(*copies.get(t).unwrap_or(&0));
        assert!(n >= 1, "crash-{t} never reached the SMSC: {m}");
        assert_eq!(
            count("sent"),
            1,
            "{id} recorded as sent more than once: {m}"
        );
        let ambiguous = count("ambiguous");
        report.ambiguous_events += ambiguous;
        if n > 1 {
            report.duplicates += 1;
            report.extra_copies += n - 1;
            assert!(
                n - 1 <= ambiguous,
                "crash-{t} is at the SMSC {n} times but only {ambiguous} of its submits were \
                 cut by a dead node: {m}"
            );
        }
    }
    for t in copies.keys() {
        assert!(
            sent.accepted.contains_key(t) || sent.unanswered.contains(t),
            "the SMSC has crash-{t}, which the test never had accepted"
        );
    }
    let total_copies: u64 = copies.values().map(|&n| u64::from(n)).sum();
    assert_eq!(
        total_copies, report.smsc_submits,
        "every SMSC submit is a tagged message"
    );
    assert!(
        report.ambiguous_events <= report.takeovers,
        "every ambiguous event comes from a takeover: {report:?}"
    );
    for n in nodes.into_iter().flatten() {
        assert!(n.stop(), "graceful stop at the end exits 0");
    }
    smsc.stop();
    println!("cluster crash test: {report:?}");
    Some(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_postgres_lose_nothing_when_one_is_killed_under_load() {
    if let Some(r) = run(2, 100).await {
        assert!(r.accepted > 0, "{r:?}");
    }
}

/// The long version: `SMSGATE_CLUSTER_KILLS` kills (default 12) of `SMSGATE_CRASH_MESSAGES`
/// messages per node and life (default 300).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with --ignored (docs/crash-safety.md)"]
async fn many_kills_across_three_nodes_lose_nothing() {
    let kills = env_or("SMSGATE_CLUSTER_KILLS", 12);
    let per_life = env_or("SMSGATE_CRASH_MESSAGES", 300);
    run(kills, per_life).await;
}
