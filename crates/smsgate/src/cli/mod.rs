//! The command line: `serve` runs the gateway; `send`, `status`, `messages` and `sim inbound`
//! talk to a running one over HTTP; `keys` and `migrate` work on the store directly; `sim modem`
//! runs the GSM modem simulator on a pseudo-terminal or TCP port.
//!
//! This module holds only the command tree and the dispatch, so `smsgate --help` can be read in
//! one place; each topic's arguments and work live in a submodule:
//! - [`serve`]: `serve`, the gateway process itself.
//! - [`remote`]: `send`, `route`, `sessions`, `status`, `messages`, and the shared [`Remote`]
//!   flags.
//! - [`keys`]: `keys`, on the store directly.
//! - [`iot`]: `devices` and `alerts`; [`iot::registry`]: `contacts`, `groups`, `rules`, `iot`.
//! - [`sim`]: `sim smsc`, `sim modem`, `sim inbound`.
//! - [`init`]: `init`, a commented config file for a chosen setup.
//! - [`shell`]: `completions` and `man`, generated from this command tree.
//! - [`watch`]: `tail` (the event stream, one line per event) and `top` (rates, queue and
//!   connectors redrawn every second).

pub mod init;
pub mod iot;
pub mod keys;
pub mod remote;
pub mod serve;
pub mod shell;
pub mod sim;
pub mod store;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use iot::registry::{self, Kind};
use remote::Remote;

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

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (HTTP API, dashboard, dispatcher, connectors).
    Serve,
    /// Send one message, or many from a CSV file (columns `to,text[,from]`).
    Send(remote::SendArgs),
    /// Show which connectors would carry a number, and why (the route table in force).
    Route(remote::RouteArgs),
    /// List the client applications bound to the SMPP server (`[smpp_server]`); admin key.
    Sessions {
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Follow the gateway's events as they happen, one line each (`GET /v1/events/stream`).
    Tail(watch::TailArgs),
    /// Rates in and out, the queue and the connectors, redrawn every second.
    Top(watch::TopArgs),
    /// Show one message with its timeline.
    Status(remote::StatusArgs),
    /// List messages, newest first.
    Messages(remote::MessagesArgs),
    /// Manage API keys (works on the store directly; the gateway may be stopped).
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: keys::KeysAction,
    },
    /// Apply store migrations and exit.
    Migrate,
    /// Work on a store itself: copy a stopped gateway's data to PostgreSQL.
    Store {
        /// What to do.
        #[command(subcommand)]
        action: store::StoreAction,
    },
    /// IoT devices: list, show, add, remove, and send them commands.
    Devices {
        /// What to do.
        #[command(subcommand)]
        action: iot::DevicesAction,
    },
    /// IoT contacts (people the alerts go to).
    Contacts {
        /// What to do.
        #[command(subcommand)]
        action: registry::ContactsAction,
    },
    /// IoT on-call groups with escalation levels.
    Groups {
        /// What to do.
        #[command(subcommand)]
        action: registry::RegistryAction,
    },
    /// IoT alert rules.
    Rules {
        /// What to do.
        #[command(subcommand)]
        action: registry::RegistryAction,
    },
    /// IoT registry from a file: `smsgate iot apply registry.toml`.
    Iot {
        /// What to do.
        #[command(subcommand)]
        action: registry::IotAction,
    },
    /// IoT alerts: list them and acknowledge one.
    Alerts {
        /// What to do.
        #[command(subcommand)]
        action: iot::AlertsAction,
    },
    /// End-to-end load benchmark of a gateway started in this process; prints msg/s,
    /// latency percentiles and memory.
    Bench(crate::bench::BenchArgs),
    /// Write a commented smsgate.toml for a setup (simulator, SMPP carrier, modem).
    Init(init::InitArgs),
    /// Print the shell completion script (bash, zsh, fish, …) to stdout.
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Man(shell::ManArgs),
    /// Simulators.
    Sim {
        /// Which.
        #[command(subcommand)]
        action: sim::SimAction,
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

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve::run(cli.config).await,
        Command::Route(a) => remote::route(a).await,
        Command::Sessions { remote } => remote::sessions(remote).await,
        Command::Send(a) => remote::send(a).await,
        Command::Status(a) => remote::status(a).await,
        Command::Tail(a) => watch::tail(a).await,
        Command::Init(a) => init::run(a),
        Command::Completions(a) => shell::completions(a),
        Command::Man(a) => shell::man(a),
        Command::Top(a) => watch::top(a).await,
        Command::Messages(a) => remote::messages(a).await,
        Command::Devices { action } => iot::devices(action).await,
        Command::Alerts { action } => iot::alerts(action).await,
        Command::Contacts { action } => registry::contacts(action).await,
        Command::Groups { action } => registry::run(Kind::Groups, action).await,
        Command::Rules { action } => registry::run(Kind::Rules, action).await,
        Command::Iot { action } => registry::apply(action).await,
        Command::Bench(args) => {
            let mut config = Config::default();
            config.log.level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
            init_logs(&config);
            crate::bench::run(args).await
        }
        Command::Keys { action } => {
            let config = Config::load(cli.config.as_deref())?;
            keys::run(&config, action).await
        }
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            init_logs(&config);
            smsgate_store::open(&config.store.url).await?;
            println!("store at {} is up to date", config.store.url);
            Ok(())
        }
        Command::Sim { action } => sim::run(action).await,
        Command::Store { action } => store::run(action).await,
    }
}

/// Logs to stderr (stdout is the commands' output), as `[log]` in `config` asks unless
/// `RUST_LOG` is set; shared by every command that runs something long-lived.
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

/// Resolves on SIGINT or SIGTERM: how `serve` and the simulators are told to stop.
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
