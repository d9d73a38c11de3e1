//! The northbound SMPP server (`[smpp_server]`): client applications bind as accounts and
//! submit through SMPP 3.4 instead of the REST API; receipts and inbound SMS come back to them
//! as `deliver_sm`.
//!
//! The protocol (sessions, windows, PDUs) is `smsgate_smpp::server`; this crate is the
//! gateway side of it, and depends on `smsgate-core`, never on the HTTP API:
//! - every account owns its messages as `api_key_id = "smpp:<system_id>"` (no API key row: the
//!   account lives in the config file, has no HTTP secret to leak, and admins see its
//!   messages in the API and dashboard like any other);
//! - a `submit_sm` is decoded, goes through `core::intake` like a REST request and is committed
//!   (group commit) **before** its `submit_sm_resp` goes out. A whole message answers with the
//!   gateway message id (the same id `GET /v1/messages/{id}` takes); each part of a long
//!   message (UDH or SAR) answers at once with its own id, is stored durably, and the part that
//!   completes the group assembles ONE gateway message (`message_payload` carries a long text
//!   in one submit);
//! - when a message reaches a final status, each of its submissions that asked for it
//!   (`registered_delivery`) gets an SMPP 3.4 Appendix B receipt naming its own id, sent to a
//!   receiver or transceiver bind of the account, or kept until one binds (see `feed`);
//! - inbound SMS to numbers an account lists in `inbound` go to its receivers the same way.
//!
//! # Layout
//! - `config`: `[smpp_server]` and `[[smpp_server.accounts]]`, validated at load.
//! - `accounts`: credentials, per-account window and `max_tps`, bound sessions.
//! - `backoff`: failed binds pause further binds per address and per `system_id`.
//! - `decode`: `submit_sm` → [`decode::Incoming`] or a [`decode::Refusal`] with its status.
//! - `record`: what is stored per submit, and the receipt / inbound `deliver_sm` builders.
//! - `handler`: the `smsgate_smpp::server::Handler` the server calls.
//! - `assembly`: parts → one message, and the sweep for stopped or incomplete groups.
//! - `feed`: the per-account task that pushes receipts and inbound SMS.
//!
//! # Transports
//! `listen` serves plain TCP and `tls_listen` SMPP over TLS; both feed the same
//! `smsgate_smpp::server::Server` (`serve` / `serve_tls`), so accounts, windows and feeds do not
//! know the difference. The TLS handshake runs in the connection's task with the bind timeout
//! as its limit (`smsgate_smpp::tls::ServerTls`, optional client-certificate check against
//! `tls_client_ca_file`); failures are logged and counted (`tls_handshake_failed`).
//!
//! # Limits against misbehaving clients
//! Every refused bind gets `ESME_RBINDFAIL` (the log says why) and its connection is closed;
//! `max_connections` and `max_connections_per_ip` cap open connections (one more is closed at
//! accept); a client that sends without reading our answers stops being read above 256 KiB of
//! unsent output and is cut off after `response_timeout` (`smsgate_smpp`'s I/O layer).
//!
//! # A connection cut mid-window
//! Submits whose handler already committed stay stored (and are sent) though their response
//! was lost; the rest were never stored. Either way nothing acknowledged is lost.

pub mod accounts;
pub mod assembly;
mod backoff;
pub mod config;
pub mod decode;
pub mod feed;
pub mod handler;
pub mod record;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smsgate_core::intake::Intake;
use smsgate_core::northbound::NorthboundStore;
use smsgate_core::store::StoreError;
use smsgate_smpp::server::{Server, ServerConfig};
use smsgate_smpp::session::SessionConfig;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use config::{ConfigError, SmppServerConfig};

/// What the server needs from the gateway.
pub struct Deps {
    /// Submissions, parts, feeds and cursors (same database as the messages).
    pub northbound: Arc<dyn NorthboundStore>,
    /// The door every message enters by: `[limits]`, the `max_queued` gate shared with the
    /// REST API, the clock and the wake-ups after a commit.
    pub intake: Arc<Intake>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listen address is taken or not ours.
    #[error("cannot listen on {addr} (smpp_server.{key}): {source}")]
    Listen {
        /// `listen` or `tls_listen`.
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The configuration does not hold (also checked at config load).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] smsgate_smpp::tls::TlsError),
    /// The feed cursors could not be read or created.
    #[error("preparing the SMPP server's feeds: {0}")]
    Store(#[from] StoreError),
}

/// A running SMPP server.
pub struct SmppServer {
    /// Its bound client sessions, for `GET /v1/smpp/sessions` and `/metrics`.
    pub sessions: Arc<dyn smsgate_core::northbound::ClientSessions>,
    /// Where plain SMPP listens (the real port when the config said 0).
    pub addr: Option<SocketAddr>,
    /// Where SMPP over TLS listens (the real port when the config said 0).
    pub tls_addr: Option<SocketAddr>,
    task: JoinHandle<()>,
}

impl SmppServer {
    /// Waits until the server has stopped (after the shutdown future given to [`start`]).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn bind(key: &'static str, addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { key, addr, source })
}

/// Binds the listener, prepares every account's feed cursor and starts serving until
/// `shutdown` resolves; then asks sessions to unbind (5 s grace) and stops the feeds.
pub async fn start(
    config: &SmppServerConfig,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<SmppServer, StartError> {
    let listener = match config.listen {
        Some(at) => Some(bind("listen", at).await?),
        None => None,
    };
    let tls = match (config.tls_listen, config.tls()?) {
        (Some(at), Some(tls)) => {
            let acceptor = tls.acceptor()?;
            Some((bind("tls_listen", at).await?, acceptor))
        }
        _ => None,
    };
    let addr = listener.as_ref().and_then(|l| l.local_addr().ok());
    let tls_addr = tls.as_ref().and_then(|(l, _)| l.local_addr().ok());
    let accounts = Arc::new(accounts::Accounts::new(config));
    // A new account's feed starts now: it has no messages yet, and inbound SMS from before it
    // existed are not its business. Done before accepting, so no receipt can slip past.
    let start_seq = deps.northbound.last_event_seq().await?;
    let mut cursors = Vec::new();
    for account in accounts.all() {
        let name = feed::cursor_name(&account.config.system_id);
        let cursor = match deps.northbound.cursor(&name).await? {
            Some(c) => c,
            None => {
                deps.northbound.set_cursor(&name, start_seq).await?;
                start_seq
            }
        };
        cursors.push((Arc::clone(account), cursor));
    }
    let assembler = assembly::Assembler {
        store: Arc::clone(&deps.northbound),
        intake: deps.intake,
        timeout: config.concat_timeout,
        tenants: Arc::new(
            config
                .accounts
                .iter()
                .map(|a| (a.system_id.clone(), a.tenant.clone()))
                .collect(),
        ),
    };
    let accounts_view: Arc<dyn smsgate_core::northbound::ClientSessions> = accounts.clone();
    let handler = Arc::new(handler::GatewayHandler {
        accounts: Arc::clone(&accounts),
        assembler: assembler.clone(),
        backoff: backoff::BindBackoff::default(),
    });
    let server_config = ServerConfig {
        system_id: config.system_id.clone(),
        session: SessionConfig {
            window: config.deliver_window,
            // The accounts' own windows answer first; this only bounds one session.
            inbound_window: accounts.max_window().max(config.window),
            response_timeout: config.response_timeout,
            enquire_link_interval: config.enquire_link_interval,
            ..SessionConfig::default()
        },
        shutdown_grace: Duration::from_secs(5),
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
    };
    let server = Arc::new(Server::new(handler, server_config));
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (account, cursor) in cursors {
        let task = feed::FeedTask {
            account,
            store: Arc::clone(&deps.northbound),
            poll: config.poll_interval,
        };
        tasks.spawn(task.run(cursor, stop_rx.clone()));
    }
    tasks.spawn(assembler.run(stopped(stop_rx.clone())));
    let shown = |a: Option<SocketAddr>| a.map_or_else(|| "-".to_owned(), |a| a.to_string());
    tracing::info!(
        listen = %shown(addr),
        tls_listen = %shown(tls_addr),
        accounts = config.accounts.len(),
        "smpp server listening"
    );
    let mut serving = JoinSet::new();
    if let Some(listener) = listener {
        serving.spawn(Arc::clone(&server).serve(listener, stopped(stop_rx.clone())));
    }
    if let Some((listener, acceptor)) = tls {
        serving.spawn(Arc::clone(&server).serve_tls(listener, acceptor, stopped(stop_rx.clone())));
    }
    let task = tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
        while serving.join_next().await.is_some() {}
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tasks.abort_all();
        }
        tracing::info!("smpp server stopped");
    });
    Ok(SmppServer {
        sessions: accounts_view,
        addr,
        tls_addr,
        task,
    })
}
