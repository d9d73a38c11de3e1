//! `smsgate sim`: the simulators, so a gateway can be tried and tested end to end without a
//! carrier, a modem or a phone (`smsc` and `modem` run a peer; `inbound` plays a phone through a
//! running gateway's simulated network).

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::remote::Remote;
use crate::client::Client;
use crate::config::Config;

/// `sim` subcommands.
#[derive(Subcommand, Debug)]
pub enum SimAction {
    /// Run the SMSC simulator: an SMPP server with receipts, fault and MO injection, and stats.
    Smsc(crate::sim_smsc::SmscArgs),
    /// Run a counting HTTP receiver: answers every request 200 and counts it (`GET /_count`,
    /// `POST /_reset`), the application end of a webhook or `dlr-url` benchmark.
    Sink(crate::sim_sink::SinkArgs),
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

/// Runs a `sim` subcommand; `smsc` and `modem` serve until SIGINT or SIGTERM.
pub async fn run(action: SimAction) -> anyhow::Result<()> {
    match action {
        SimAction::Smsc(args) => {
            super::init_logs(&Config::default());
            crate::sim_smsc::run(args, super::shutdown_signal()).await
        }
        SimAction::Sink(args) => {
            super::init_logs(&Config::default());
            crate::sim_sink::run(args, super::shutdown_signal()).await
        }
        SimAction::Modem {
            pty,
            listen,
            pin,
            latency,
            report_delay,
            storage_slots,
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
        SimAction::Inbound {
            from,
            to,
            text,
            remote,
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
        () = super::shutdown_signal() => {}
    }
    Ok(())
}
