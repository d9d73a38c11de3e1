//! Crash safety through SMPP, with real processes (issue 6 item 4).
//!
//! `smsgate sim smsc` runs as its own process and outlives everything; the gateway, with one
//! `smpp` connector bound to it, takes traffic through `POST /v1/messages/batch` and is killed
//! with SIGKILL at random moments (seeded, the seed is printed), then restarted on the same
//! store. At the end every message that got a 202 must have reached a final status, every one
//! must be at the SMSC, and the only duplicates the SMSC may hold are submits whose outcome the
//! gateway never recorded because it died: each extra copy needs an `ambiguous` event (written
//! at start-up for every submit that was in flight at the crash) in the message's timeline.
//!
//! The SMSC identifies a gateway message by its text (`crash-<n>`, a tag the test keeps next to
//! the id from the 202), read back through the simulator's `GET /messages`.
//!
//! The short version runs in `cargo test`; the long one is
//! `SMSGATE_CRASH_ROUNDS=25 SMSGATE_CRASH_MESSAGES=400 cargo test -p smsgate --test gateway
//! crash:: -- --ignored --nocapture` (see docs/crash-safety.md). `SMSGATE_CRASH_SEED` repeats a run.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use smsgate_testkit::process::{GatewayProcess, SmscProcess};

/// xorshift64*: small, seedable, good enough to pick kill moments and batch sizes.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

pub(crate) fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) fn seed() -> u64 {
    std::env::var("SMSGATE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// The connector's `max_tps`: slow enough that kills find messages queued and in flight.
const MAX_TPS: u64 = 150;

/// `smsgate.toml` in `dir`: the store at `store_url`, one `smpp` connector to `smsc` paced at
/// `max_tps`, quick retries and a 2 s `node_timeout` (the cluster test uses it too).
pub(crate) fn write_config(
    dir: &Path,
    store_url: &str,
    smsc: std::net::SocketAddr,
    max_tps: u64,
) -> std::path::PathBuf {
    let p = dir.join("smsgate.toml");
    let toml = format!(
        r#"
[http]
listen = "127.0.0.1:0"
[store]
url = "{store_url}"
[cluster]
node_timeout = "2s"
[dispatcher]
retry_base = "100ms"
retry_cap = "500ms"
max_attempts = 50
[[connectors]]
name = "carrier"
type = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "gw"
password = "pw"
window = 8
max_tps = {max_tps}
reconnect_initial = "50ms"
reconnect_max = "200ms"
"#,
        port = smsc.port(),
    );
    std::fs::write(&p, toml).unwrap();
    p
}

pub(crate) async fn get(c: &reqwest::Client, url: String, key: Option<&str>) -> Value {
    let mut req = c.get(&url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(res.status().is_success(), "GET {url}: {}", res.status());
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

/// What the client knows after one life of the gateway.
#[derive(Default)]
pub(crate) struct Sent {
    /// Tag number → message id, for every message answered 202.
    pub(crate) accepted: HashMap<u64, String>,
    /// Tags of requests that got no answer (the gateway died under them): maybe stored.
    pub(crate) unanswered: Vec<u64>,
}

/// Posts `count` messages as batches of random size with random pauses, until done or the
/// gateway stops answering.
pub(crate) async fn produce(
    base: String,
    key: String,
    first_tag: u64,
    count: u64,
    seed: u64,
) -> Sent {
    let c = reqwest::Client::new();
    let mut rng = Rng::new(seed);
    let mut sent = Sent::default();
    let mut tag = first_tag;
    let end = first_tag + count;
    while tag < end {
        let n = rng.range(1, 25).min(end - tag);
        let tags: Vec<u64> = (tag..tag + n).collect();
        let messages: Vec<Value> = tags
            .iter()
            .map(|t| json!({"to": format!("+4915112{:06}", t % 1_000_000), "text": format!("crash-{t}")}))
            .collect();
        let res = c
            .post(format!("{base}/v1/messages/batch"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(json!({ "messages": messages }).to_string())
            .send()
            .await;
        let body = match res {
            Ok(r) if r.status() == 429 => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Ok(r) if r.status() == 202 => match r.text().await {
                Ok(b) => b,
                Err(_) => {
                    sent.unanswered.extend(tags);
                    return sent;
                }
            },
            Ok(r) => panic!("batch answered {}", r.status()),
            Err(_) => {
                sent.unanswered.extend(tags);
                return sent;
            }
        };
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["rejected"], 0, "{v}");
        for (t, m) in tags.iter().zip(v["messages"].as_array().unwrap()) {
            sent.accepted
                .insert(*t, m["id"].as_str().unwrap().to_owned());
        }
        tag += n;
        tokio::time::sleep(Duration::from_millis(rng.range(0, 40))).await;
    }
    sent
}

/// Polls the gateway until no message is waiting or in the network.
pub(crate) async fn wait_all_final(base: &str, key: &str, deadline: Duration) -> Value {
    let c = reqwest::Client::new();
    let until = Instant::now() + deadline;
    loop {
        let stats = get(&c, format!("{base}/v1/stats"), Some(key)).await;
        let open: u64 = stats["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| ["queued", "sending", "sent"].contains(&p[0].as_str().unwrap()))
            .map(|p| p[1].as_u64().unwrap())
            .sum();
        if open == 0 {
            return stats;
        }
        assert!(Instant::now() < until, "messages still open: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The SMSC's copies per tag, read from its control API.
pub(crate) async fn smsc_copies(http: &str) -> HashMap<u64, u32> {
    let c = reqwest::Client::new();
    let all = get(&c, format!("{http}/messages?limit=10000000"), None).await;
    let mut copies = HashMap::new();
    for m in all["data"].as_array().unwrap() {
        let hex = m["short_message_hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        // GSM 03.38 unpacked: letters, digits and '-' are their ASCII values.
        let text = String::from_utf8_lossy(&bytes);
        let tag = text
            .strip_prefix("crash-")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("an SMSC message the test did not send: {text:?}"));
        *copies.entry(tag).or_default() += 1;
    }
    copies
}

/// Counts of one run, printed at the end.
#[derive(Debug, Default)]
struct Report {
    seed: u64,
    kills: u64,
    accepted: usize,
    unanswered: usize,
    delivered: usize,
    smsc_submits: u64,
    duplicates: usize,
    extra_copies: u64,
    ambiguous_events: u64,
}

async fn run(kills: u64, per_life: u64) -> Report {
    let seed = seed();
    println!(
        "crash test: seed {seed} (repeat with SMSGATE_CRASH_SEED={seed}), {kills} kills, {per_life} messages per life"
    );
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
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
    let store_url = smsgate_testkit::backend::url(dir.path(), "smsgate.db");
    let config = write_config(dir.path(), &store_url, smsc.smpp, MAX_TPS);

    let mut key = None;
    let mut sent = Sent::default();
    let mut tag = 0u64;
    for life in 0..kills {
        let gw = GatewayProcess::start(crate::SMSGATE, &config);
        if life == 0 {
            key = gw.key.clone();
        }
        let key = key.clone().expect("the first start prints the admin key");
        let producer = tokio::spawn(produce(gw.base.clone(), key, tag, per_life, rng.next()));
        // Somewhere between "still posting" and "queue drained, receipts in flight": this
        // life's messages take `per_life / MAX_TPS` seconds to leave, receipts 100 ms more.
        let after = rng.range(100, per_life * 1000 / MAX_TPS + 300);
        tokio::time::sleep_until((gw.ready_at + Duration::from_millis(after)).into()).await;
        gw.kill();
        let got = producer.await.unwrap();
        println!(
            "  life {}: SIGKILL {after} ms after start; {} accepted, {} unanswered",
            life + 1,
            got.accepted.len(),
            got.unanswered.len()
        );
        tag += per_life;
        sent.accepted.extend(got.accepted);
        sent.unanswered.extend(got.unanswered);
    }

    // The last life: some more traffic, then everything must settle.
    let gw = GatewayProcess::start(crate::SMSGATE, &config);
    let key = key.expect("admin key");
    let got = produce(gw.base.clone(), key.clone(), tag, per_life, rng.next()).await;
    assert!(
        got.unanswered.is_empty(),
        "a live gateway left requests unanswered"
    );
    sent.accepted.extend(got.accepted);
    let deadline = Duration::from_secs(60 + sent.accepted.len() as u64 / 50);
    wait_all_final(&gw.base, &key, deadline).await;

    let copies = smsc_copies(&smsc.http).await;
    let c = reqwest::Client::new();
    let stats = get(&c, format!("{}/stats", smsc.http), None).await;
    let mut report = Report {
        seed,
        kills,
        accepted: sent.accepted.len(),
        unanswered: sent.unanswered.len(),
        smsc_submits: stats["submits"].as_u64().unwrap(),
        ..Report::default()
    };
    let views: Vec<(u64, Value)> = futures::stream::iter(sent.accepted.iter())
        .map(|(t, id)| {
            let (c, url, key) = (c.clone(), format!("{}/v1/messages/{id}", gw.base), &key);
            async move { (*t, get(&c, url, Some(key)).await) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (t, m) in &views {
        let id = m["id"].as_str().unwrap();
        let events = m["events"].as_array().unwrap();
        let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count() as u64;
        assert_eq!(
            m["status"], "delivered",
            "message {id} (crash-{t}) is not delivered: {m}"
        );
        report.delivered += 1;
        let n = u64::from(*copies.get(t).unwrap_or(&0));
        assert!(
            n >= 1,
            "message {id} (crash-{t}) never reached the SMSC: {m}"
        );
        assert_eq!(
            count("sent"),
            1,
            "message {id} recorded as sent more than once: {m}"
        );
        let ambiguous = count("ambiguous");
        report.ambiguous_events += ambiguous;
        if n > 1 {
            report.duplicates += 1;
            report.extra_copies += n - 1;
            assert!(
                n - 1 <= ambiguous,
                "message {id} (crash-{t}) is at the SMSC {n} times but only {ambiguous} of its \
                 submits were cut by a crash: {m}"
            );
        }
    }
    // Copies at the SMSC that belong to no accepted message must be ones the client never got
    // an answer for (stored just before a crash, or not at all).
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
    assert!(gw.stop(), "graceful stop at the end exits 0");
    smsc.stop();
    println!(
        "crash test (seed {}): {} kills, {} accepted, {} delivered, {} unanswered at a kill, \
         {} SMSC submits, {} duplicated messages ({} extra copies), {} ambiguous submits \
         recovered",
        report.seed,
        report.kills,
        report.accepted,
        report.delivered,
        report.unanswered,
        report.smsc_submits,
        report.duplicates,
        report.extra_copies,
        report.ambiguous_events
    );
    report
}

async fn sigkill_at_random_moments_loses_nothing_through_smpp_and_duplicates_only_cut_submits() {
    let r = run(3, 75).await;
    assert_eq!(r.delivered, r.accepted);
}

/// The long version: `SMSGATE_CRASH_ROUNDS` kills (default 25) of `SMSGATE_CRASH_MESSAGES`
/// messages per life (default 400); ignored unless asked for (docs/crash-safety.md).
async fn many_sigkills_under_load_lose_nothing_through_smpp() {
    let kills = env_or("SMSGATE_CRASH_ROUNDS", 25);
    let per_life = env_or("SMSGATE_CRASH_MESSAGES", 400);
    let r = run(kills, per_life).await;
    assert_eq!(r.delivered, r.accepted);
}

smsgate_testkit::both_backends!(
    multi_thread: sigkill_at_random_moments_loses_nothing_through_smpp_and_duplicates_only_cut_submits,
);

smsgate_testkit::both_backends!(
    ignored multi_thread: many_sigkills_under_load_lose_nothing_through_smpp,
);
