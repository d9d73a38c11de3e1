//! `smsgate sim smsc`: the SMSC simulator of `smsgate-smpp` as a stand-alone process, for
//! trying smsgate without a carrier, for the benchmarks and for load tests of other ESMEs.
//!
//! It speaks SMPP on `--listen` and, with `--http`, serves a small JSON control API:
//! `GET /stats` (counters), `GET /messages?limit=N` (the last accepted messages) and
//! `POST /mo` (inject a mobile-originated message: `{"from", "to", "text", "system_id"?,
//! "long"?: "payload" | "udh" | "sar"}`). Without `--http`, a stats line is printed every
//! `--stats-every`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};
use smsgate_smpp::receipt::IdRadix;
use smsgate_smpp::sim::{InjectError, MoLong, MoMessage, SimConfig, SimStats, Simulator};

/// Options of `smsgate sim smsc`.
#[derive(Args, Debug, Clone)]
pub struct SmscArgs {
    /// SMPP listen address.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: SocketAddr,
    /// Control API address (`GET /stats`, `GET /messages`, `POST /mo`); off when not given.
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Accepted credentials as `system_id:password`, repeatable; any bind is accepted when
    /// none is given.
    #[arg(long = "account", value_name = "SYSTEM_ID:PASSWORD")]
    pub accounts: Vec<String>,
    /// Delay between `submit_sm_resp` and the delivery receipt.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub receipt_delay: Duration,
    /// Time between accepting a `submit_sm` and answering it (the SMSC's store round trip).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub submit_latency: Duration,
    /// Share of submits answered `ESME_RSUBMITFAIL` (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub failure_rate: f64,
    /// Share of submits answered `ESME_RTHROTTLED` (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Share of submits on which the connection is dropped without an answer (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub disconnect_rate: f64,
    /// Share of accepted messages whose receipt says `UNDELIV` (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub undeliverable_rate: f64,
    /// How message ids are written: `hex` or `decimal`.
    #[arg(long, default_value = "hex")]
    pub id_format: String,
    /// Write the text receipt's `id:` in decimal even when ids are hex (a common SMSC quirk).
    #[arg(long)]
    pub text_id_decimal: bool,
    /// Seed of the injected faults.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Unacknowledged `deliver_sm` per session.
    #[arg(long, default_value_t = 10)]
    pub window: usize,
    /// Serve SMPP over TLS on `--listen` with this PEM certificate chain (needs `--tls-key`).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert`.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Print a stats line this often when `--http` is not given (`0s` for never).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub stats_every: Duration,
}

impl SmscArgs {
    /// The simulator configuration, or an error naming the bad option.
    pub fn sim_config(&self) -> anyhow::Result<SimConfig> {
        for (name, v) in [
            ("--failure-rate", self.failure_rate),
            ("--throttle-rate", self.throttle_rate),
            ("--disconnect-rate", self.disconnect_rate),
            ("--undeliverable-rate", self.undeliverable_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("{name} {v} must be between 0 and 1");
            }
        }
        let id_format = match self.id_format.as_str() {
            "hex" => IdRadix::Hex,
            "decimal" => IdRadix::Decimal,
            other => bail!("--id-format {other}: use hex or decimal"),
        };
        let mut accounts = Vec::new();
        for a in &self.accounts {
            let Some((id, pw)) = a.split_once(':') else {
                bail!("--account {a}: write it as system_id:password");
            };
            accounts.push((id.to_owned(), pw.to_owned()));
        }
        let mut config = SimConfig {
            accounts,
            receipt_delay: self.receipt_delay,
            submit_latency: self.submit_latency,
            failure_rate: self.failure_rate,
            throttle_rate: self.throttle_rate,
            disconnect_rate: self.disconnect_rate,
            undeliverable_rate: self.undeliverable_rate,
            id_format,
            text_id_decimal: self.text_id_decimal,
            seed: self.seed,
            ..SimConfig::default()
        };
        config.session.window = self.window.max(1);
        Ok(config)
    }
}

/// The counters as JSON.
pub fn stats_json(s: &SimStats) -> Value {
    json!({
        "binds": s.binds,
        "bind_rejected": s.bind_rejected,
        "sessions": s.sessions,
        "submits": s.submits,
        "accepted": s.accepted,
        "failed": s.failed,
        "throttled": s.throttled,
        "disconnects": s.disconnects,
        "receipts_sent": s.receipts_sent,
        "receipts_acked": s.receipts_acked,
        "receipts_pending": s.receipts_pending,
        "mo_injected": s.mo_injected,
        "mo_delivered": s.mo_delivered,
    })
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mo {
    from: String,
    to: String,
    text: String,
    #[serde(default)]
    system_id: Option<String>,
    #[serde(default)]
    long: Option<String>,
}

async fn stats(State(sim): State<Simulator>) -> Json<Value> {
    Json(stats_json(&sim.stats()))
}

async fn messages(State(sim): State<Simulator>, Query(q): Query<Limit>) -> Json<Value> {
    let all = sim.messages();
    let n = q.limit.unwrap_or(100).min(all.len());
    let rows: Vec<Value> = all[all.len() - n..]
        .iter()
        .rev()
        .map(|m| {
            json!({
                "message_id": m.message_id,
                "system_id": m.system_id,
                "source": m.source,
                "destination": m.destination,
                "data_coding": m.data_coding,
                "esm_class": m.esm_class,
                "short_message_hex": hex(&m.short_message),
                "receipt": m.receipt.as_ref().map(|r| r.as_text().to_owned()),
                "receipt_acked": m.receipt_acked,
            })
        })
        .collect();
    Json(json!({ "data": rows }))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn err(status: StatusCode, code: &str, message: String) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
}

async fn inject(
    State(sim): State<Simulator>,
    body: Result<Json<Mo>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, Json<Value>) {
    let Json(mo) = match body {
        Ok(b) => b,
        Err(e) => return err(StatusCode::BAD_REQUEST, "invalid_json", e.body_text()),
    };
    let long = match mo.long.as_deref() {
        None | Some("payload") => MoLong::Payload,
        Some("udh") => MoLong::Udh,
        Some("sar") => MoLong::Sar,
        Some(other) => {
            return err(
                StatusCode::BAD_REQUEST,
                "invalid_long",
                format!("long '{other}': use payload, udh or sar"),
            );
        }
    };
    let mo = MoMessage {
        from: mo.from,
        to: mo.to,
        text: mo.text,
        system_id: mo.system_id,
        long,
    };
    match sim.inject_mo(mo).await {
        Ok(session) => (StatusCode::OK, Json(json!({"session": session.0}))),
        Err(e @ InjectError::NoReceiver) => err(StatusCode::CONFLICT, "no_receiver", e.to_string()),
        Err(e @ InjectError::InvalidAddress) => {
            err(StatusCode::BAD_REQUEST, "invalid_address", e.to_string())
        }
        Err(e @ InjectError::Failed(_)) => {
            err(StatusCode::BAD_GATEWAY, "delivery_failed", e.to_string())
        }
    }
}

/// The control API of a simulator.
pub fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .route("/messages", get(messages))
        .route("/mo", post(inject))
        .with_state(sim)
}

/// A running simulator (see [`start`]).
pub struct Running {
    /// The simulator, for stats and MO injection in-process.
    pub sim: Simulator,
    /// Where SMPP listens.
    pub smpp: SocketAddr,
    /// Where the control API listens, if enabled.
    pub http: Option<SocketAddr>,
    /// Ends after `shutdown` resolved and every session unbound.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Binds the listeners and starts serving until `shutdown` resolves.
pub async fn start(
    args: SmscArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let sim = Simulator::new(args.sim_config()?);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            smsgate_smpp::tls::ServerTls {
                cert_file: cert.clone(),
                key_file: key.clone(),
                client_ca_file: None,
            }
            .acceptor()?,
        ),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let smpp = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut http_addr = None;
    if let Some(addr) = args.http {
        let http = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (--http)"))?;
        http_addr = Some(http.local_addr()?);
        let app = router(sim.clone());
        let stop = stopped();
        tasks.spawn(async move {
            let _ = axum::serve(http, app).with_graceful_shutdown(stop).await;
        });
    } else if !args.stats_every.is_zero() {
        let (sim, every, stop) = (sim.clone(), args.stats_every, stopped());
        tasks.spawn(async move {
            let print = async {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    println!("STATS {}", stats_json(&sim.stats()));
                }
            };
            tokio::select! {
                () = print => {}
                () = stop => {}
            }
        });
    }
    let serving = sim.clone();
    let task = tokio::spawn(async move {
        let smpp = async {
            match tls {
                Some(acceptor) => serving.run_tls(listener, acceptor, stopped()).await,
                None => serving.run(listener, stopped()).await,
            }
        };
        tokio::pin!(smpp);
        let result = tokio::select! {
            r = &mut smpp => r,
            () = shutdown => {
                let _ = stop_tx.send(true);
                smpp.await
            }
        };
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
        result.context("serving SMPP")
    });
    Ok(Running {
        sim,
        smpp,
        http: http_addr,
        task,
    })
}

/// Runs the simulator until `shutdown` resolves; prints where it listens and, at the end, the
/// final counters.
pub async fn run(
    args: SmscArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls_cert = args.tls_cert.clone();
    let running = start(args, shutdown).await?;
    println!("SMPP {}", running.smpp);
    if let Some(http) = running.http {
        println!("HTTP http://{http}/stats");
    }
    if let Some(cert) = &tls_cert {
        println!("TLS with certificate {}", cert.display());
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    running.task.await.context("simulator task")??;
    println!("STATS {}", stats_json(&running.sim.stats()));
    Ok(())
}
