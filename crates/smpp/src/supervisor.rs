//! A reconnecting ESME: connects, binds, and on any loss reconnects with exponential backoff
//! and jitter, so a fleet of connectors does not hammer an SMSC that just restarted. The gateway
//! connector wraps this; its state (`bound`, `reconnecting`, `down`) is observable.

use std::future::Future;
use std::time::Duration;

use rusmpp::pdus::{SubmitSm, SubmitSmResp};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info};

use crate::client::{self, Client, ClientConfig, ClientEvent, Events, SubmitError};
use crate::rng::Rng;

/// Dials the SMSC: opens a fresh transport for each attempt (TCP, TLS, or a duplex pair in
/// tests). Not the gateway's `Connector` (a whole carrier link): only the socket under it.
pub trait Dialer: Send + Sync + 'static {
    /// The transport type.
    type Io: AsyncRead + AsyncWrite + Send + 'static;
    /// Opens one connection.
    fn connect(&self) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

/// Connects over TCP to `addr` (`host:port`) with `TCP_NODELAY`.
#[derive(Debug, Clone)]
pub struct TcpDialer {
    /// `host:port`.
    pub addr: String,
    /// Connect timeout.
    pub timeout: Duration,
}

impl Dialer for TcpDialer {
    type Io = TcpStream;
    async fn connect(&self) -> std::io::Result<TcpStream> {
        let connect = TcpStream::connect(self.addr.as_str());
        let stream = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

/// Connects over TCP, then runs the TLS handshake (SMPP over TLS, usually port 3550). The
/// handshake shares the connect timeout, so a peer that accepts TCP but never answers the
/// `ClientHello` is retried like one that never answered at all.
#[derive(Clone)]
pub struct TlsDialer {
    /// The TCP part.
    pub tcp: TcpDialer,
    /// From [`crate::tls::ClientTls::load`].
    pub config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    /// The name the SMSC's certificate must carry.
    pub server_name: tokio_rustls::rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for TlsDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsDialer")
            .field("tcp", &self.tcp)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Dialer for TlsDialer {
    type Io = crate::tls::ClientTlsStream<TcpStream>;
    async fn connect(&self) -> std::io::Result<Self::Io> {
        let tcp = self.tcp.connect().await?;
        let tls = crate::tls::TlsConnector::from(self.config.clone());
        let handshake = tls.connect(self.server_name.clone(), tcp);
        match tokio::time::timeout(self.tcp.timeout, handshake).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(std::io::Error::new(
                e.kind(),
                format!("TLS handshake failed: {e}"),
            )),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// Reconnect policy around a [`ClientConfig`]; defaults documented per field.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorConfig {
    /// The bind and session settings used for every connection.
    pub client: ClientConfig,
    /// First retry delay. Default 1 s.
    pub backoff_initial: Duration,
    /// Largest retry delay. Default 60 s.
    pub backoff_max: Duration,
    /// A session that stayed bound this long resets the backoff. Default 30 s.
    pub stable_after: Duration,
}

impl SupervisorConfig {
    /// Defaults around `client`.
    pub fn new(client: ClientConfig) -> Self {
        Self {
            client,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
        }
    }

    /// The delay before retry number `attempt` (1-based): exponential, capped, with "equal
    /// jitter" (half fixed, half random) so that many clients spread out.
    pub fn backoff(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let base = self
            .backoff_initial
            .saturating_mul(exp)
            .min(self.backoff_max);
        let half = base / 2;
        half + half.mul_f64(rng.next_f64())
    }
}

/// The link as the gateway shows it in `GET /v1/connectors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// First connection attempt in progress.
    Connecting,
    /// Bound and usable.
    Bound,
    /// Waiting `retry_in` before attempt number `attempt`, after `last_error`.
    Reconnecting {
        /// The attempt about to be made.
        attempt: u32,
        /// Delay before it.
        retry_in: Duration,
        /// What went wrong last.
        last_error: String,
    },
    /// Stopped by [`Supervisor::shutdown`].
    Down,
}

/// A self-healing ESME connection.
#[derive(Debug)]
pub struct Supervisor {
    state: watch::Receiver<LinkState>,
    client: watch::Receiver<Option<Client>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervisor {
    /// Starts connecting in a background task. Events of every connection (bound, inbound,
    /// disconnected) arrive in order on the returned stream.
    pub fn spawn<C: Dialer>(connector: C, config: SupervisorConfig) -> (Self, Events) {
        let (state_tx, state) = watch::channel(LinkState::Connecting);
        let (client_tx, client) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let span =
            tracing::info_span!("smpp_supervisor", system_id = %config.client.bind.system_id);
        let task = tokio::spawn(
            run(connector, config, state_tx, client_tx, stop_rx, event_tx).instrument(span),
        );
        (
            Self {
                state,
                client,
                stop,
                task,
            },
            Events { rx: event_rx },
        )
    }

    /// The current link state.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn watch_state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// The bound client, if any.
    pub fn client(&self) -> Option<Client> {
        self.client.borrow().clone()
    }

    /// Submits on the current connection; [`SubmitError::NotBound`] while reconnecting.
    pub async fn submit(&self, sm: SubmitSm) -> Result<SubmitSmResp, SubmitError> {
        match self.client() {
            Some(client) => client.submit(sm).await,
            None => Err(SubmitError::NotBound),
        }
    }

    /// Unbinds the current session, stops reconnecting and waits for the task to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run<C: Dialer>(
    connector: C,
    config: SupervisorConfig,
    state: watch::Sender<LinkState>,
    current: watch::Sender<Option<Client>>,
    mut stop: watch::Receiver<bool>,
    events: mpsc::UnboundedSender<ClientEvent>,
) {
    let mut rng = Rng::from_entropy();
    let mut attempt = 0u32;
    loop {
        let connect = async {
            let io = connector.connect().await.map_err(|e| e.to_string())?;
            client::bind(io, config.client.clone())
                .await
                .map_err(|e| e.to_string())
        };
        let outcome = tokio::select! {
            () = stopped(&mut stop) => break,
            outcome = connect => outcome,
        };
        let last_error = match outcome {
            Ok((client, session_events)) => {
                info!("bound");
                let started = tokio::time::Instant::now();
                let _ = state.send(LinkState::Bound);
                let _ = current.send(Some(client.clone()));
                let (stopped, reason) = pump(&client, session_events, &events, &mut stop).await;
                let _ = current.send(None);
                if stopped {
                    break;
                }
                if started.elapsed() >= config.stable_after {
                    attempt = 0;
                }
                reason
            }
            Err(error) => error,
        };
        attempt += 1;
        let retry_in = config.backoff(attempt, &mut rng);
        debug!(attempt, ?retry_in, error = %last_error, "reconnecting");
        let _ = state.send(LinkState::Reconnecting {
            attempt,
            retry_in,
            last_error,
        });
        tokio::select! {
            () = stopped(&mut stop) => break,
            () = tokio::time::sleep(retry_in) => {}
        }
    }
    let _ = current.send(None);
    let _ = state.send(LinkState::Down);
}

/// Forwards one session's events until it ends; returns (stopped by us, why it ended).
async fn pump(
    client: &Client,
    mut session_events: Events,
    events: &mpsc::UnboundedSender<ClientEvent>,
    stop: &mut watch::Receiver<bool>,
) -> (bool, String) {
    loop {
        tokio::select! {
            () = stopped(stop) => {
                client.unbind().await;
                while let Some(event) = session_events.recv().await {
                    let _ = events.send(event);
                }
                return (true, "stopped".into());
            }
            event = session_events.recv() => match event {
                Some(ClientEvent::Disconnected(reason)) => {
                    let text = reason.to_string();
                    let _ = events.send(ClientEvent::Disconnected(reason));
                    return (false, text);
                }
                Some(event) => { let _ = events.send(event); }
                None => return (false, "session ended".into()),
            }
        }
    }
}

/// Resolves once a stop was requested (or the supervisor handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
