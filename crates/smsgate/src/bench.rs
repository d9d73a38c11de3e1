//! `smsgate bench`: an end-to-end load benchmark of a whole gateway in this process.
//!
//! It starts a gateway on a fresh SQLite store in a temporary directory, with either the
//! built-in simulated network or the SMSC simulator over real SMPP on 127.0.0.1, subscribes a
//! local webhook receiver to `message.status`, pushes N messages through the HTTP API (single
//! POSTs or batches) from C concurrent clients, and waits until every message has a final
//! status. The figures come from two places: accept latency is timed by the client around each
//! request; submit, receipt and delivery latencies come from the gateway's own event times in
//! the webhook payloads (`created_at` of the event minus `data.created_at` of the message), so
//! they measure the gateway, not the receiver.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::config::{Config, ConnectorConfig};
use crate::gateway::Gateway;

/// How the load generator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// One `POST /v1/messages` per message.
    Single,
    /// `POST /v1/messages/batch` with `--batch-size` messages each.
    Batch,
}

/// What carries the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Network {
    /// The built-in simulated network connector (no sockets).
    Sim,
    /// The SMSC simulator over SMPP on 127.0.0.1, through the `smpp` connector.
    Smpp,
}

/// Options of `smsgate bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Messages to send.
    #[arg(long, short = 'n', default_value_t = 20_000)]
    pub messages: u64,
    /// Single POSTs or batches.
    #[arg(long, value_enum, default_value_t = Mode::Batch)]
    pub mode: Mode,
    /// Messages per batch request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: u64,
    /// Concurrent HTTP clients.
    #[arg(long, short = 'c', default_value_t = 32)]
    pub concurrency: usize,
    /// What carries the messages.
    #[arg(long, value_enum, default_value_t = Network::Sim)]
    pub network: Network,
    /// SMPP: unacknowledged submits per session.
    #[arg(long, default_value_t = 100)]
    pub window: u32,
    /// SMPP: sessions of the connector.
    #[arg(long, default_value_t = 1)]
    pub sessions: u32,
    /// SMPP: time the SMSC takes to answer each `submit_sm` (its store plus the network
    /// round trip), which is what the window has to hide. Default 0 (loopback).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub submit_latency: Duration,
    /// Delay from submit to delivery receipt at the (simulated) network.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub receipt_delay: Duration,
    /// Pace the intake at this many messages per second (default: as fast as it goes), e.g.
    /// half the maximum to read the accept latency below saturation.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Do not subscribe a webhook receiver (latencies after accept are then not measured).
    #[arg(long)]
    pub no_webhooks: bool,
    /// Subscribe the receiver to the final statuses only (`delivered`, `undelivered`,
    /// `failed`, `expired`): one webhook per message, like Kannel's `dlr-mask` or Twilio's
    /// final-status callbacks, instead of one per status change.
    #[arg(long)]
    pub final_only: bool,
    /// Queue the messages for later (`send_at` one hour ahead) and report memory while the
    /// queue grows, instead of delivering them.
    #[arg(long)]
    pub hold: bool,
    /// Give up waiting for final statuses after this long without progress.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub stall_timeout: Duration,
    /// Keep the store here instead of a temporary directory that is removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The store: a PostgreSQL URL (`postgres://…`, an empty database or `?schema=` of its
    /// own) instead of SQLite in the data directory.
    #[arg(long)]
    pub store: Option<String>,
    /// Gateway nodes on that store (PostgreSQL only), each with its own connector, the load
    /// spread round-robin over their HTTP ports.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
}

/// What the webhook receiver saw: per status, (event time, message creation time) in Unix ms.
#[derive(Default)]
struct Seen {
    deliveries: AtomicU64,
    finals: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
    times: Mutex<HashMap<String, Vec<(i64, i64)>>>,
}

const FINAL: [&str; 5] = ["delivered", "undelivered", "failed", "expired", "canceled"];

async fn receive(State(seen): State<Arc<Seen>>, body: String) -> StatusCode {
    let now = Instant::now();
    seen.first.lock().unwrap().get_or_insert(now);
    *seen.last.lock().unwrap() = Some(now);
    seen.deliveries.fetch_add(1, Ordering::Relaxed);
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let status = v["data"]["status"].as_str().unwrap_or("").to_owned();
    let ms = |s: &Value| {
        s.as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
    };
    if let (Some(at), Some(created)) = (ms(&v["created_at"]), ms(&v["data"]["created_at"])) {
        seen.times
            .lock()
            .unwrap()
            .entry(status.clone())
            .or_default()
            .push((at, created));
    }
    if FINAL.contains(&status.as_str()) {
        seen.finals.fetch_add(1, Ordering::Relaxed);
    }
    StatusCode::OK
}

/// Peak and current resident memory of this process in MiB (Linux `/proc/self/status`).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn line(name: &str, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "{name:<22} p50 {:>8.1} ms   p90 {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms   (n={})",
        percentile(&ms, 50.0),
        percentile(&ms, 90.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(f64::NAN),
        ms.len()
    )
}

/// Rate of events from the spread of their gateway timestamps.
fn rate(times: &[(i64, i64)]) -> f64 {
    let (Some(min), Some(max)) = (
        times.iter().map(|t| t.0).min(),
        times.iter().map(|t| t.0).max(),
    ) else {
        return 0.0;
    };
    times.len() as f64 / ((max - min).max(1) as f64 / 1000.0)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>9} [{{bar:40}}] {{pos}}/{{len}} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}

/// Runs the benchmark and prints its report.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.messages == 0 || args.concurrency == 0 || args.batch_size == 0 {
        bail!("--messages, --concurrency and --batch-size must be at least 1");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of messages per second");
    }
    if args.batch_size > 1000 {
        bail!("--batch-size {} is above the API's 1,000", args.batch_size);
    }
    let on_postgres = args
        .store
        .as_deref()
        .is_some_and(|s| s.starts_with("postgres"));
    if args.nodes == 0 || (args.nodes > 1 && !on_postgres) {
        bail!("--nodes above 1 needs --store postgres://… (a SQLite store serves one node)");
    }
    let temp;
    let dir = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = TempDir::new()?;
            temp.0.clone()
        }
    };

    // The network.
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse()?;
    config.store.url = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/smsgate.db", dir.display()));
    let _smsc = match args.network {
        Network::Sim => {
            let settings = json!({"delivery_delay": humantime::format_duration(args.receipt_delay).to_string()});
            config.connectors = vec![connector("sim", "simulator", settings)];
            None
        }
        Network::Smpp => {
            let mut sim_config = smsgate_smpp::sim::SimConfig {
                receipt_delay: args.receipt_delay,
                submit_latency: args.submit_latency,
                ..Default::default()
            };
            // Receipts flow back as deliver_sm; a wide window keeps them from being the limit.
            sim_config.session.window = 100;
            let sim = smsgate_smpp::sim::Simulator::new(sim_config);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            let s = sim.clone();
            tokio::spawn(async move { s.run(listener, std::future::pending()).await });
            let settings = json!({
                "host": "127.0.0.1", "port": port, "system_id": "bench", "password": "bench",
                "window": args.window, "sessions": args.sessions,
            });
            config.connectors = vec![connector("smsc", "smpp", settings)];
            Some(sim)
        }
    };
    let gw = Gateway::start(config.clone()).await?;
    let key = gw.first_admin_key.clone().context(
        "the bench store already has keys; point --data-dir (or --store) at an empty one",
    )?;
    let mut others = Vec::new();
    for _ in 1..args.nodes {
        others.push(Gateway::start(config.clone()).await?);
    }
    let base = format!("http://{}", gw.addr);
    let bases: Arc<Vec<String>> = Arc::new(
        std::iter::once(&gw)
            .chain(&others)
            .map(|g| format!("http://{}", g.addr))
            .collect(),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    // The webhook receiver.
    let seen = Arc::new(Seen::default());
    if !args.no_webhooks && !args.hold {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(seen.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let r = http
            .post(format!("{base}/v1/webhooks"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(
                if args.final_only {
                    json!({"url": format!("http://{addr}/hook"), "events": ["message.status"],
                        "statuses": ["delivered", "undelivered", "failed", "expired"]})
                } else {
                    json!({"url": format!("http://{addr}/hook"), "events": ["message.status"]})
                }
                .to_string(),
            )
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("cannot subscribe the webhook receiver: {}", r.text().await?);
        }
    }
    if matches!(args.network, Network::Smpp) {
        wait_bound(&http, &base, &key).await?;
    }

    println!(
        "smsgate bench: {} messages, {} mode{}, {} clients{}, network {}{}, receipts after {:?}, webhooks {}",
        args.messages,
        match args.mode {
            Mode::Single => "single",
            Mode::Batch => "batch",
        },
        if args.mode == Mode::Batch {
            format!(" ({} per request)", args.batch_size)
        } else {
            String::new()
        },
        args.concurrency,
        args.rate
            .map(|r| format!(" paced at {r} msg/s"))
            .unwrap_or_default(),
        match args.network {
            Network::Sim => "sim",
            Network::Smpp => "smpp",
        },
        if args.network == Network::Smpp {
            format!(" (window {}, {} session(s))", args.window, args.sessions)
        } else {
            String::new()
        },
        args.receipt_delay,
        if args.no_webhooks || args.hold {
            "off"
        } else if args.final_only {
            "on (final statuses only)"
        } else {
            "on (every status)"
        },
    );

    println!(
        "store: {}, {} node(s)",
        if on_postgres { "PostgreSQL" } else { "SQLite" },
        args.nodes
    );

    // Intake.
    let per_request = match args.mode {
        Mode::Single => 1,
        Mode::Batch => args.batch_size,
    };
    let send_at = args.hold.then(|| {
        let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
        t.to_string()
    });
    let next = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let pb = bar(args.messages, "accepted");
    let mem_samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let (http, key, next, pb) = (http.clone(), key.clone(), next.clone(), pb.clone());
        // Round-robin over the nodes, one node per client.
        let base = bases[worker % bases.len()].clone();
        let (retried, send_at, mem) = (retried.clone(), send_at.clone(), mem_samples.clone());
        let total = args.messages;
        let mode = args.mode;
        let rate = args.rate;
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let first = next.fetch_add(per_request, Ordering::Relaxed);
                if first >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let n = per_request.min(total - first);
                if let Some(rate) = rate {
                    // Open-loop pacing: request `first` is due at first/rate seconds.
                    let due = started + Duration::from_secs_f64(first as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let msg = |i: u64| {
                    let mut m = json!({
                        "to": format!("+4915{:09}", i),
                        "text": format!("bench message {i}: pump 3 pressure 1.9 bar"),
                    });
                    if let Some(t) = &send_at {
                        m["send_at"] = json!(t);
                    }
                    m
                };
                let (path, body): (&str, Value) = match mode {
                    Mode::Single => ("/v1/messages", msg(first)),
                    Mode::Batch => (
                        "/v1/messages/batch",
                        json!({"messages": (first..first + n).map(msg).collect::<Vec<_>>()}),
                    ),
                };
                let body = body.to_string();
                loop {
                    let t0 = Instant::now();
                    let r = http
                        .post(format!("{base}{path}"))
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .context("request to the gateway failed")?;
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    if status.as_u16() == 429 || status.as_u16() == 503 {
                        retried.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    if !status.is_success() {
                        bail!("the gateway answered {status}: {text}");
                    }
                    latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                let before = pb.position() * 10 / total;
                pb.inc(n);
                // With --hold, a memory sample at every tenth of the intake.
                if send_at.is_some() && pb.position() * 10 / total > before {
                    mem.lock().unwrap().push((pb.position(), memory_mib().1));
                }
            }
        });
    }
    let mut accept_ms = Vec::new();
    while let Some(r) = workers.join_next().await {
        accept_ms.extend(r.context("a load worker panicked")??);
    }
    let intake = started.elapsed();
    pb.finish_and_clear();

    // Wait for final statuses.
    let mut finals_at = None;
    if !args.hold {
        let pb = bar(args.messages, "final");
        let mut last_progress = (0, Instant::now());
        loop {
            let done = if args.no_webhooks {
                let s = gw.store.stats().await?;
                s.by_status
                    .iter()
                    .filter(|(k, _)| FINAL.contains(&k.as_str()))
                    .map(|(_, v)| *v)
                    .sum()
            } else {
                seen.finals.load(Ordering::Relaxed)
            };
            pb.set_position(done);
            if done >= args.messages {
                finals_at = Some(started.elapsed());
                break;
            }
            if done != last_progress.0 {
                last_progress = (done, Instant::now());
            } else if last_progress.1.elapsed() > args.stall_timeout {
                pb.finish_and_clear();
                println!(
                    "no progress for {:?}: {done} of {} messages final; reporting what was measured",
                    args.stall_timeout, args.messages
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(if args.no_webhooks {
                1000
            } else {
                100
            }))
            .await;
        }
        pb.finish_and_clear();
    }
    let (peak, rss) = memory_mib();

    // Report.
    let accepted_rate = args.messages as f64 / intake.as_secs_f64();
    println!();
    println!(
        "accepted               {:>10.0} msg/s   ({} messages in {:.2} s, {} requests retried after 429/503)",
        accepted_rate,
        args.messages,
        intake.as_secs_f64(),
        retried.load(Ordering::Relaxed)
    );
    let times = std::mem::take(&mut *seen.times.lock().unwrap());
    let get = |s: &str| times.get(s).cloned().unwrap_or_default();
    let (sent, delivered) = (get("sent"), get("delivered"));
    if !args.no_webhooks && !args.hold {
        if !sent.is_empty() {
            println!(
                "submitted              {:>10.0} msg/s   (gateway `sent` event times, n={})",
                rate(&sent),
                sent.len()
            );
        }
        println!(
            "receipts               {:>10.0} msg/s   (gateway `delivered` event times, n={})",
            rate(&delivered),
            delivered.len()
        );
        let span = match (*seen.first.lock().unwrap(), *seen.last.lock().unwrap()) {
            (Some(a), Some(b)) => (b - a).as_secs_f64().max(0.001),
            _ => f64::NAN,
        };
        let deliveries = seen.deliveries.load(Ordering::Relaxed);
        println!(
            "webhook deliveries     {:>10.0} /s      ({deliveries} received)",
            deliveries as f64 / span
        );
    }
    if let Some(t) = finals_at {
        println!(
            "end to end             {:>10.0} msg/s   (all {} final after {:.2} s)",
            args.messages as f64 / t.as_secs_f64(),
            args.messages,
            t.as_secs_f64()
        );
    }
    let label = match args.mode {
        Mode::Single => "accept (per request)",
        Mode::Batch => "accept (per batch)",
    };
    println!("{}", line(label, accept_ms));
    if !sent.is_empty() {
        let d = |v: &[(i64, i64)]| v.iter().map(|(a, c)| (a - c) as f64).collect::<Vec<_>>();
        println!("{}", line("accept → sent", d(&sent)));
        println!("{}", line("accept → delivered", d(&delivered)));
    }
    for (n, mib) in mem_samples.lock().unwrap().iter() {
        println!("memory while queueing   RSS {mib:>7.1} MiB with {n} messages queued");
    }
    println!(
        "memory                 peak RSS {peak:.1} MiB, now {rss:.1} MiB (gateway and load generator in one process)"
    );
    for other in others {
        other.shutdown().await;
    }
    gw.shutdown().await;
    Ok(())
}

fn connector(name: &str, kind: &str, settings: Value) -> ConnectorConfig {
    let Value::Object(settings) = settings else {
        unreachable!("settings are built as objects")
    };
    ConnectorConfig {
        name: name.into(),
        kind: kind.into(),
        settings,
    }
}

async fn wait_bound(http: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = http
            .get(format!("{base}/v1/connectors"))
            .bearer_auth(key)
            .send()
            .await?
            .text()
            .await?;
        let list: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if list[0]["state"] == "bound" {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the smpp connector did not bind to the simulator: {list}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "smsgate-bench-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_millisecond()
        ));
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
