//! An SMSC simulator on top of the server driver, with an in-memory handler: accepts binds,
//! answers `submit_sm` with ids, sends delivery receipts after a delay, injects failures,
//! throttling and disconnects at configured rates, injects mobile-originated messages, and
//! keeps statistics. Used by `smsgate sim smsc`, the benchmarks and the interop tests.

mod handler;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;

use crate::receipt::{IdRadix, ReceiptState};
use crate::rng::Rng;
use crate::server::{Server, ServerConfig, SessionHandle, SessionId};
use crate::session::SessionConfig;
use handler::SimHandler;

/// Simulator settings; defaults documented per field. Rates are probabilities in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// `system_id` in bind responses. Default `"smsgate-sim"`.
    pub system_id: String,
    /// Accepted `(system_id, password)` pairs; empty (default) accepts any credentials.
    pub accounts: Vec<(String, String)>,
    /// Delay between `submit_sm_resp` and the receipt. Default 1 s.
    pub receipt_delay: Duration,
    /// Time between accepting a `submit_sm` (the message is tracked and counted) and writing
    /// its `submit_sm_resp`, like an SMSC's store-then-answer round trip. Widens the window in
    /// which an ESME that dies loses the response of a message the SMSC has, which the crash
    /// tests need. Default 0.
    pub submit_latency: Duration,
    /// Share of submits answered `ESME_RSUBMITFAIL`. Default 0.
    pub failure_rate: f64,
    /// Share of submits answered `ESME_RTHROTTLED`. Default 0.
    pub throttle_rate: f64,
    /// Share of submits on which the connection is dropped without a response. Default 0.
    pub disconnect_rate: f64,
    /// Share of accepted messages whose receipt says `UNDELIV`. Default 0.
    pub undeliverable_rate: f64,
    /// How message ids are written in `submit_sm_resp` and the TLV: `Hex` (default) or
    /// `Decimal` (`Text` behaves as `Decimal`).
    pub id_format: IdRadix,
    /// Quirk of many real SMSCs: the text receipt's `id:` is written in decimal even when the
    /// resp used hex. Default false.
    pub text_id_decimal: bool,
    /// Seed for the injected faults, so runs are reproducible. Default 1.
    pub seed: u64,
    /// Session settings for every connection.
    pub session: SessionConfig,
    /// Messages kept for per-id lookups (oldest dropped first). Default 100 000.
    pub max_tracked: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            system_id: "smsgate-sim".into(),
            accounts: Vec::new(),
            receipt_delay: Duration::from_secs(1),
            submit_latency: Duration::ZERO,
            failure_rate: 0.0,
            throttle_rate: 0.0,
            disconnect_rate: 0.0,
            undeliverable_rate: 0.0,
            id_format: IdRadix::Hex,
            text_id_decimal: false,
            seed: 1,
            session: SessionConfig::default(),
            max_tracked: 100_000,
        }
    }
}

/// Counters of a simulator since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Successful binds.
    pub binds: u64,
    /// Rejected binds (wrong credentials).
    pub bind_rejected: u64,
    /// Sessions bound right now.
    pub sessions: u64,
    /// `submit_sm` received.
    pub submits: u64,
    /// Submits accepted with a message id.
    pub accepted: u64,
    /// Submits answered `ESME_RSUBMITFAIL` (injected).
    pub failed: u64,
    /// Submits answered `ESME_RTHROTTLED` (injected).
    pub throttled: u64,
    /// Connections dropped on a submit (injected).
    pub disconnects: u64,
    /// Receipts written to an ESME.
    pub receipts_sent: u64,
    /// Receipts the ESME acknowledged with `ESME_ROK`.
    pub receipts_acked: u64,
    /// Receipts waiting for a receiver bind of their account.
    pub receipts_pending: u64,
    /// Mobile-originated messages injected.
    pub mo_injected: u64,
    /// Injected MO messages the ESME acknowledged.
    pub mo_delivered: u64,
}

/// What the simulator knows about one accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The id returned in `submit_sm_resp`.
    pub message_id: String,
    /// The submitting account's `system_id`.
    pub system_id: String,
    /// `source_addr`.
    pub source: String,
    /// `destination_addr`.
    pub destination: String,
    /// `short_message` octets.
    pub short_message: Vec<u8>,
    /// `data_coding` octet.
    pub data_coding: u8,
    /// `esm_class` octet (0x40 = UDH present).
    pub esm_class: u8,
    /// When it was accepted.
    pub submitted_at: SystemTime,
    /// The receipt state, once a receipt was generated.
    pub receipt: Option<ReceiptState>,
    /// Whether the receipt was acknowledged by the ESME.
    pub receipt_acked: bool,
}

/// How an injected MO message longer than one SMS travels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MoLong {
    /// One `deliver_sm`; beyond 254 octets in `message_payload` (SMPP 3.4 §5.3.2.32).
    #[default]
    Payload,
    /// One `deliver_sm` per part with a concatenation UDH (`esm_class` 0x40).
    Udh,
    /// One `deliver_sm` per part with SAR TLVs (SMPP 3.4 §5.3.2.22–24).
    Sar,
}

/// A mobile-originated message to inject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoMessage {
    /// The sender's number (`source_addr`).
    pub from: String,
    /// The short code or number it was sent to (`destination_addr`).
    pub to: String,
    /// The text; GSM 03.38 when it fits, else UCS-2; over 254 octets it travels in
    /// `message_payload` (SMPP 3.4 §5.3.2.32).
    pub text: String,
    /// Deliver only to sessions of this `system_id`; `None` for any receiver.
    pub system_id: Option<String>,
    /// How a long text travels. Default: one PDU with `message_payload`.
    pub long: MoLong,
}

/// Why an MO injection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    /// No receiver or transceiver session (of that `system_id`) is bound.
    #[error("no bound receiver")]
    NoReceiver,
    /// An address is too long for SMPP (20 characters).
    #[error("invalid address")]
    InvalidAddress,
    /// Every bound receiver refused or failed.
    #[error("delivery failed: {0}")]
    Failed(String),
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub binds: AtomicU64,
    pub bind_rejected: AtomicU64,
    pub submits: AtomicU64,
    pub accepted: AtomicU64,
    pub failed: AtomicU64,
    pub throttled: AtomicU64,
    pub disconnects: AtomicU64,
    pub receipts_sent: AtomicU64,
    pub receipts_acked: AtomicU64,
    pub mo_injected: AtomicU64,
    pub mo_delivered: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug, Default)]
pub(crate) struct Tracked {
    pub by_id: HashMap<String, MessageRecord>,
    pub order: VecDeque<String>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub config: SimConfig,
    pub counters: Counters,
    pub rng: Mutex<Rng>,
    pub next_id: AtomicU64,
    pub sessions: Mutex<HashMap<SessionId, SessionHandle>>,
    pub messages: Mutex<Tracked>,
    /// Receipts waiting for a receiver bind, per `system_id`, with their message ids.
    pub pending: Mutex<HashMap<String, VecDeque<(String, rusmpp::pdus::DeliverSm)>>>,
}

impl Inner {
    /// A random concatenation reference for injected long messages.
    pub(crate) fn rng_u16(&self) -> u16 {
        lock(&self.rng).next_u64() as u16
    }
}

/// Locks a std mutex, ignoring poisoning: every critical section here is a plain map update
/// that cannot leave the data half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The simulator: cheap to clone, shared between the server task and API callers.
#[derive(Debug, Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
    server: Arc<Server<SimHandler>>,
}

impl Simulator {
    /// A simulator with `config`; nothing runs until [`Simulator::run`].
    pub fn new(config: SimConfig) -> Self {
        let inner = Arc::new(Inner {
            rng: Mutex::new(Rng::new(config.seed)),
            counters: Counters::default(),
            next_id: AtomicU64::new(0x1000),
            sessions: Mutex::new(HashMap::new()),
            messages: Mutex::new(Tracked::default()),
            pending: Mutex::new(HashMap::new()),
            config,
        });
        let server_config = ServerConfig {
            system_id: inner.config.system_id.clone(),
            session: inner.config.session.clone(),
            ..ServerConfig::default()
        };
        let server = Arc::new(Server::new(
            Arc::new(SimHandler(inner.clone())),
            server_config,
        ));
        Self { inner, server }
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn run(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.server.clone().serve(listener, shutdown).await
    }

    /// Serves SMPP over TLS on `listener` until `shutdown` resolves.
    pub async fn run_tls(
        &self,
        listener: TcpListener,
        acceptor: crate::tls::TlsAcceptor,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.server
            .clone()
            .serve_tls(listener, acceptor, shutdown)
            .await
    }

    /// Serves one connection over any transport (for duplex tests).
    pub async fn serve_connection<T>(&self, io: T)
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        self.server
            .clone()
            .serve_connection(io, "duplex".into())
            .await
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            binds: get(&c.binds),
            bind_rejected: get(&c.bind_rejected),
            sessions: lock(&self.inner.sessions).len() as u64,
            submits: get(&c.submits),
            accepted: get(&c.accepted),
            failed: get(&c.failed),
            throttled: get(&c.throttled),
            disconnects: get(&c.disconnects),
            receipts_sent: get(&c.receipts_sent),
            receipts_acked: get(&c.receipts_acked),
            receipts_pending: lock(&self.inner.pending)
                .values()
                .map(|q| q.len() as u64)
                .sum(),
            mo_injected: get(&c.mo_injected),
            mo_delivered: get(&c.mo_delivered),
        }
    }

    /// Protocol counters of the underlying server (malformed PDUs, timeouts, …).
    pub fn protocol_counters(&self) -> crate::counters::CountersSnapshot {
        self.server.counters()
    }

    /// What is known about one message id.
    pub fn message(&self, message_id: &str) -> Option<MessageRecord> {
        lock(&self.inner.messages).by_id.get(message_id).cloned()
    }

    /// Every tracked message, oldest first.
    pub fn messages(&self) -> Vec<MessageRecord> {
        let tracked = lock(&self.inner.messages);
        tracked
            .order
            .iter()
            .filter_map(|id| tracked.by_id.get(id).cloned())
            .collect()
    }

    /// Injects a mobile-originated message: a `deliver_sm` to the first bound receiver or
    /// transceiver (of `system_id`, if given) that acknowledges it. Returns that session's id.
    pub async fn inject_mo(&self, mo: MoMessage) -> Result<SessionId, InjectError> {
        handler::inject_mo(&self.inner, mo).await
    }
}
