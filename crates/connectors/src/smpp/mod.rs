//! The `smpp` connector: a carrier SMSC reached as an ESME (SMPP 3.4/5.0) through
//! `smsgate-smpp`'s reconnecting [`Supervisor`]s, one per configured session.
//!
//! - **Submit**: `outbound` builds the `submit_sm`s of a message (encoding and segmentation by
//!   `smsgate-sms`); each waits for the throttle pause and the shared `max_tps` pacer, then goes
//!   out on the next bound session (round robin) within its window. Failures are classified for
//!   the dispatcher: not bound → `Unavailable` (failover), `ESME_RTHROTTLED`/`ESME_RMSGQFUL` →
//!   pause the connector and `Throttled`, transient statuses → `Temporary`, others →
//!   `Permanent`, no response → `Ambiguous` (or a permanent `ambiguous` failure with
//!   `on_ambiguous = "fail"`). Once part 1 of a long message is accepted, later parts are retried
//!   here a few times rather than handed back, since a retry of the whole message would repeat
//!   part 1 on the handset.
//! - **Receive**: `events` drains every session's events; receipts and reassembled MO messages
//!   are reported with `report_durably` and the `deliver_sm` is acknowledged only after that.
//!   Receipts are correlated by the store (`message_parts`, orphan receipts for those that
//!   overtake their `submit_sm_resp`), so ids here are only normalised.
//!
//! # Layout
//! - `settings`: the config keys and defaults.
//! - `outbound`: `OutboundSms` → `submit_sm`s (pure).
//! - `inbox`: `deliver_sm`/`data_sm` → receipts and reassembled inbound messages (pure).
//! - `throttle`: the pause after throttling (pure).
//! - `events`: the task per session that reports what arrives.

mod events;
pub mod inbox;
mod outbound;
pub mod settings;
mod throttle;

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use smsgate_core::clock::Clock;
use smsgate_core::connector::{
    Connector, ConnectorInfo, ConnectorState, OutboundSms, SubmitError, SubmitErrorKind,
    SubmitOutcome,
};
use smsgate_smpp::client::{AmbiguousReason, Client, SubmitError as SmppError};
use smsgate_smpp::pacer::Pacer;
use smsgate_smpp::pdu::CommandStatus;
use smsgate_smpp::session::BindType;
use smsgate_smpp::supervisor::{LinkState, Supervisor, TcpDialer, TlsDialer};

use settings::OnAmbiguous;
pub use settings::SmppSettings;
use throttle::Throttle;

/// How often a later part of a long message is retried here before the message is handed back.
const PART_RETRIES: u32 = 3;

/// Counters shown in `/v1/connectors`.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    submitted: AtomicU64,
    failed: AtomicU64,
    pub receipts: AtomicU64,
    pub inbound: AtomicU64,
    in_flight: AtomicU64,
    throttled: AtomicU64,
    ambiguous: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A running SMPP connector.
pub struct SmppConnector {
    name: String,
    settings: SmppSettings,
    sessions: Vec<Supervisor>,
    /// The bind of each session, in the same order.
    binds: Vec<BindType>,
    next: AtomicUsize,
    pacer: Option<Pacer>,
    throttle: Mutex<Throttle>,
    reference: AtomicU16,
    stats: Arc<Stats>,
    clock: Clock,
}

/// Why an SMPP connector could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting does not hold (also caught at config load).
    #[error(transparent)]
    Settings(#[from] crate::InvalidSetting),
    /// The TLS files could not be loaded or the server name is not valid.
    #[error(transparent)]
    Tls(#[from] smsgate_smpp::tls::TlsError),
}

impl SmppConnector {
    /// Starts the sessions and their event tasks; binding happens in the background.
    pub fn start(
        name: &str,
        settings: SmppSettings,
        ctx: &crate::BuildContext,
    ) -> Result<Self, StartError> {
        settings.validate()?;

        let stats = Arc::new(Stats::default());
        let reading = inbox::Reading {
            connector: name.to_owned(),
            tlv_ids: settings.submit_ids(),
            text_ids: settings.text_receipt_ids(),
            data_coding: settings.data_coding,
            gsm7_packed: settings.gsm7_packed,
        };
        let tls = match settings.tls()? {
            Some(tls) => Some((tls.load()?, tls.server_name(&settings.host)?)),
            None => None,
        };
        let binds = settings.bind_types();
        let mut sessions = Vec::with_capacity(binds.len());
        for (n, &bind_type) in binds.iter().enumerate() {
            let config = settings.supervisor(bind_type)?;
            let tcp = TcpDialer {
                addr: format!("{}:{}", settings.host, settings.port()),
                timeout: settings.connect_timeout,
            };
            let (sup, session_events) = match &tls {
                None => Supervisor::spawn(tcp, config),
                Some((tls, server_name)) => {
                    let connector = TlsDialer {
                        tcp,
                        config: tls.clone(),
                        server_name: server_name.clone(),
                    };
                    Supervisor::spawn(connector, config)
                }
            };
            let task = events::EventTask {
                reading: reading.clone(),
                sink: ctx.events.clone(),
                stats: stats.clone(),
                timeout: settings.reassembly_timeout,
                ack_after: settings.part_ack_timeout,
                clock: ctx.clock,
                session: n,
            };
            tokio::spawn(task.run(session_events));
            sessions.push(sup);
        }
        Ok(Self {
            name: name.to_owned(),
            pacer: settings.max_tps.map(Pacer::new),
            throttle: Mutex::new(Throttle::new(settings.throttle_pause)),
            reference: AtomicU16::new(rand_u16()),
            settings,
            sessions,
            binds,
            next: AtomicUsize::new(0),
            stats,
            clock: ctx.clock,
        })
    }

    /// The next bound session that may submit, round robin.
    fn pick(&self) -> Option<Client> {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .filter_map(|i| self.sessions[(start + i) % n].client())
            .find(|c| c.is_bound() && c.bind_info().bind_type.can_submit())
    }

    async fn wait_turn(&self) {
        loop {
            let now = tokio::time::Instant::now().into_std();
            let resume = lock(&self.throttle).poll_resume_at(now);
            match resume {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => break,
            }
        }
        if let Some(p) = &self.pacer {
            p.wait().await;
        }
    }

    fn throttled(&self) {
        bump(&self.stats.throttled);
        lock(&self.throttle).handle_throttled(tokio::time::Instant::now().into_std());
    }

    fn ambiguous(&self, why: AmbiguousReason, part: usize, total: usize) -> SubmitError {
        bump(&self.stats.ambiguous);
        let message = format!(
            "no usable response to part {} of {total} ({why:?}); the SMSC may have it",
            part + 1
        );
        match self.settings.on_ambiguous {
            OnAmbiguous::Retry => {
                SubmitError::new(SubmitErrorKind::Ambiguous, "ambiguous", message)
            }
            OnAmbiguous::Fail => SubmitError::new(SubmitErrorKind::Permanent, "ambiguous", message),
        }
    }

    /// Sends one part; `Ok(remote id)` or the error to hand back.
    async fn submit_part(
        &self,
        sm: &rusmpp::pdus::SubmitSm,
        part: usize,
        total: usize,
    ) -> Result<String, SubmitError> {
        let mut tries = 0u32;
        loop {
            self.wait_turn().await;
            let later = part > 0;
            let retry = |tries: &mut u32| {
                *tries += 1;
                later && *tries <= PART_RETRIES
            };
            let Some(client) = self.pick() else {
                if retry(&mut tries) {
                    tokio::time::sleep(self.settings.reconnect_initial).await;
                    continue;
                }
                let kind = if later {
                    SubmitErrorKind::Temporary
                } else {
                    SubmitErrorKind::Unavailable
                };
                return Err(SubmitError::new(
                    kind,
                    "not_bound",
                    format!("no bound SMPP session (part {} of {total})", part + 1),
                ));
            };
            let status = match client.submit(sm.clone()).await {
                Ok(resp) => {
                    lock(&self.throttle).handle_success();
                    return Ok(self
                        .settings
                        .submit_ids()
                        .normalize(resp.message_id().as_str()));
                }
                Err(SmppError::NotBound) => {
                    // Never written: another session may take it.
                    if tries < self.sessions.len() as u32 + PART_RETRIES {
                        tries += 1;
                        continue;
                    }
                    return Err(SubmitError::new(
                        SubmitErrorKind::Unavailable,
                        "not_bound",
                        "the SMPP session closed before the submit was written",
                    ));
                }
                Err(SmppError::Ambiguous(why)) => return Err(self.ambiguous(why, part, total)),
                Err(SmppError::Throttled(status)) => {
                    self.throttled();
                    if retry(&mut tries) {
                        continue;
                    }
                    (SubmitErrorKind::Throttled, status)
                }
                Err(SmppError::Temporary(status)) => {
                    if retry(&mut tries) {
                        tokio::time::sleep(self.settings.throttle_pause).await;
                        continue;
                    }
                    (SubmitErrorKind::Temporary, status)
                }
                Err(SmppError::Permanent(status)) => (SubmitErrorKind::Permanent, status),
            };
            let (kind, status) = status;
            return Err(status_error(kind, status, part, total));
        }
    }
}

fn status_error(
    kind: SubmitErrorKind,
    status: CommandStatus,
    part: usize,
    total: usize,
) -> SubmitError {
    let code = u32::from(status);
    let mut message = format!("the SMSC answered {status:?} (0x{code:08x})");
    if part > 0 {
        message.push_str(&format!(
            " to part {} of {total}; earlier parts were accepted",
            part + 1
        ));
    }
    SubmitError::new(kind, format!("smpp_0x{code:08x}"), message)
}

/// Counts a submit in flight until dropped (also when the dispatcher gives up on the future).
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn new(c: &'a AtomicU64) -> Self {
        c.fetch_add(1, Ordering::Relaxed);
        Self(c)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Critical sections are single assignments; a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn rand_u16() -> u16 {
    smsgate_smpp::rng::Rng::from_entropy().next_u64() as u16
}

fn link_json(state: &LinkState) -> serde_json::Value {
    match state {
        LinkState::Connecting => json!({"state": "connecting"}),
        LinkState::Bound => json!({"state": "bound"}),
        LinkState::Reconnecting {
            attempt,
            retry_in,
            last_error,
        } => json!({
            "state": "reconnecting",
            "attempt": attempt,
            "retry_in_ms": retry_in.as_millis() as u64,
            "last_error": last_error,
        }),
        LinkState::Down => json!({"state": "down"}),
    }
}

#[async_trait]
impl Connector for SmppConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn share_rate(&self, nodes: u32) {
        if let Some(p) = &self.pacer {
            p.share(nodes);
        }
    }

    fn info(&self) -> ConnectorInfo {
        let links: Vec<LinkState> = self.sessions.iter().map(Supervisor::state).collect();
        let state = if links.contains(&LinkState::Bound) {
            ConnectorState::Bound
        } else if links.iter().any(|l| l != &LinkState::Down) {
            ConnectorState::Reconnecting
        } else {
            ConnectorState::Down
        };
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let now = tokio::time::Instant::now().into_std();
        let paused = lock(&self.throttle)
            .poll_resume_at(now)
            .map(|u| (u - now).as_millis() as u64);
        ConnectorInfo {
            name: self.name.clone(),
            kind: "smpp".into(),
            state,
            submitted: get(&s.submitted),
            failed: get(&s.failed),
            receipts: get(&s.receipts),
            inbound: get(&s.inbound),
            in_flight: get(&s.in_flight),
            details: json!({
                "smsc": format!("{}:{}", self.settings.host, self.settings.port()),
                "tls": self.settings.tls,
                "system_id": self.settings.system_id,
                "bind": format!("{:?}", self.settings.bind).to_lowercase(),
                "window": self.settings.window,
                "max_tps": self.settings.max_tps,
                "node_tps": self.pacer.as_ref().map(|p| p.rate()),
                "sessions": links
                    .iter()
                    .zip(&self.binds)
                    .map(|(link, bind)| {
                        let mut j = link_json(link);
                        j["bind"] = json!(format!("{bind:?}").to_lowercase());
                        j
                    })
                    .collect::<Vec<_>>(),
                "throttled": get(&s.throttled),
                "throttle_pause_ms": paused,
                "ambiguous": get(&s.ambiguous),
            }),
        }
    }

    fn capacity(&self) -> usize {
        self.settings.window * self.settings.sessions
    }

    async fn submit(&self, sms: &OutboundSms) -> SubmitOutcome {
        let reference = self.reference.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now_ms();
        let submits = match outbound::build(sms, &self.settings, reference, now) {
            Ok(s) => s,
            Err(e) => {
                bump(&self.stats.failed);
                let code = match e {
                    outbound::BuildError::Address(_) => "invalid_address",
                    _ => "unencodable",
                };
                return SubmitOutcome::Rejected(SubmitError::new(
                    SubmitErrorKind::Permanent,
                    code,
                    e.to_string(),
                ));
            }
        };
        let _in_flight = InFlight::new(&self.stats.in_flight);
        let total = submits.len();
        let mut remote_ids = Vec::with_capacity(total);
        let mut outcome = None;
        for (i, sm) in submits.iter().enumerate() {
            match self.submit_part(sm, i, total).await {
                Ok(id) => remote_ids.push(id),
                Err(e) => {
                    outcome = Some(SubmitOutcome::Rejected(e));
                    break;
                }
            }
        }
        match outcome {
            Some(rejected) => {
                bump(&self.stats.failed);
                rejected
            }
            None => {
                bump(&self.stats.submitted);
                SubmitOutcome::Accepted { remote_ids }
            }
        }
    }
}
