//! The one door into the queue. Every northbound channel (the REST API and its batch, the SMPP
//! server, the IoT engine) hands its requests to an [`Intake`], which runs the same steps in the
//! same order: **prepare** (validate and price, [`prepare()`]), **admit** (the `[limits]
//! max_queued` gate, [`gate`]), **insert** (one durable commit), **signal** (count the new
//! messages at the gate and wake the dispatcher and the webhook pipeline). A channel that stores
//! something besides the message in the same commit (the SMPP server's submission record, the
//! IoT engine's state) passes its own insert to [`Intake::insert_with`]; the other steps stay
//! here, so a new channel cannot forget one.
//!
//! # Layout
//! - [`prepare`](mod@prepare): validation and pricing, pure.
//! - [`gate`]: the queue-depth bound shared by every channel.

pub mod body;
pub mod gate;
pub mod prepare;

use crate::routing::RouteQuery;
use std::future::Future;
use std::sync::Arc;

pub use body::SendMessage;
pub use gate::{QueueFull, QueueGate};
pub use prepare::{IntakeLimits, Rejection, SendRequest, check_url, parse_statuses, prepare};

use crate::clock::Clock;
use crate::message::NewMessage;
use crate::signals::Signals;
use crate::store::{Accepted, Store, StoreError};

/// Why a send did not enter the queue. Each channel answers it its own way (HTTP 400/429/503,
/// an SMPP `command_status`).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The request itself is wrong (bad number, text too long, …): the client must change it.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The queue is at `[limits] max_queued`: the client should retry later.
    #[error(transparent)]
    QueueFull(#[from] QueueFull),
    /// The store could not commit: nothing was accepted, the client should retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The door: limits, the gate, the store and the wake-ups, shared by every channel.
pub struct Intake {
    store: Arc<dyn Store>,
    limits: IntakeLimits,
    clock: Clock,
    signals: Signals,
    gate: Arc<QueueGate>,
    optouts: Arc<crate::compliance::OptOuts>,
    consents: Arc<crate::compliance::Consents>,
    quiet: Arc<crate::quiet::QuietHours>,
    /// The live routes, for their quiet hours (set once the router exists).
    router: std::sync::OnceLock<Arc<crate::routing::SharedRouter>>,
}

impl Intake {
    /// A door over `store` with `[limits]`.
    pub fn new(
        store: Arc<dyn Store>,
        limits: IntakeLimits,
        clock: Clock,
        signals: Signals,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            limits,
            clock,
            signals,
            gate: Arc::default(),
            optouts: Arc::default(),
            consents: Arc::default(),
            quiet: Arc::default(),
            router: std::sync::OnceLock::new(),
        })
    }

    /// Counts the queue once at start-up, so the first requests are measured against what
    /// waits already instead of racing a recount of their own commits.
    pub async fn seed(&self) -> Result<(), StoreError> {
        if self.limits.max_queued > 0 {
            let waiting = self.store.stats().await?.waiting;
            self.gate.seed(waiting, self.clock.now_ms());
        }
        Ok(())
    }

    /// `[limits]`, for channels that check more before preparing (the SMPP server's part count).
    pub fn limits(&self) -> &IntakeLimits {
        &self.limits
    }

    /// The message store behind the door (for channels that also read or cancel).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The wake-ups (for channels whose other writes give the loops work, e.g. a cancel).
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// The gateway's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Step 1: validates and prices one request under `[limits]`, and refuses a recipient who
    /// opted out of the message's tenant (`opted_out`).
    pub fn prepare(&self, req: SendRequest, now: i64) -> Result<NewMessage, Rejection> {
        let skip = req.skip_optout;
        let mut m = prepare(req, &self.limits, now)?;
        if !skip
            && let Some(tenant) = &m.tenant
            && self
                .optouts
                .blocks(tenant, m.to.as_str(), m.from.as_ref().map(|f| f.as_str()))
        {
            return Err(Rejection::new(
                "opted_out",
                format!(
                    "{} replied STOP (or was opted out) and must not be sent to; see \
                     /v1/optouts",
                    m.to.as_str()
                ),
            ));
        }
        if !skip
            && let Some(tenant) = &m.tenant
            && self.consents.blocks(tenant, m.to.as_str())
        {
            return Err(Rejection::new(
                "no_consent",
                format!(
                    "tenant '{tenant}' requires consent and {} has given none; record it with \
                     POST /v1/consents or let the recipient text JOIN",
                    m.to.as_str()
                ),
            ));
        }
        if m.priority != crate::message::Priority::High
            && let Some(tenant) = &m.tenant
            && let Some(release) = self.quiet.release(tenant, m.to.as_str(), m.send_at)
        {
            m.deferred = Some(format!(
                "quiet hours of tenant '{tenant}' in the recipient's local time; sent at {}",
                crate::clock::rfc3339(release)
            ));
            m.send_at = release;
        }
        if m.priority != crate::message::Priority::High
            && let Some(router) = self.router.get()
            && let Some((route, window)) = router.current().quiet_hours(RouteQuery {
                to: m.to.as_str(),
                from: m.from.as_ref().map(|f| f.as_str()),
                api_key: m.api_key_id.as_deref(),
            })
            && let Some(release) = self.quiet.release_by(window, m.to.as_str(), m.send_at)
        {
            m.deferred = Some(format!(
                "quiet hours of route '{route}' in the recipient's local time; sent at {}",
                crate::clock::rfc3339(release)
            ));
            m.send_at = release;
        }
        Ok(m)
    }

    /// Gives the intake the live routes, whose `quiet_hours` it holds messages by (once, when
    /// the gateway has built them; later reloads are seen through the shared router).
    pub fn set_router(&self, router: Arc<crate::routing::SharedRouter>) {
        let _ = self.router.set(router);
    }

    /// Re-reads who may not be messaged, and when, from the store (opt-outs, consents, each
    /// tenant's consent rule and quiet hours), replacing what is in memory: at start, and on
    /// every cluster beat when other nodes share the store (they change it too).
    pub async fn reload_policies(&self) -> crate::store::StoreResult<()> {
        let optouts = self.store.list_optouts(None).await?;
        let consents = self.store.list_consents(None).await?;
        let tenants = self.store.list_tenants().await?;
        self.optouts.replace_all(&optouts);
        self.consents.replace_all(&consents);
        self.apply_tenants(&tenants);
        Ok(())
    }

    /// Takes each tenant's consent rule and quiet hours from `tenants` (all of them).
    pub fn apply_tenants(&self, tenants: &[crate::store::Tenant]) {
        self.consents.set_required(
            tenants
                .iter()
                .filter(|t| t.require_consent)
                .map(|t| t.id.clone()),
        );
        self.quiet.set(
            tenants
                .iter()
                .filter_map(|t| Some((t.id.as_str(), t.quiet_hours.as_deref()?))),
        );
    }

    /// Each tenant's quiet hours.
    pub fn quiet_hours(&self) -> &Arc<crate::quiet::QuietHours> {
        &self.quiet
    }

    /// The consent records the intake refuses by, for tenants that require them.
    pub fn consents(&self) -> &Arc<crate::compliance::Consents> {
        &self.consents
    }

    /// The opt-outs the intake refuses by (loaded at start, kept current by every change, and
    /// reloaded on each cluster beat when several nodes share the store).
    pub fn optouts(&self) -> &Arc<crate::compliance::OptOuts> {
        &self.optouts
    }

    /// Step 2: refuses `n` more messages when the queue is at its bound.
    pub fn admit(&self, n: u64, now: i64) -> Result<(), QueueFull> {
        self.gate.admit(&self.store, now, n, self.limits.max_queued)
    }

    /// Step 4, for commits made elsewhere: `n` messages were queued (counted at the gate,
    /// dispatcher and the webhook pipeline woken). `n = 0` still wakes the pipeline for the
    /// events committed.
    pub fn queued(&self, n: u64) {
        if n > 0 {
            self.gate.accepted(n);
            self.signals.queued.notify_one();
        }
        self.signals.events.notify_one();
    }

    /// Steps 2–4 around a channel's own commit of `n` prepared messages: admitted, inserted by
    /// `insert`, then signalled. Nothing is counted when the commit fails.
    pub async fn insert_with<T, F>(&self, n: u64, now: i64, insert: F) -> Result<T, IntakeError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        self.admit(n, now)?;
        let out = insert.await?;
        self.queued(n);
        Ok(out)
    }

    /// The whole door for one plain message: prepare → admit → insert → signal.
    pub async fn send(&self, req: SendRequest) -> Result<Accepted, IntakeError> {
        let now = self.clock.now_ms();
        let msg = self.prepare(req, now)?;
        let mut accepted = self
            .insert_with(1, now, self.store.insert_messages(vec![msg]))
            .await?;
        // The store answers one entry per message given.
        Ok(accepted.pop().expect("one result per message"))
    }

    /// The whole door for a batch: every request is prepared on its own (a bad one is rejected
    /// alone, in its position), the valid ones are admitted and committed together. An error
    /// for the whole batch (queue full, store) means none of it was accepted.
    pub async fn send_many(
        &self,
        reqs: Vec<Result<SendRequest, Rejection>>,
    ) -> Result<Vec<Result<Accepted, Rejection>>, IntakeError> {
        let now = self.clock.now_ms();
        let mut out: Vec<Result<Option<Accepted>, Rejection>> = Vec::with_capacity(reqs.len());
        let mut valid = Vec::new();
        for req in reqs {
            match req.and_then(|r| self.prepare(r, now)) {
                Ok(m) => {
                    valid.push(m);
                    out.push(Ok(None));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        if !valid.is_empty() {
            let n = valid.len() as u64;
            let mut accepted = self
                .insert_with(n, now, self.store.insert_messages(valid))
                .await?
                .into_iter();
            for slot in out.iter_mut().filter(|s| matches!(s, Ok(None))) {
                *slot = Ok(accepted.next());
            }
        }
        Ok(out
            .into_iter()
            .map(|r| r.map(|a| a.expect("one result per valid message")))
            .collect())
    }
}
