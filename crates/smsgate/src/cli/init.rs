//! `smsgate init`: writes a commented `smsgate.toml` for one of three setups (the simulated
//! network, an SMPP carrier, a GSM modem), so a first real deployment starts from a file
//! that loads instead of from the reference in SPEC.md.
//!
//! Each file is the sections every setup has (`[http]`, `[store]`, `[log]`, `[limits]`),
//! the setup's connector and route, then the optional listeners disabled. Lines written
//! `#key = value` (no space after `#`) are settings to enable by removing the `#`; `# text` is
//! prose. The tests load every file with the real loader, once as written and once with
//! every setting enabled, so neither a typo nor a renamed key can ship here.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

/// `smsgate init`: a commented config file to start from.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Which setup the file is for.
    #[arg(long, value_enum, default_value_t = Setup::Simulator)]
    pub setup: Setup,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Where to write it.
    #[arg(default_value = "smsgate.toml")]
    pub path: PathBuf,
}

/// What the gateway sends through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Setup {
    /// The built-in simulated network: try everything without a carrier.
    Simulator,
    /// An SMPP carrier (SMSC) account.
    Smpp,
    /// A GSM/LTE modem on a serial port.
    Modem,
}

const HEAD: &str = r#"# smsgate configuration, written by `smsgate init --setup {setup}`.
# Every key can also be set from the environment: SMSGATE_SECTION__KEY (for example
# SMSGATE_HTTP__LISTEN=0.0.0.0:8080). Durations are written "30s", "5m", "2h".
# Check it: `smsgate --config {path} migrate` loads it and creates (or updates) the
# database. Run it: `smsgate serve --config {path}`.

[http]
# API, dashboard (/), /metrics. Listen on 0.0.0.0 only behind a firewall or with TLS.
listen = "127.0.0.1:8080"
# HTTPS: a PEM certificate chain and its key (both or neither).
#tls_cert = "/etc/smsgate/cert.pem"
#tls_key = "/etc/smsgate/key.pem"

[store]
# SQLite (one gateway) or PostgreSQL (several gateways on one database):
#   url = "postgres://smsgate@db.example.com/smsgate"
# A relative path is relative to the working directory; the first admin API key is
# written to admin.key beside the database on first start.
url = "sqlite://smsgate-data/smsgate.db"

[log]
# "text" or "json"; the level is a tracing filter ("info", "smsgate=debug,info").
format = "text"
level = "info"

[limits]
# Messages waiting in the queue before the API answers 429 (0: no bound).
max_queued = 5000000
# Longest message, in SMS parts.
max_segments = 10
"#;

const SIMULATOR: &str = r#"
# The built-in simulated network: accepts every message and reports it delivered after
# delivery_delay. Send one: `smsgate send --to +4915112345678 "hello"`.
[[connectors]]
name = "sim"
type = "simulator"
delivery_delay = "1s"
# Share (0.0-1.0) of messages reported undelivered, to watch failures and retries.
failure_rate = 0.0

[[routes]]
# "" matches every number; longer prefixes ("+49") win over shorter ones.
prefix = ""
connectors = ["sim"]
"#;

const SMPP: &str = r#"
# Your carrier's SMSC: host, port and the bind credentials from your contract.
[[connectors]]
name = "carrier"
type = "smpp"
host = "smsc.example.com"
port = 2775
# SMPP 3.4 limits: system_id at most 15 characters, password at most 8.
system_id = "CHANGE-ME"
password = "secret"
# transceiver (one session both ways), pair (a transmitter and a receiver), transmitter or
# receiver.
bind = "transceiver"
# Unacknowledged submits per session, and submits per second your contract allows.
window = 10
max_tps = 50
# SMPP over TLS (port 3550 unless port is set).
#tls = true

[[routes]]
prefix = ""
connectors = ["carrier"]
"#;

const MODEM: &str = r#"
# A GSM/LTE modem (AT commands, PDU mode) on a serial port, a pty or tcp://host:port.
[[connectors]]
name = "modem"
type = "modem"
device = "/dev/ttyUSB0"
baud = 115200
# The SIM's PIN, entered once when the SIM asks (a wrong one is never retried).
#pin = "1234"
# SMS parts per minute; SIM contracts often limit this.
max_per_minute = 30

[[routes]]
prefix = ""
connectors = ["modem"]
"#;

const TAIL: &str = r#"
# Optional listeners: remove the # to enable.

# Northbound SMPP for client applications.
#[smpp_server]
#listen = "127.0.0.1:2776"
#[[smpp_server.accounts]]
#system_id = "app1"
#password = "s3cret"

# Email to SMS: mail to +4915112345678@sms.example.com.
#[smtp]
#listen = "127.0.0.1:2525"
#domain = "sms.example.com"

# MQTT bridge: publish to {prefix}/send, events on {prefix}/events/...
#[mqtt]
#url = "mqtt://127.0.0.1:1883"
#topic_prefix = "smsgate"
"#;

/// The file for `setup`, naming `path` in its instructions.
pub fn template(setup: Setup, path: &Path) -> String {
    let name = match setup {
        Setup::Simulator => "simulator",
        Setup::Smpp => "smpp",
        Setup::Modem => "modem",
    };
    let body = match setup {
        Setup::Simulator => SIMULATOR,
        Setup::Smpp => SMPP,
        Setup::Modem => MODEM,
    };
    let head = HEAD
        .replace("{setup}", name)
        .replace("{path}", &path.display().to_string());
    format!("{head}{body}{TAIL}")
}

/// Runs `init`: writes the file, never over an existing one without `--force`.
pub fn run(a: InitArgs) -> anyhow::Result<()> {
    let text = template(a.setup, &a.path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if a.force {
        options.create(true).truncate(true);
    } else {
        // Fails if the file exists, with no window between a check and the write.
        options.create_new(true);
    }
    let mut file = match options.open(&a.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} exists; pass --force to replace it, or name another file",
            a.path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("creating {}", a.path.display())),
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", a.path.display()))?;
    println!(
        "wrote {} ({:?} setup); edit it, then run: smsgate serve --config {}",
        a.path.display(),
        a.setup,
        a.path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const SETUPS: [Setup; 3] = [Setup::Simulator, Setup::Smpp, Setup::Modem];

    fn load(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("smsgate.toml");
        std::fs::write(&p, text)?;
        Config::load(Some(&p))
    }

    #[test]
    fn every_setup_writes_a_file_the_loader_takes() {
        for setup in SETUPS {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("smsgate.toml");
            run(InitArgs {
                setup,
                force: false,
                path: path.clone(),
            })
            .unwrap();
            let c = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{setup:?}: {e:#}"));
            assert_eq!(c.connectors.len(), 1, "{setup:?}");
            assert_eq!(c.routes[0].connectors, [c.connectors[0].name.clone()]);
            let kind = match setup {
                Setup::Simulator => "simulator",
                Setup::Smpp => "smpp",
                Setup::Modem => "modem",
            };
            assert_eq!(c.connectors[0].kind, kind);
            assert!(c.smpp_server.is_none() && c.smtp.is_none() && c.mqtt.is_none());
        }
    }

    #[test]
    fn every_disabled_setting_loads_once_enabled() {
        for setup in SETUPS {
            let enabled: String = template(setup, Path::new("smsgate.toml"))
                .lines()
                .map(|l| match l.strip_prefix('#') {
                    Some(rest) if !rest.starts_with([' ', '#']) && !rest.is_empty() => rest,
                    _ => l,
                })
                .flat_map(|l| [l, "\n"])
                .collect();
            let c = load(&enabled).unwrap_or_else(|e| panic!("{setup:?}: {e:#}\n{enabled}"));
            assert!(c.smpp_server.is_some() && c.smtp.is_some() && c.mqtt.is_some());
            assert!(c.http.tls_cert.is_some());
        }
    }

    #[test]
    fn an_existing_file_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smsgate.toml");
        std::fs::write(&path, "# mine\n").unwrap();
        let args = |force| InitArgs {
            setup: Setup::Smpp,
            force,
            path: path.clone(),
        };
        let e = run(args(false)).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
        run(args(true)).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("type = \"smpp\"")
        );
    }
}
