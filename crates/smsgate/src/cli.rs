//! The command line: `serve` runs the gateway; `send`, `status`, `messages` and `sim inbound`
//! talk to a running one over HTTP; `keys` and `migrate` work on the store directly; `sim modem`
//! runs the GSM modem simulator on a pseudo-terminal or TCP port.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use smsgate_core::clock::{Clock, rfc3339};
use smsgate_core::keys;
use smsgate_core::store::ApiKey;

use crate::client::Client;
use crate::config::Config;
use crate::gateway::Gateway;

/// Self-hosted SMS gateway for IoT and M2M.
#[derive(Parser, Debug)]
#[command(name = "smsgate", version, about)]
pub struct Cli {
    /// Configuration file (TOML); keys can also come from SMSGATE_SECTION__KEY variables.
    #[arg(long, global = true, env = "SMSGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Where a running gateway is, for remote commands.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// Gateway URL.
    #[arg(long, env = "SMSGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key.
    #[arg(
        long,
        env = "SMSGATE_KEY",
        default_value = "",
        hide_default_value = true
    )]
    pub key: String,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (HTTP API, dashboard, dispatcher, connectors).
    Serve,
    /// Send one message, or many from a CSV file (columns `to,text[,from]`).
    Send {
        /// Destination (E.164).
        #[arg(long, required_unless_present = "file")]
        to: Option<String>,
        /// Sender id.
        #[arg(long)]
        from: Option<String>,
        /// CSV file for a bulk send.
        #[arg(long, conflicts_with_all = ["to", "text"])]
        file: Option<PathBuf>,
        /// The text.
        #[arg(required_unless_present = "file")]
        text: Option<String>,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show which connectors would carry a number, and why (the route table in force).
    Route {
        /// Destination (E.164).
        to: String,
        /// Sender id the message would carry.
        #[arg(long)]
        from: Option<String>,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// List the client applications bound to the SMPP server (`[smpp_server]`); admin key.
    Sessions {
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one message with its timeline.
    Status {
        /// Message id.
        id: String,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// List messages, newest first.
    Messages {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Manage API keys (works on the store directly; the gateway may be stopped).
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Apply store migrations and exit.
    Migrate,
    /// IoT devices: list, show, add, remove, and send them commands.
    Devices {
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_iot::DevicesAction,
    },
    /// IoT contacts (people the alerts go to).
    Contacts {
        /// What to do.
        #[command(subcommand)]
        action: ContactsAction,
    },
    /// IoT on-call groups with escalation levels.
    Groups {
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_iot::RegistryAction,
    },
    /// IoT alert rules.
    Rules {
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_iot::RegistryAction,
    },
    /// IoT registry from a file: `smsgate iot apply registry.toml`.
    Iot {
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_iot::IotAction,
    },
    /// IoT alerts: list them and acknowledge one.
    Alerts {
        /// What to do.
        #[command(subcommand)]
        action: crate::cli_iot::AlertsAction,
    },
    /// End-to-end load benchmark of a gateway started in this process; prints msg/s,
    /// latency percentiles and memory.
    Bench(crate::bench::BenchArgs),
    /// Simulators.
    Sim {
        /// Which.
        #[command(subcommand)]
        action: SimAction,
    },
}

/// `contacts` subcommands: the registry actions plus `add`.
#[derive(Subcommand, Debug)]
pub enum ContactsAction {
    /// Create or replace a contact.
    Add(crate::cli_iot::ContactAdd),
    /// List, show or remove.
    #[command(flatten)]
    Registry(crate::cli_iot::RegistryAction),
}

/// `keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Create a key; prints the secret alone on the last line.
    Create {
        /// What it is for.
        #[arg(long, default_value = "api")]
        name: String,
        /// Give it admin rights (see every message, manage all webhooks).
        #[arg(long)]
        admin: bool,
    },
    /// List keys.
    List,
    /// Revoke a key by id or prefix.
    Revoke {
        /// Key id (`key_…`) or prefix (`sk_…`).
        id: String,
    },
}

/// `sim` subcommands.
#[derive(Subcommand, Debug)]
pub enum SimAction {
    /// Run the SMSC simulator: an SMPP server with receipts, fault and MO injection, and stats.
    Smsc(crate::sim_smsc::SmscArgs),
    /// Run a GSM modem simulator on a pseudo-terminal (prints its device path) or a TCP port.
    ///
    /// Point a `type = "modem"` connector's `device` at the printed path (or at
    /// `tcp://ADDR`). Control it by typing on standard input, one command per line:
    /// `mo <from> <text>` (a phone texts the modem), `mo-during-send <from> <text>`,
    /// `hang [<duration>]`, `unhang`, `fail-next <cms code>`, `latency <duration>`,
    /// `report delivered|undelivered|none`, `status`.
    Modem {
        /// Serve on a new pseudo-terminal (the default when --listen is not given).
        #[arg(long)]
        pty: bool,
        /// Also (or instead) serve on this TCP address, like a ser2net port.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// SIM PIN the simulated SIM asks for.
        #[arg(long)]
        pin: Option<String>,
        /// Delay before every answer, e.g. `200ms`.
        #[arg(long, default_value = "0ms")]
        latency: String,
        /// Delay from a send to its status report, e.g. `2s`.
        #[arg(long, default_value = "1s")]
        report_delay: String,
        /// Message storage slots.
        #[arg(long, default_value_t = 30)]
        storage_slots: usize,
    },
    /// Play a phone: text the gateway through its simulated network.
    Inbound {
        /// The phone's number.
        #[arg(long)]
        from: String,
        /// The gateway number texted.
        #[arg(long)]
        to: Option<String>,
        /// The text.
        text: String,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
}

/// Entry point: parses arguments, runs, prints errors as sentences.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let config = Config::load(cli.config.as_deref())?;
            init_logs(&config);
            serve(config, cli.config.clone()).await
        }
        Command::Route { to, from, remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let mut path = format!("/v1/routes?to={}", urlencode(&to));
            if let Some(f) = &from {
                path.push_str(&format!("&from={}", urlencode(f)));
            }
            let r = client.get(&path).await?;
            let m = &r["match"];
            let names: Vec<&str> = m["connectors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            println!("to:         {}", m["to"].as_str().unwrap_or(&to));
            if names.is_empty() {
                println!("connectors: none");
            } else {
                println!("connectors: {}", names.join(" → "));
            }
            println!("why:        {}", m["reason"].as_str().unwrap_or("?"));
            Ok(())
        }
        Command::Sessions { remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let r = client.get("/v1/smpp/sessions").await?;
            let sessions = r["sessions"].as_array().cloned().unwrap_or_default();
            if sessions.is_empty() {
                println!("no SMPP client is bound");
                return Ok(());
            }
            println!(
                "{:<8} {:<15} {:<12} {:<5} {:<22} since",
                "session", "system_id", "bind", "tls", "peer"
            );
            for s in &sessions {
                println!(
                    "{:<8} {:<15} {:<12} {:<5} {:<22} {}",
                    s["session"],
                    s["system_id"].as_str().unwrap_or(""),
                    s["bind"].as_str().unwrap_or(""),
                    if s["tls"].as_bool() == Some(true) {
                        "yes"
                    } else {
                        "no"
                    },
                    s["peer"].as_str().unwrap_or(""),
                    s["bound_at"].as_str().unwrap_or(""),
                );
            }
            Ok(())
        }
        Command::Send {
            to,
            from,
            file,
            text,
            remote,
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            match file {
                Some(f) => send_file(&client, &f).await,
                None => {
                    let body = json!({"to": to, "text": text, "from": from});
                    let r = client.post("/v1/messages", &body).await?;
                    println!(
                        "{} queued ({} part(s), {})",
                        r["id"].as_str().unwrap_or("?"),
                        r["segments"],
                        r["encoding"].as_str().unwrap_or("?")
                    );
                    Ok(())
                }
            }
        }
        Command::Status { id, remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let m = client.get(&format!("/v1/messages/{id}")).await?;
            print_message(&m);
            Ok(())
        }
        Command::Messages {
            status,
            limit,
            remote,
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let mut path = format!("/v1/messages?limit={limit}");
            if let Some(s) = status {
                path.push_str(&format!("&status={s}"));
            }
            let page = client.get(&path).await?;
            for m in page["data"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<11}  {:<16}  {}",
                    m["id"].as_str().unwrap_or(""),
                    m["status"].as_str().unwrap_or(""),
                    m["to"].as_str().unwrap_or(""),
                    m["text"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(40)
                        .collect::<String>()
                );
            }
            Ok(())
        }
        Command::Devices { action } => crate::cli_iot::devices(action).await,
        Command::Alerts { action } => crate::cli_iot::alerts(action).await,
        Command::Contacts {
            action: ContactsAction::Add(a),
        } => crate::cli_iot::add_contact(a).await,
        Command::Contacts {
            action: ContactsAction::Registry(a),
        } => crate::cli_iot::registry(crate::cli_iot::Kind::Contacts, a).await,
        Command::Groups { action } => {
            crate::cli_iot::registry(crate::cli_iot::Kind::Groups, action).await
        }
        Command::Rules { action } => {
            crate::cli_iot::registry(crate::cli_iot::Kind::Rules, action).await
        }
        Command::Iot { action } => crate::cli_iot::iot(action).await,
        Command::Bench(args) => {
            let mut config = Config::default();
            config.log.level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
            init_logs(&config);
            crate::bench::run(args).await
        }
        Command::Keys { action } => {
            let config = Config::load(cli.config.as_deref())?;
            keys_command(&config, action).await
        }
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            init_logs(&config);
            smsgate_store::open(&config.store.url).await?;
            println!("store at {} is up to date", config.store.url);
            Ok(())
        }
        Command::Sim {
            action: SimAction::Smsc(args),
        } => {
            init_logs(&Config::default());
            crate::sim_smsc::run(args, shutdown_signal()).await
        }
        Command::Sim {
            action:
                SimAction::Modem {
                    pty,
                    listen,
                    pin,
                    latency,
                    report_delay,
                    storage_slots,
                },
        } => {
            let duration = |name: &str, v: &str| {
                smsgate_modem::sim::control::parse_duration(v)
                    .with_context(|| format!("--{name} '{v}': use e.g. 500ms, 2s or 1m"))
            };
            let config = smsgate_modem::sim::SimConfig {
                pin,
                latency: duration("latency", &latency)?,
                report_delay: duration("report-delay", &report_delay)?,
                storage_slots: storage_slots.max(1),
                ..Default::default()
            };
            sim_modem(config, pty || listen.is_none(), listen).await
        }
        Command::Sim {
            action:
                SimAction::Inbound {
                    from,
                    to,
                    text,
                    remote,
                },
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            client
                .post(
                    "/v1/sim/inbound",
                    &json!({"from": from, "to": to, "text": text}),
                )
                .await?;
            println!("delivered to the gateway as an inbound SMS from {from}");
            Ok(())
        }
    }
}

/// `sim modem`: serves the simulator, prints where, and reads control commands from stdin.
async fn sim_modem(
    config: smsgate_modem::sim::SimConfig,
    pty: bool,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    use std::io::Write;
    use tokio::io::AsyncBufReadExt;
    let sim = smsgate_modem::sim::Simulator::new(config);
    let _pty = if pty {
        let (path, task) = sim
            .spawn_pty(std::future::pending())
            .context("cannot allocate a pseudo-terminal")?;
        println!("modem simulator on {}", path.display());
        println!("{}", path.display());
        Some(task)
    } else {
        None
    };
    if let Some(addr) = listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!("modem simulator on tcp://{local}");
        let s = sim.clone();
        tokio::spawn(async move { s.serve_tcp(listener, std::future::pending()).await });
    }
    println!("type `status`, `mo <from> <text>`, `hang 10s`, … (see --help); Ctrl-C stops");
    let _ = std::io::stdout().flush();
    let control = {
        let sim = sim.clone();
        async move {
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match smsgate_modem::sim::control::apply(&sim, &line) {
                    Ok(out) if out.is_empty() => {}
                    Ok(out) => println!("{out}"),
                    Err(e) => eprintln!("{e}"),
                }
                let _ = std::io::stdout().flush();
            }
            // Standard input closed (e.g. run in the background): keep serving.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = control => {}
        () = shutdown_signal() => {}
    }
    Ok(())
}

/// Percent-encodes a query value (`+` in E.164 numbers must not become a space).
pub(crate) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn serve(config: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    let gw = Gateway::start(config).await?;
    println!("smsgate is running");
    println!("  dashboard and API: http://{}/", gw.addr);
    println!("  OpenAPI:           http://{}/v1/openapi.json", gw.addr);
    if let Some(addr) = gw.smpp_addr {
        println!("  SMPP server:       {addr}");
    }
    if let Some(addr) = gw.smpp_tls_addr {
        println!("  SMPP over TLS:     {addr}");
    }
    if let Some(key) = &gw.first_admin_key {
        println!("  admin API key (shown once, store it now):");
        println!("{key}");
    }
    println!("  stop with Ctrl-C (SIGINT) or SIGTERM; in-flight work finishes first");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let reload = reload_on_sighup(&gw, path.as_deref());
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = reload => {}
    }
    gw.shutdown().await;
    Ok(())
}

/// Re-reads the config file's `[[routes]]` on every SIGHUP; never returns (on Unix).
async fn reload_on_sighup(gw: &Gateway, path: Option<&std::path::Path>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return std::future::pending().await;
        };
        while hup.recv().await.is_some() {
            let result = Config::load(path).and_then(|c| gw.reload_routes(&c.routes));
            if let Err(e) = result {
                tracing::error!(
                    error = format!("{e:#}"),
                    "SIGHUP: routes not reloaded; the previous table stays"
                );
            }
        }
    }
    std::future::pending().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn print_message(m: &Value) {
    let s = |k: &str| m[k].as_str().unwrap_or("-").to_owned();
    println!("id:        {}", s("id"));
    println!("to:        {}", s("to"));
    println!("status:    {}", s("status"));
    println!("parts:     {} ({})", m["segments"], s("encoding"));
    println!("connector: {}", s("connector"));
    if let Some(code) = m["error_code"].as_str() {
        println!("error:     {code}: {}", s("error_message"));
    }
    println!("timeline:");
    for e in m["events"].as_array().into_iter().flatten() {
        let detail = e["detail"]
            .as_str()
            .map(|d| format!("  ({d})"))
            .unwrap_or_default();
        println!(
            "  {}  {}{detail}",
            e["at"].as_str().unwrap_or(""),
            e["event"].as_str().unwrap_or("")
        );
    }
}

async fn send_file(client: &Client, path: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows =
        crate::csv::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if rows
        .first()
        .is_some_and(|r| r.first().map(|c| c.trim()) == Some("to"))
    {
        rows.remove(0);
    }
    if rows.is_empty() {
        bail!("{} has no rows (columns: to,text[,from])", path.display());
    }
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} sent to the queue, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut accepted, mut rejected) = (0usize, Vec::new());
    for (chunk_no, chunk) in rows.chunks(500).enumerate() {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|r| {
                json!({"to": r.first().map(|s| s.trim()), "text": r.get(1),
                       "from": r.get(2).map(|s| s.trim()).filter(|s| !s.is_empty())})
            })
            .collect();
        let res = client
            .post("/v1/messages/batch", &json!({"messages": messages}))
            .await?;
        accepted += res["accepted"].as_u64().unwrap_or(0) as usize;
        for e in res["messages"].as_array().into_iter().flatten() {
            if e["status"] == "rejected" {
                let line = chunk_no * 500 + e["index"].as_u64().unwrap_or(0) as usize + 1;
                rejected.push(format!(
                    "row {line}: {}",
                    e["error"]["message"].as_str().unwrap_or("?")
                ));
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    println!("{accepted} queued, {} rejected", rejected.len());
    for r in &rejected {
        println!("  {r}");
    }
    Ok(())
}

async fn keys_command(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    let store = smsgate_store::open(&config.store.url).await?;
    let clock = Clock::system();
    match action {
        KeysAction::Create { name, admin } => {
            let k = keys::generate();
            store
                .create_api_key(ApiKey {
                    id: k.id.clone(),
                    name: name.clone(),
                    prefix: k.prefix,
                    admin,
                    created_at: clock.now_ms(),
                    revoked_at: None,
                    secret_hash: k.hash,
                })
                .await?;
            eprintln!(
                "created key {} ({name}{}); the secret is shown once:",
                k.id,
                if admin { ", admin" } else { "" }
            );
            println!("{}", k.secret);
        }
        KeysAction::List => {
            for k in store.list_api_keys().await? {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", rfc3339(t)),
                    None => "active".into(),
                };
                println!(
                    "{}  {}…  {:<12} {}{}  created {}",
                    k.id,
                    k.prefix,
                    k.name,
                    state,
                    if k.admin { "  admin" } else { "" },
                    rfc3339(k.created_at)
                );
            }
        }
        KeysAction::Revoke { id } => {
            if store.revoke_api_key(&id, clock.now_ms()).await? {
                println!("revoked {id}");
            } else {
                bail!("no active key with id or prefix '{id}' (see `smsgate keys list`)");
            }
        }
    }
    Ok(())
}
