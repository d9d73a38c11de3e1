//! The built-in simulated network: a connector that behaves like a carrier without one.
//!
//! It accepts submits, assigns ids, reports delivery after a delay, and fails or throttles a
//! configurable share of traffic, so a newcomer sees the whole lifecycle in a minute and tests
//! can exercise retries. [`SimNetwork::inject_inbound`] plays a phone texting the gateway.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use serde::{Deserialize, Serialize};

use smsgate_core::connector::{
    Connector, ConnectorEvent, ConnectorEvents, ConnectorInfo, ConnectorState, InboundInjector,
    InboundSms, OutboundSms, Receipt, ReceiptState, SubmitError, SubmitErrorKind, SubmitOutcome,
};

use crate::InvalidSetting;

/// `type = "simulator"` connector settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Time from submit to delivery report. Default `"1s"`.
    #[serde(with = "humantime_serde")]
    pub delivery_delay: Duration,
    /// Time a submit takes to be answered. Default `"0s"`.
    #[serde(with = "humantime_serde")]
    pub submit_latency: Duration,
    /// Share of messages (0.0–1.0) reported `undelivered`. Default 0.
    pub failure_rate: f64,
    /// Share of submits (0.0–1.0) answered "throttled" (retried by the dispatcher). Default 0.
    pub throttle_rate: f64,
    /// Share of submits (0.0–1.0) refused permanently. Default 0.
    pub reject_rate: f64,
    /// Submits outstanding at once. Default 64.
    pub capacity: usize,
    /// Keep the network's memory in this file: each accepted submit (`S <message id> <state>
    /// <remote ids…>`, synced before the submit is answered) and each receipt handed over
    /// (`R <remote id>`). On start the simulator re-sends receipts still owed, like a real SMSC
    /// after a reconnect; tests count submits per message in it. Default: none (memory only).
    pub journal: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            delivery_delay: Duration::from_secs(1),
            submit_latency: Duration::ZERO,
            failure_rate: 0.0,
            throttle_rate: 0.0,
            reject_rate: 0.0,
            capacity: 64,
            journal: None,
        }
    }
}

impl SimConfig {
    /// Checks that every rate is a share between 0 and 1.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (key, v) in [
            ("failure_rate", self.failure_rate),
            ("throttle_rate", self.throttle_rate),
            ("reject_rate", self.reject_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(InvalidSetting(format!(
                    "{key} = {v} must be between 0.0 and 1.0"
                )));
            }
        }
        Ok(())
    }
}

/// The simulated network connector.
pub struct SimNetwork {
    name: String,
    config: SimConfig,
    events: ConnectorEvents,
    next_id: AtomicU64,
    submitted: AtomicU64,
    failed: AtomicU64,
    receipts: AtomicU64,
    inbound: AtomicU64,
    in_flight: AtomicU64,
    journal: Option<Journal>,
    owed: Mutex<Vec<(String, ReceiptState)>>,
    pending_receipts: Arc<AtomicU64>,
}

impl SimNetwork {
    /// A simulator reporting into `events`. Fails only if the journal file cannot be opened.
    pub fn new(name: &str, config: SimConfig, events: ConnectorEvents) -> std::io::Result<Self> {
        let (journal, owed) = match &config.journal {
            Some(p) => {
                let owed = replay_journal(p)?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                (Some(Journal::start(file)), owed)
            }
            None => (None, Vec::new()),
        };
        let next = owed.len() as u64;
        Ok(Self {
            name: name.to_owned(),
            config,
            events,
            // Remote ids must not repeat across restarts: start past the wall clock's ms.
            next_id: AtomicU64::new(unix_ms() * 1000 + next),
            submitted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            inbound: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            journal,
            owed: Mutex::new(owed),
            pending_receipts: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Sends the receipts a previous run still owed (from the journal). Call once the gateway's
    /// event ingest runs.
    pub fn resume(&self) {
        let owed = std::mem::take(&mut *self.owed.lock().unwrap_or_else(|e| e.into_inner()));
        if !owed.is_empty() {
            tracing::info!(connector = %self.name, count = owed.len(), "simulator resends owed receipts");
        }
        for (remote_id, state) in owed {
            self.schedule_receipts(vec![remote_id], state, Duration::ZERO);
        }
    }

    /// Waits until every scheduled receipt is handed over (graceful shutdown), at most `limit`.
    pub async fn drain(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending_receipts.load(Ordering::Acquire) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn schedule_receipts(&self, ids: Vec<String>, state: ReceiptState, delay: Duration) {
        let events = self.events.clone();
        let name = self.name.clone();
        let journal = self.journal.clone();
        let pending = Arc::clone(&self.pending_receipts);
        pending.fetch_add(ids.len() as u64, Ordering::AcqRel);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for remote_id in ids {
                let error_code = (state == ReceiptState::Undelivered).then(|| "001".to_owned());
                let receipt = Receipt {
                    connector: name.clone(),
                    remote_id: remote_id.clone(),
                    state,
                    error_code,
                };
                if events
                    .report_durably(ConnectorEvent::Receipt(receipt))
                    .await
                    && let Some(j) = &journal
                {
                    j.note(format!("R {remote_id}"));
                }
                pending.fetch_sub(1, Ordering::AcqRel);
            }
        });
    }

    /// A phone texts the gateway: the SMS arrives as if from the network. Returns once stored.
    pub async fn inject_inbound(&self, from: &str, to: &str, text: &str) -> bool {
        self.inbound.fetch_add(1, Ordering::Relaxed);
        self.events
            .report_durably(ConnectorEvent::Inbound(InboundSms {
                connector: self.name.clone(),
                from: from.to_owned(),
                to: to.to_owned(),
                text: text.to_owned(),
                incomplete: false,
                binary: None,
            }))
            .await
    }

    fn roll(rate: f64) -> bool {
        rate > 0.0 && rand::thread_rng().gen_bool(rate.clamp(0.0, 1.0))
    }
}

#[async_trait]
impl InboundInjector for SimNetwork {
    async fn inject_inbound(&self, from: &str, to: &str, text: &str) -> bool {
        SimNetwork::inject_inbound(self, from, to, text).await
    }
}

#[async_trait]
impl Connector for SimNetwork {
    fn name(&self) -> &str {
        &self.name
    }

    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.name.clone(),
            kind: "simulator".into(),
            state: ConnectorState::Bound,
            submitted: self.submitted.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            receipts: self.receipts.load(Ordering::Relaxed),
            inbound: self.inbound.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            details: serde_json::json!({
                "delivery_delay_ms": self.config.delivery_delay.as_millis() as u64,
                "failure_rate": self.config.failure_rate,
                "throttle_rate": self.config.throttle_rate,
            }),
        }
    }

    fn capacity(&self) -> usize {
        self.config.capacity.max(1)
    }

    async fn submit(&self, sms: &OutboundSms) -> SubmitOutcome {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if !self.config.submit_latency.is_zero() {
            tokio::time::sleep(self.config.submit_latency).await;
        }
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if Self::roll(self.config.throttle_rate) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return SubmitOutcome::Rejected(SubmitError::new(
                SubmitErrorKind::Throttled,
                "throttled",
                "simulated network: throttled",
            ));
        }
        if Self::roll(self.config.reject_rate) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return SubmitOutcome::Rejected(SubmitError::new(
                SubmitErrorKind::Permanent,
                "rejected",
                "simulated network: destination rejected",
            ));
        }
        let parts = sms.segments.max(1) as u64;
        let first = self.next_id.fetch_add(parts, Ordering::Relaxed);
        let remote_ids: Vec<String> = (first..first + parts).map(|n| format!("sim-{n}")).collect();
        let state = if Self::roll(self.config.failure_rate) {
            ReceiptState::Undelivered
        } else {
            ReceiptState::Delivered
        };
        if let Some(j) = &self.journal {
            let tag = if state == ReceiptState::Delivered {
                "delivered"
            } else {
                "undelivered"
            };
            let line = format!("S {} {tag} {}", sms.id, remote_ids.join(" "));
            if let Err(e) = j.record(line).await {
                return SubmitOutcome::Rejected(SubmitError::new(
                    SubmitErrorKind::Temporary,
                    "journal",
                    format!("simulator journal: {e}"),
                ));
            }
        }
        self.submitted.fetch_add(1, Ordering::Relaxed);
        self.receipts.fetch_add(parts, Ordering::Relaxed);
        self.schedule_receipts(remote_ids.clone(), state, self.config.delivery_delay);
        SubmitOutcome::Accepted { remote_ids }
    }
}

/// The simulator's journal: a thread that appends lines and syncs them to disk in groups, so
/// concurrent submits share one `fdatasync` and no tokio worker ever blocks on the disk.
#[derive(Clone)]
struct Journal {
    tx: std::sync::mpsc::Sender<JournalLine>,
}

/// A line to append; `done` is answered once it is on disk (`None`: no one waits).
type JournalLine = (
    String,
    Option<tokio::sync::oneshot::Sender<std::io::Result<()>>>,
);

impl Journal {
    fn start(file: std::fs::File) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<JournalLine>();
        std::thread::Builder::new()
            .name("sim-journal".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::new(file);
                let mut waiting = Vec::new();
                // Ends when every sender (the simulator and its receipt tasks) is gone.
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    let mut result = Ok(());
                    for (line, done) in batch {
                        if result.is_ok() {
                            result = writeln!(out, "{line}");
                        }
                        waiting.extend(done);
                    }
                    let result = result
                        .and_then(|()| out.flush())
                        .and_then(|()| out.get_ref().sync_data());
                    for done in waiting.drain(..) {
                        let _ = done.send(match &result {
                            Ok(()) => Ok(()),
                            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                        });
                    }
                }
            })
            .expect("spawn the simulator journal thread");
        Self { tx }
    }

    /// Appends `line` and waits until it is on disk.
    async fn record(&self, line: String) -> std::io::Result<()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let closed = || std::io::Error::other("the journal thread stopped");
        self.tx.send((line, Some(done))).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Appends `line` without waiting (it is synced with the next group).
    fn note(&self, line: String) {
        let _ = self.tx.send((line, None));
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Reads a journal and returns the receipts still owed, oldest first.
fn replay_journal(path: &std::path::Path) -> std::io::Result<Vec<(String, ReceiptState)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut owed: Vec<(String, ReceiptState)> = Vec::new();
    let mut done = std::collections::HashSet::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("S") => {
                let _id = f.next();
                let state = match f.next() {
                    Some("undelivered") => ReceiptState::Undelivered,
                    _ => ReceiptState::Delivered,
                };
                owed.extend(f.map(|r| (r.to_owned(), state)));
            }
            Some("R") => {
                if let Some(r) = f.next() {
                    done.insert(r.to_owned());
                }
            }
            _ => {} // a line torn by a crash
        }
    }
    owed.retain(|(r, _)| !done.contains(r));
    Ok(owed)
}

/// Counts accepted submits per message id in a journal (tests: duplicates at "the network").
pub fn journal_submits(
    path: &std::path::Path,
) -> std::io::Result<std::collections::HashMap<String, u32>> {
    let mut counts = std::collections::HashMap::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("S")
            && let Some(id) = f.next()
        {
            *counts.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}
