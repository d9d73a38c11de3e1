//! The SMSC (server) driver: accepts ESME binds and hands them to a [`Handler`] the gateway
//! implements. `submit_sm` is answered only after [`Handler::submit`] returns (the gateway stores
//! the message durably first); bound receiver/transceiver sessions are registered with the
//! handler as [`SessionHandle`]s through which it pushes `deliver_sm` (receipts, MO messages).

mod conn;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusmpp::pdus::{DeliverSm, SubmitSm};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, warn};

use crate::client::AmbiguousReason;
use crate::counters::{Counters, CountersSnapshot};
use crate::pdu::{CommandStatus, Pdu};
use crate::session::{BindRequest, BindType, SessionConfig};

/// Identifies one connection accepted by a server, unique for the server's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// What the gateway implements to back the SMPP server.
pub trait Handler: Send + Sync + 'static {
    /// The authenticated identity a bound session acts as.
    type Account: Clone + Send + Sync + 'static;

    /// Checks a bind (SMPP 3.4 §4.1). Return the account, or the status to reject with:
    /// `ESME_RINVSYSID` for an unknown `system_id`, `ESME_RINVPASWD` for a wrong password,
    /// `ESME_RBINDFAIL` otherwise.
    fn authenticate(
        &self,
        session: SessionId,
        peer: &str,
        bind: &BindRequest,
    ) -> impl Future<Output = Result<Self::Account, CommandStatus>> + Send;

    /// SMPP 3.4 §4.4 submit_sm from a bound transmitter/transceiver. Return the `message_id`
    /// once the message is stored durably; the `submit_sm_resp` is sent after that.
    fn submit(
        &self,
        account: &Self::Account,
        sm: SubmitSm,
    ) -> impl Future<Output = Result<String, CommandStatus>> + Send;

    /// Other requests (`query_sm`, `cancel_sm`, `replace_sm`, `data_sm`, `submit_multi`): return
    /// the response body (`None` for the default body) or an error status. The default answers
    /// `ESME_RINVCMDID` (SMPP 3.4 §5.1.3: not supported).
    fn request(
        &self,
        account: &Self::Account,
        pdu: Pdu,
    ) -> impl Future<Output = Result<Option<Pdu>, CommandStatus>> + Send {
        let _ = (account, pdu);
        async { Err(CommandStatus::EsmeRinvcmdid) }
    }

    /// A session bound; keep `session` to push `deliver_sm` while it lives (receiver and
    /// transceiver binds only accept them; see [`SessionHandle::can_deliver`]).
    fn bound(
        &self,
        account: &Self::Account,
        session: SessionHandle,
    ) -> impl Future<Output = ()> + Send {
        let _ = (account, session);
        async {}
    }

    /// A bound session ended; drop its handle.
    fn unbound(
        &self,
        account: &Self::Account,
        session: SessionId,
    ) -> impl Future<Output = ()> + Send {
        let _ = (account, session);
        async {}
    }
}

/// Server settings; defaults documented per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The `system_id` we answer binds with. Default `"smsgate"`.
    pub system_id: String,
    /// Per-session window, timers and limits. `inbound_window` bounds unanswered `submit_sm`s
    /// per session (more get `ESME_RTHROTTLED`); `window` bounds our unanswered `deliver_sm`s.
    pub session: SessionConfig,
    /// Time to wait for sessions to unbind at shutdown. Default 5 s.
    pub shutdown_grace: Duration,
    /// Connections open at once over every listener of this server; one more is closed as
    /// soon as it is accepted. 0: no limit. Default 1,000.
    pub max_connections: usize,
    /// Connections open at once from one IP address, so one client (or one attacker) cannot
    /// take every slot. 0: no limit. Default 100.
    pub max_connections_per_ip: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            system_id: "smsgate".into(),
            session: SessionConfig::default(),
            shutdown_grace: Duration::from_secs(5),
            max_connections: 1000,
            max_connections_per_ip: 100,
        }
    }
}

/// The connections open now, in total and per peer IP.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<std::net::IpAddr, usize>,
}

/// One counted connection; dropping it (when the connection's task ends) frees the slot.
struct Slot {
    open: Arc<std::sync::Mutex<Open>>,
    ip: std::net::IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

pub(crate) enum ServerCommand<A> {
    Auth {
        request: BindRequest,
        result: Result<A, CommandStatus>,
    },
    Answer {
        sequence_number: u32,
        status: CommandStatus,
        body: Option<Pdu>,
    },
    Request {
        pdu: Box<Pdu>,
        reply: DeliverReply,
    },
    Unbind,
    Abort,
}

pub(crate) type DeliverReply = oneshot::Sender<Result<(CommandStatus, Option<Pdu>), DeliverError>>;

/// Why a push to an ESME failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// The ESME answered with an error status (e.g. `ESME_RX_T_APPN`: retry later).
    #[error("rejected by the ESME ({0:?})")]
    Rejected(CommandStatus),
    /// Written, but no usable answer: the ESME may or may not have it.
    #[error("outcome unknown: {0:?}")]
    Ambiguous(AmbiguousReason),
    /// The session is gone (or not a receiver); the PDU was not written.
    #[error("session closed or not bound as receiver")]
    NotBound,
}

/// A bound session, as handed to [`Handler::bound`]: pushes requests to that ESME.
#[derive(Debug)]
pub struct SessionHandle {
    id: SessionId,
    bind_type: BindType,
    system_id: String,
    link: Arc<Link>,
    bound_at: std::time::SystemTime,
    commands: Box<dyn AnySender>,
}

/// Where a connection comes from, for operators and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// `ip:port` of the peer (empty for in-memory transports).
    pub(crate) peer: String,
    /// Whether the connection came through the TLS listener.
    pub(crate) tls: bool,
}

impl Clone for SessionHandle {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            bind_type: self.bind_type,
            system_id: self.system_id.clone(),
            link: Arc::clone(&self.link),
            bound_at: self.bound_at,
            commands: self.commands.clone_box(),
        }
    }
}

/// Type-erases the account type out of the command channel so handles are plain structs.
pub(crate) trait AnySender: Send + Sync + std::fmt::Debug {
    fn request(&self, pdu: Box<Pdu>, reply: DeliverReply) -> bool;
    fn unbind(&self);
    fn abort(&self);
    fn is_closed(&self) -> bool;
    fn clone_box(&self) -> Box<dyn AnySender>;
}

impl<A: Send + Sync + 'static> AnySender for mpsc::UnboundedSender<ServerCommand<A>> {
    fn request(&self, pdu: Box<Pdu>, reply: DeliverReply) -> bool {
        self.send(ServerCommand::Request { pdu, reply }).is_ok()
    }
    fn unbind(&self) {
        let _ = self.send(ServerCommand::Unbind);
    }
    fn abort(&self) {
        let _ = self.send(ServerCommand::Abort);
    }
    fn is_closed(&self) -> bool {
        mpsc::UnboundedSender::is_closed(self)
    }
    fn clone_box(&self) -> Box<dyn AnySender> {
        Box::new(self.clone())
    }
}

impl<A> std::fmt::Debug for ServerCommand<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCommand")
    }
}

impl SessionHandle {
    /// The server-unique id of the session.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The peer's `ip:port` (empty for in-memory transports).
    pub fn peer(&self) -> &str {
        &self.link.peer
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.link.tls
    }

    /// When the bind succeeded.
    pub fn bound_at(&self) -> std::time::SystemTime {
        self.bound_at
    }

    /// How the ESME bound.
    pub fn bind_type(&self) -> BindType {
        self.bind_type
    }

    /// The ESME's `system_id`.
    pub fn system_id(&self) -> &str {
        &self.system_id
    }

    /// Whether `deliver_sm` may be pushed (receiver or transceiver bind; SMPP 3.4 §2.3).
    pub fn can_deliver(&self) -> bool {
        self.bind_type.can_receive()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    /// SMPP 3.4 §4.6 deliver_sm to this ESME; resolves when it answers. Waits for room in the
    /// session's window.
    pub async fn deliver(&self, sm: DeliverSm) -> Result<(), DeliverError> {
        self.request(sm.into()).await.map(|_| ())
    }

    /// Any request to the ESME (`deliver_sm`, `data_sm`, `alert_notification`).
    pub async fn request(&self, pdu: Pdu) -> Result<Option<Pdu>, DeliverError> {
        if !self.can_deliver() {
            return Err(DeliverError::NotBound);
        }
        let (reply, rx) = oneshot::channel();
        if !self.commands.request(Box::new(pdu), reply) {
            return Err(DeliverError::NotBound);
        }
        match rx.await {
            Ok(Ok((CommandStatus::EsmeRok, body))) => Ok(body),
            Ok(Ok((status, _))) => Err(DeliverError::Rejected(status)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DeliverError::Ambiguous(AmbiguousReason::ConnectionLost)),
        }
    }

    /// Asks the ESME to unbind (SMPP 3.4 §4.2, sent by the SMSC).
    pub fn unbind(&self) {
        self.commands.unbind();
    }

    /// Drops the connection at once.
    pub fn abort(&self) {
        self.commands.abort();
    }
}

/// An SMPP server: a handler, settings and shared counters.
#[derive(Debug)]
pub struct Server<H> {
    handler: Arc<H>,
    config: Arc<ServerConfig>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
    live: Mutex<HashMap<SessionId, Box<dyn AnySender>>>,
    open: Arc<std::sync::Mutex<Open>>,
}

/// Serves SMPP on `listener` with default settings until `shutdown` resolves (STYLE §5).
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    Arc::new(Server::new(handler, ServerConfig::default()))
        .serve(listener, shutdown)
        .await
}

impl<H: Handler> Server<H> {
    /// A server for `handler`.
    pub fn new(handler: Arc<H>, config: ServerConfig) -> Self {
        Self {
            handler,
            config: Arc::new(config),
            counters: Arc::default(),
            next_id: AtomicU64::new(1),
            live: Mutex::new(HashMap::new()),
            open: Arc::default(),
        }
    }

    /// A slot for a new connection from `ip`, or `None` when a limit is reached.
    fn take_slot(&self, ip: std::net::IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        let (max, max_ip) = (
            self.config.max_connections,
            self.config.max_connections_per_ip,
        );
        if (max > 0 && open.total >= max) || (max_ip > 0 && from_ip >= max_ip) {
            return None;
        }
        open.total += 1;
        *open.per_ip.entry(ip).or_default() += 1;
        Some(Slot {
            open: Arc::clone(&self.open),
            ip,
        })
    }

    /// Protocol counters summed over every session.
    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }

    /// Accepts connections until `shutdown` resolves, then asks every session to unbind and
    /// waits up to `shutdown_grace` for them.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_on(listener, None, shutdown).await
    }

    /// Like [`Server::serve`], but each connection first completes a TLS handshake through
    /// `acceptor` (see [`crate::tls::ServerTls`]). The handshake runs in the connection's own
    /// task with the bind timeout as its limit, so a slow or silent client cannot hold up the
    /// accept loop; a failed handshake is logged with the peer and counted in
    /// `tls_handshake_failed`.
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        acceptor: crate::tls::TlsAcceptor,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_on(listener, Some(acceptor), shutdown).await
    }

    async fn serve_on(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<crate::tls::TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Usually EMFILE; back off instead of spinning.
                            debug!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Some(slot) = self.take_slot(peer.ip()) else {
                        warn!(%peer, max = self.config.max_connections,
                            max_per_ip = self.config.max_connections_per_ip,
                            "connection refused: too many open connections");
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let server = self.clone();
                    let peer = peer.to_string();
                    match tls.clone() {
                        None => {
                            tasks.spawn(async move {
                                server.serve_connection(stream, peer).await;
                                drop(slot);
                            });
                        }
                        Some(acceptor) => {
                            tasks.spawn(async move {
                                server.handshake_then_serve(acceptor, stream, peer).await;
                                drop(slot);
                            });
                        }
                    }
                }
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        for sender in self.live.lock().await.values() {
            sender.unbind();
        }
        let grace = self.config.shutdown_grace;
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} });
        if drained.await.is_err() {
            tasks.abort_all();
        }
        Ok(())
    }

    async fn handshake_then_serve(
        self: Arc<Self>,
        acceptor: crate::tls::TlsAcceptor,
        stream: tokio::net::TcpStream,
        peer: String,
    ) {
        let limit = self.config.session.bind_timeout;
        let failure = match tokio::time::timeout(limit, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                let link = Link { peer, tls: true };
                return self.serve_link(tls, link).await;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {limit:?}"),
        };
        self.counters
            .tls_handshake_failed
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(peer = %peer, error = %failure, "TLS handshake failed; connection closed");
    }

    /// Runs one SMSC session over any transport (a TCP stream, or a duplex in tests) until it
    /// closes.
    pub async fn serve_connection<T>(self: Arc<Self>, io: T, peer: String)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.serve_link(io, Link { peer, tls: false }).await;
    }

    async fn serve_link<T>(self: Arc<Self>, io: T, link: Link)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let span = tracing::info_span!("smpp_smsc", session = id.0, peer = %link.peer, tls = link.tls, system_id = tracing::field::Empty);
        let (tx, rx) = mpsc::unbounded_channel::<ServerCommand<H::Account>>();
        self.live.lock().await.insert(id, Box::new(tx.clone()));
        let conn = conn::ServerConn::new(self.clone(), id, Arc::new(link), io, tx, rx);
        conn.run().instrument(span).await;
        self.live.lock().await.remove(&id);
    }
}
