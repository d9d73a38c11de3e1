//! Email-to-SMS (`[smtp]`): monitoring systems, PLCs, NVRs and alarm panels that can only send
//! mail reach phones through it. Mail to `+4915112345678@<domain>` becomes an SMS to that
//! number; an SMS answering it is mailed back (`[smtp.replies]`).
//!
//! Like every northbound channel it goes through `smsgate_core::intake` (validation,
//! opt-outs, quiet hours, the `max_queued` gate, one durable commit) and answers `250` only
//! after that commit.
//!
//! # Never an open relay
//! A recipient outside `domain` is `550 5.7.1`, whoever asks. A sender must either
//! authenticate (`AUTH PLAIN` or `LOGIN` with an API key holding `messages:send` as the
//! password, only over TLS unless `allow_plain_auth`) or match an `[[smtp.allow]]` entry by
//! envelope sender **and** source network; everything else gets `530 5.7.0` at `MAIL FROM`.
//!
//! # Layout
//! - `config`: `[smtp]`, `[[smtp.allow]]`, `[smtp.replies]`, checked at load.
//! - `session`: the SMTP state machine (no I/O): commands, AUTH, the relay rules.
//! - `text`: mail → SMS text (MIME, charsets, HTML, quotes and signatures cut).
//! - `deliver`: key lookup, recipient checks, and the commit of a mail's SMS.
//! - `server`: sockets, STARTTLS, limits and timeouts.
//! - `relay` and `replies`: mails back through the operator's relay, from the event log.
//!
//! # Crates
//! `smtp-proto` parses commands and unstuffs `DATA` (Stalwart's parser, no I/O of its own, so
//! the state machine stays ours and testable); `mail-parser` reads MIME with its charsets and
//! converts HTML; `lettre` writes and sends the mails back.

pub mod config;
pub mod deliver;
pub mod relay;
pub mod replies;
pub mod server;
pub mod session;
pub mod text;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use smsgate_core::intake::Intake;
use smsgate_core::northbound::NorthboundStore;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

pub use config::{ConfigError, SmtpConfig};

/// What the listener needs from the gateway.
pub struct Deps {
    /// The one door into the queue.
    pub intake: Arc<Intake>,
    /// Submission records and cursors.
    pub northbound: Arc<dyn NorthboundStore>,
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listen address is taken or not ours.
    #[error("cannot listen on {addr} (smtp.{key}): {source}")]
    Listen {
        /// `listen` or `tls_listen`.
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The configuration does not hold (also checked at load).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate or key could not be loaded.
    #[error("[smtp] tls_cert/tls_key: {0}")]
    Tls(#[from] smsgate_smpp::tls::TlsError),
}

/// A running listener.
pub struct SmtpServer {
    /// Plain SMTP (with STARTTLS), the real port when the config said 0.
    pub addr: Option<SocketAddr>,
    /// SMTP over TLS.
    pub tls_addr: Option<SocketAddr>,
    /// Its state and counters.
    pub status: Arc<Status>,
    tasks: JoinSet<()>,
}

impl SmtpServer {
    /// Waits until the listener and the replies loop stopped.
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// What operators see of the listener.
pub struct Status {
    started: i64,
    shared: Arc<server::Shared>,
    replies_sent: Arc<AtomicU64>,
    listening: String,
    max_connections: usize,
}

impl Status {
    /// Counters as `(name, value)`: `connections`, `accepted`, `refused`, `auth_failed`,
    /// `replies_sent`.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.shared.counters;
        vec![
            ("connections", c.connections.load(Ordering::Relaxed)),
            ("accepted", c.accepted.load(Ordering::Relaxed)),
            ("refused", c.refused.load(Ordering::Relaxed)),
            ("auth_failed", c.auth_failed.load(Ordering::Relaxed)),
            ("replies_sent", self.replies_sent.load(Ordering::Relaxed)),
        ]
    }

    /// Where it listens, for the status view.
    pub fn listening(&self) -> &str {
        &self.listening
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.max_connections
            .saturating_sub(self.shared.slots.available_permits())
    }
}

impl smsgate_core::northbound::ChannelState for Status {
    /// `listening` while the listener runs (it has no outside link to lose); the counters
    /// plus `open_connections`.
    fn status(&self) -> smsgate_core::northbound::ChannelStatus {
        let mut counters: std::collections::BTreeMap<String, u64> = self
            .counters()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        counters.insert("open_connections".into(), self.open_connections() as u64);
        smsgate_core::northbound::ChannelStatus {
            name: "smtp".into(),
            state: "listening".into(),
            peer: self.listening.clone(),
            last_error: None,
            since: Some(smsgate_core::clock::rfc3339(self.started)),
            counters,
        }
    }
}

async fn bind(key: &'static str, addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { key, addr, source })
}

/// The loop that mails answers back, when `[smtp.replies]` is set; the caller runs it on the
/// cluster's leader only, so one node mails. `sent` is counted in the listener's status.
pub fn replies_loop(
    config: &SmtpConfig,
    deps: &Deps,
    status: &Status,
) -> Result<Option<replies::Replies>, ConfigError> {
    let Some(r) = &config.replies else {
        return Ok(None);
    };
    let relay = relay::Relay::parse(&r.relay, &config.reply_from())
        .map_err(|e| ConfigError(format!("replies.relay: {e}")))?;
    Ok(Some(replies::Replies {
        store: Arc::clone(deps.intake.store()),
        northbound: Arc::clone(&deps.northbound),
        relay,
        window: r.window,
        notify_failures: r.notify_failures,
        sent: Arc::clone(&status.replies_sent),
    }))
}

/// Binds the listeners and serves until `shutdown` (open sessions are cut then).
pub async fn start(
    config: &SmtpConfig,
    deps: &Deps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<SmtpServer, StartError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
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
    let plain = match config.listen {
        Some(a) => Some(bind("listen", a).await?),
        None => None,
    };
    let tls_listener = match config.tls_listen {
        Some(a) => Some(bind("tls_listen", a).await?),
        None => None,
    };
    let settings = Arc::new(session::Settings {
        hostname: config.hostname().to_owned(),
        domain: config.domain.trim().to_ascii_lowercase(),
        tls_available: tls.is_some(),
        allow_plain_auth: config.allow_plain_auth,
        max_message_bytes: config.max_message_bytes,
        max_recipients: config.max_recipients,
        allowed: config.allowed()?,
    });
    let shared = Arc::new(server::Shared {
        settings,
        gateway: deliver::Gateway {
            intake: Arc::clone(&deps.intake),
            northbound: Arc::clone(&deps.northbound),
            text_from: config.text,
        },
        tls,
        timeout: config.timeout,
        slots: Arc::new(Semaphore::new(config.max_connections.max(1))),
        counters: server::Counters::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let addr = plain.as_ref().and_then(|l| l.local_addr().ok());
    let tls_addr = tls_listener.as_ref().and_then(|l| l.local_addr().ok());
    if let Some(l) = plain {
        tasks.spawn(server::accept(
            l,
            Arc::clone(&shared),
            false,
            stop_rx.clone(),
        ));
    }
    if let Some(l) = tls_listener {
        tasks.spawn(server::accept(
            l,
            Arc::clone(&shared),
            true,
            stop_rx.clone(),
        ));
    }
    let replies_sent = Arc::new(AtomicU64::new(0));
    tasks.spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let listening = [
        addr.map(|a| format!("smtp://{a}")),
        tls_addr.map(|a| format!("smtps://{a}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    tracing::info!(listen = %listening, domain = %config.domain, "smtp: email-to-SMS listening");
    Ok(SmtpServer {
        addr,
        tls_addr,
        status: Arc::new(Status {
            started: deps.intake.clock().now_ms(),
            shared,
            replies_sent,
            listening,
            max_connections: config.max_connections.max(1),
        }),
        tasks,
    })
}
