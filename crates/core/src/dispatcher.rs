//! The dispatcher: claims due messages, hands them to connectors, records what happened.
//!
//! ```text
//!  claim_due (batch) ──► per message: route → connector.submit ──► results channel
//!       ▲                         (bounded by free capacity)            │
//!       └──── wake on new message / next due time / capacity freed ◄─── recorder: record_attempts (batch)
//! ```
//! A claimed message is marked in flight in the store until its attempt is recorded, so a
//! crash in between is detected at start-up ([`crate::store::Store::recover_in_flight`]).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};

use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::connector::{ConnectorState, OutboundSms, SubmitError, SubmitErrorKind, SubmitOutcome};
use crate::message::{Message, Status};
use crate::routing::{RouteQuery, SharedRouter};
use crate::signals::Signals;
use crate::store::{Attempt, Store};

/// Dispatcher settings (`[dispatcher]` in the config file).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherConfig {
    /// Attempts before a temporary error becomes `failed`. Default 8. Throttled attempts do not
    /// count: they retry until the message's validity runs out.
    pub max_attempts: u32,
    /// First retry delay, doubled each time. Default `"2s"`.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Longest retry delay. Default `"10m"`.
    #[serde(with = "humantime_serde")]
    pub retry_cap: Duration,
    /// What to do with a submit whose answer never came: `true` resubmits (the handset may get it
    /// twice), `false` fails it with code `ambiguous`. Default `true`.
    pub retry_ambiguous: bool,
    /// Longest a connector may take for one submit before it counts as ambiguous. Default `"60s"`.
    #[serde(with = "humantime_serde")]
    pub submit_timeout: Duration,
    /// Messages claimed per store round trip. Default 256.
    pub claim_batch: u32,
    /// How long after its validity a `sent` message without a final receipt becomes `expired`.
    /// Default `"1h"`.
    #[serde(with = "humantime_serde")]
    pub sent_expiry_grace: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(600),
            retry_ambiguous: true,
            submit_timeout: Duration::from_secs(60),
            claim_batch: 256,
            sent_expiry_grace: Duration::from_secs(3600),
        }
    }
}

/// Runs the dispatch loop until `shutdown` resolves, then waits for in-flight submits to be
/// recorded.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    router: Arc<SharedRouter>,
    config: DispatcherConfig,
    clock: Clock,
    signals: Signals,
}

impl Dispatcher {
    /// A dispatcher over a store and a route table.
    pub fn new(
        store: Arc<dyn Store>,
        router: Arc<SharedRouter>,
        config: DispatcherConfig,
        clock: Clock,
        signals: Signals,
    ) -> Self {
        Self {
            store,
            router,
            config,
            clock,
            signals,
        }
    }

    /// The loop. Recovers messages left in flight by a crash first.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let now = self.clock.now_ms();
        // Several nodes on one database: what a dead node held is taken over by the cluster
        // beat (`smsgate_core::cluster`), never at start-up, where it may belong to a live one.
        let recovered = if self.store.single_node() {
            self.store
                .recover_in_flight(now, self.config.retry_ambiguous, None)
                .await
        } else {
            Ok(0)
        };
        match recovered {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                count = n,
                retry = self.config.retry_ambiguous,
                "messages were in flight when the gateway stopped; their fate at the network is unknown"
            ),
            Err(e) => tracing::error!(error = %e, "recovering in-flight messages failed"),
        }
        let capacity: usize = self
            .router
            .current()
            .all_connectors()
            .iter()
            .map(|c| c.capacity())
            .sum::<usize>()
            .max(1);
        let permits = Arc::new(Semaphore::new(capacity));
        let (tx, rx) = mpsc::channel::<Attempt>(4096);
        let recorder = tokio::spawn(record_loop(
            Arc::clone(&self.store),
            self.clock,
            rx,
            self.signals.clone(),
        ));
        let this = Arc::new(self);
        tokio::pin!(shutdown);
        let mut last_expiry = 0i64;
        loop {
            let now = this.clock.now_ms();
            if now - last_expiry >= 1000 {
                last_expiry = now;
                let grace = this.config.sent_expiry_grace.as_millis() as i64;
                match this.store.expire_due(now, grace).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(count = n, "messages expired");
                        this.signals.events.notify_one();
                    }
                    Err(e) => tracing::error!(error = %e, "expiring messages failed"),
                }
            }
            let free = permits.available_permits() as u32;
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match this
                    .store
                    .claim_due(now, free.min(this.config.claim_batch))
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming messages failed");
                        Vec::new()
                    }
                }
            };
            let got = claimed.len();
            if got > 0 {
                this.signals.events.notify_one();
            }
            for msg in claimed {
                // The semaphore is never closed, so acquiring only waits.
                let permit = Arc::clone(&permits)
                    .acquire_owned()
                    .await
                    .expect("never closed");
                let this = Arc::clone(&this);
                let tx = tx.clone();
                tokio::spawn(async move {
                    let attempt = this.attempt(msg).await;
                    let _ = tx.send(attempt).await;
                    drop(permit);
                });
            }
            if got as u32 == free.min(this.config.claim_batch) && got > 0 {
                continue; // more may be due right now
            }
            let wake_at = match this.store.next_due_at().await {
                Ok(Some(t)) => t.min(now + 1000),
                _ => now + 1000,
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = this.signals.queued.notified() => {}
                _ = tokio::time::sleep_until(this.clock.instant_at(wake_at.max(now + 1))) => {}
            }
        }
        // Wait for every in-flight submit to finish and be recorded.
        let _ = permits.acquire_many(capacity as u32).await;
        drop(tx);
        let _ = recorder.await;
    }

    /// One attempt at one message: expiry check, route, failover, classify.
    async fn attempt(&self, msg: Message) -> Attempt {
        let now = self.clock.now_ms();
        if let Some(exp) = msg.expires_at
            && exp <= now
        {
            return Attempt::Failed {
                id: msg.id,
                connector: None,
                status: Status::Expired,
                code: "expired".into(),
                message: "validity passed before the message could be sent".into(),
            };
        }
        let choice = self.router.current().choose(RouteQuery {
            to: &msg.to,
            from: msg.from.as_deref(),
            api_key: msg.api_key_id.as_deref(),
        });
        // A message back after an `undelivered` receipt (still `sent`) skips the connectors
        // that could not deliver it.
        let mut candidates = choice.connectors;
        candidates.retain(|c| !msg.undelivered_via.iter().any(|u| u == c.name()));
        if candidates.is_empty() {
            if msg.status == Status::Sent {
                return Attempt::Failed {
                    id: msg.id,
                    connector: None,
                    status: Status::Undelivered,
                    code: "undelivered".into(),
                    message: format!(
                        "undelivered through {}; the route has no other connector left",
                        msg.undelivered_via.join(", ")
                    ),
                };
            }
            return Attempt::Failed {
                id: msg.id,
                connector: None,
                status: Status::Failed,
                code: "no_route".into(),
                message: choice.reason,
            };
        }
        let sms = OutboundSms {
            binary: msg.binary.clone(),
            id: msg.id,
            to: msg.to.clone(),
            from: msg.from.clone(),
            text: msg.text.clone(),
            encoding: msg.encoding.clone(),
            segments: msg.segments,
            expires_at: msg.expires_at,
            priority: msg.priority,
            previous_attempts: msg.attempts.saturating_sub(1),
        };
        // Failover: bound connectors first, in route order. A connector that is down, busy or
        // failing temporarily passes the message to the next; a permanent refusal or an
        // ambiguous submit (it may have gone out) stops here.
        let mut last_err = SubmitError::new(
            SubmitErrorKind::Unavailable,
            "no_connector",
            "every connector of the route is down",
        );
        let mut last_connector = None;
        let ordered = candidates
            .iter()
            .filter(|c| c.info().state == ConnectorState::Bound)
            .chain(
                candidates
                    .iter()
                    .filter(|c| c.info().state != ConnectorState::Bound),
            );
        for connector in ordered {
            let outcome =
                tokio::time::timeout(self.config.submit_timeout, connector.submit(&sms)).await;
            let outcome = outcome.unwrap_or_else(|_| {
                SubmitOutcome::Rejected(SubmitError::new(
                    SubmitErrorKind::Ambiguous,
                    "submit_timeout",
                    format!("no answer within {:?}", self.config.submit_timeout),
                ))
            });
            last_connector = Some(connector.name().to_owned());
            match outcome {
                SubmitOutcome::Accepted { remote_ids } => {
                    // Retry an undelivered receipt only when another connector is left.
                    let receipt_retry = choice
                        .receipt_retry
                        .clone()
                        .filter(|_| candidates.iter().any(|c| c.name() != connector.name()));
                    return Attempt::Sent {
                        id: msg.id,
                        connector: connector.name().to_owned(),
                        remote_ids,
                        receipt_retry,
                    };
                }
                SubmitOutcome::Rejected(e)
                    if matches!(
                        e.kind,
                        SubmitErrorKind::Unavailable
                            | SubmitErrorKind::Temporary
                            | SubmitErrorKind::Throttled
                    ) =>
                {
                    tracing::debug!(id = %msg.id, connector = connector.name(), code = %e.code, "trying the next connector");
                    last_err = e;
                }
                SubmitOutcome::Rejected(e) => {
                    last_err = e;
                    break;
                }
            }
        }
        self.classify(&msg, last_connector, last_err, now)
    }

    fn classify(
        &self,
        msg: &Message,
        connector: Option<String>,
        err: SubmitError,
        now: i64,
    ) -> Attempt {
        // A message the network already had (`sent`, back for a receipt retry) that cannot go
        // out again ends `undelivered`: `failed` would claim it never left.
        let final_status = if msg.status == Status::Sent {
            Status::Undelivered
        } else {
            Status::Failed
        };
        let failed = |code: String, message: String| Attempt::Failed {
            id: msg.id,
            connector: connector.clone(),
            status: final_status,
            code,
            message,
        };
        let kind = match err.kind {
            SubmitErrorKind::Permanent => return failed(err.code, err.message),
            SubmitErrorKind::Ambiguous if !self.config.retry_ambiguous => {
                return failed("ambiguous".into(), err.message);
            }
            SubmitErrorKind::Ambiguous => "ambiguous",
            SubmitErrorKind::Throttled => "throttled",
            SubmitErrorKind::Temporary | SubmitErrorKind::Unavailable => "retry",
        };
        // Throttling is flow control, not failure: it is bounded by the validity, not by attempts.
        if kind != "throttled" && msg.attempts >= self.config.max_attempts {
            return failed(
                err.code,
                format!("{} (gave up after {} attempts)", err.message, msg.attempts),
            );
        }
        let backoff = Backoff::new(self.config.retry_base, self.config.retry_cap);
        let delay = if kind == "throttled" {
            backoff.delay(0)
        } else {
            backoff.delay(msg.attempts.saturating_sub(1))
        };
        Attempt::Retry {
            id: msg.id,
            connector,
            retry_at: now + delay.as_millis() as i64,
            kind,
            code: err.code,
            message: err.message,
        }
    }
}

/// Batches attempt results into store commits.
async fn record_loop(
    store: Arc<dyn Store>,
    clock: Clock,
    mut rx: mpsc::Receiver<Attempt>,
    signals: Signals,
) {
    let mut batch = Vec::with_capacity(512);
    while rx.recv_many(&mut batch, 512).await > 0 {
        let mut delay = Duration::from_millis(100);
        loop {
            match store.record_attempts(batch.clone(), clock.now_ms()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, count = batch.len(), "recording submit results failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        batch.clear();
        signals.events.notify_one();
        signals.queued.notify_one(); // retries may be due and capacity is free again
    }
}
