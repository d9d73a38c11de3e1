//! The ESME (client) driver: binds over any `AsyncRead + AsyncWrite`, submits through a
//! cloneable [`Client`] handle that respects the window and `max_tps`, and reports inbound
//! `deliver_sm`/`data_sm` as [`ClientEvent`]s that the consumer acknowledges (SMPP 3.4 §4.6) —
//! so the gateway can store a message durably before `deliver_sm_resp` goes out.

mod driver;
mod types;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusmpp::pdus::{SubmitSm, SubmitSmResp};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::counters::{Counters, CountersSnapshot};
use crate::pacer::Pacer;
use crate::pdu::{CommandStatus, Pdu};
use crate::session::{BindParams, Bound, LostReason, Role, Session, SessionConfig};
pub use types::*;

/// Everything an ESME needs to bind and pace itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// The bind: type, `system_id`, `password`, `system_type`, `interface_version`,
    /// `address_range` (SMPP 3.4 §4.1.1).
    pub bind: BindParams,
    /// Window, timeouts, keep-alive and length limit.
    pub session: SessionConfig,
    /// Submits per second at most on this connection; `None` (default) for unpaced.
    pub max_tps: Option<u32>,
    /// Time allowed for the TCP connect in [`connect`]. Default 10 s.
    pub connect_timeout: Duration,
    /// Extra `command_status` values to treat as temporary (vendor-specific codes 0x400–0x4FF
    /// are permanent unless listed here).
    pub temporary_statuses: Vec<u32>,
}

impl ClientConfig {
    /// A configuration with defaults for everything but the bind.
    pub fn new(bind: BindParams) -> Self {
        Self {
            bind,
            session: SessionConfig::default(),
            max_tps: None,
            connect_timeout: Duration::from_secs(10),
            temporary_statuses: Vec::new(),
        }
    }
}

/// A cloneable handle to one bound ESME session.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    bound: Arc<AtomicBool>,
    info: Arc<Bound>,
    pacer: Option<Arc<Pacer>>,
    counters: Arc<Counters>,
    temporary: Arc<Vec<u32>>,
}

/// Connects over TCP and binds (SMPP 3.4 §2.2). Sets `TCP_NODELAY`, as PDUs are small.
pub async fn connect(
    addr: impl ToSocketAddrs,
    config: ClientConfig,
) -> Result<(Client, Events), BindError> {
    let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| BindError::Connect("connect timed out".into()))?
        .map_err(|e| BindError::Connect(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    bind_with_peer(stream, config, &peer).await
}

/// Binds over an already-connected transport (TCP, TLS, or a `tokio::io::duplex` in tests).
/// Returns once the SMSC answered the bind; the session then runs in a spawned task.
pub async fn bind<T>(io: T, config: ClientConfig) -> Result<(Client, Events), BindError>
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    bind_with_peer(io, config, "").await
}

async fn bind_with_peer<T>(
    io: T,
    config: ClientConfig,
    peer: &str,
) -> Result<(Client, Events), BindError>
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let counters = Arc::new(Counters::default());
    let mut session = Session::with_counters(
        Role::Esme,
        config.session.clone(),
        crate::io::now(),
        counters.clone(),
    );
    session
        .bind(crate::io::now(), &config.bind)
        .map_err(|e| BindError::Invalid(e.to_string()))?;
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let (bound_tx, bound_rx) = oneshot::channel();
    let bound = Arc::new(AtomicBool::new(false));
    let span = tracing::info_span!("smpp_esme", system_id = %config.bind.system_id, peer = %peer);
    let driver = driver::Driver::new(
        crate::io::Conn::new(io, session),
        cmd_rx,
        cmd_tx.downgrade(),
        event_tx,
        bound_tx,
        bound.clone(),
    );
    tokio::spawn(driver.run().instrument(span));
    let info = match bound_rx.await {
        Ok(Ok(info)) => info,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(BindError::Closed("driver stopped".into())),
    };
    let pacer = config
        .max_tps
        .filter(|&t| t > 0)
        .map(|tps| Arc::new(Pacer::new(tps)));
    let client = Client {
        commands: cmd_tx,
        bound,
        info: Arc::new(info),
        pacer,
        counters,
        temporary: Arc::new(config.temporary_statuses),
    };
    Ok((client, Events { rx: event_rx }))
}

impl Client {
    /// SMPP 3.4 §4.4 submit_sm. Waits for `max_tps` pacing and for room in the window, then for
    /// the response; every failure is classified (see [`SubmitError`]).
    pub async fn submit(&self, sm: SubmitSm) -> Result<SubmitSmResp, SubmitError> {
        match self.request(sm.into()).await? {
            (_, Some(Pdu::SubmitSmResp(resp))) => Ok(resp),
            _ => Ok(SubmitSmResp::default()),
        }
    }

    /// Any other request (`query_sm`, `cancel_sm`, `replace_sm`, `data_sm`, `submit_multi`):
    /// returns the response status (always `ESME_ROK`) and body, or a classified failure.
    pub async fn request(&self, pdu: Pdu) -> Result<(CommandStatus, Option<Pdu>), SubmitError> {
        if !self.is_bound() {
            return Err(SubmitError::NotBound);
        }
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
        }
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                pdu: Box::new(pdu),
                reply,
            })
            .map_err(|_| SubmitError::NotBound)?;
        match rx.await {
            Ok(Ok((CommandStatus::EsmeRok, body))) => Ok((CommandStatus::EsmeRok, body)),
            Ok(Ok((status, _))) => Err(classify(status, &self.temporary)),
            Ok(Err(Outcome::NotSent)) => Err(SubmitError::NotBound),
            Ok(Err(Outcome::Lost(LostReason::Timeout))) => {
                Err(SubmitError::Ambiguous(AmbiguousReason::Timeout))
            }
            Ok(Err(Outcome::Lost(LostReason::Closed(_)))) | Err(_) => {
                Err(SubmitError::Ambiguous(AmbiguousReason::ConnectionLost))
            }
            Ok(Err(Outcome::Lost(LostReason::Malformed { header_status }))) => {
                if header_status == CommandStatus::EsmeRok {
                    Err(SubmitError::Ambiguous(AmbiguousReason::MalformedResponse))
                } else {
                    Err(classify(header_status, &self.temporary))
                }
            }
        }
    }

    /// Starts the unbind handshake (SMPP 3.4 §4.2) and waits until the session closed.
    pub async fn unbind(&self) {
        let (done, rx) = oneshot::channel();
        if self.commands.send(Command::Unbind { done }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Drops the connection at once, without unbinding (in-flight submits become ambiguous).
    pub fn abort(&self) {
        let _ = self.commands.send(Command::Abort);
    }

    /// Whether the session is still bound.
    pub fn is_bound(&self) -> bool {
        self.bound.load(Ordering::Acquire)
    }

    /// What the SMSC said in its bind response.
    pub fn bind_info(&self) -> &Bound {
        &self.info
    }

    /// This session's counters.
    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }
}

/// Classifies a non-zero `command_status` (SMPP 3.4 §5.1.3) for retry decisions.
pub fn classify(status: CommandStatus, extra_temporary: &[u32]) -> SubmitError {
    use CommandStatus as S;
    match status {
        S::EsmeRthrottled | S::EsmeRmsgqful => SubmitError::Throttled(status),
        S::EsmeRsyserr
        | S::EsmeRsubmitfail
        | S::EsmeRxTAppn
        | S::EsmeRdeliveryfailure
        | S::EsmeRunknownerr
        | S::EsmeRinvbndsts => SubmitError::Temporary(status),
        other if extra_temporary.contains(&u32::from(other)) => SubmitError::Temporary(status),
        _ => SubmitError::Permanent(status),
    }
}
