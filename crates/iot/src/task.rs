//! The tokio side of the engine: one task owns the [`Engine`], and [`IotService`] is the
//! handle the API and CLI reach it through.
//!
//! The task reads inbound SMS from the store after its cursor (woken by
//! `Signals::inbound`), runs the engine's timers, looks up the SMS status of outstanding
//! commands, and runs requests from the service. After each step it commits the engine's batch
//! in one transaction and only then answers the request and wakes the dispatcher and webhook
//! loops. If a commit fails, the engine is rebuilt from the store, so nothing it did is
//! reported that is not durable.

use std::sync::Arc;
use std::time::Duration;

use smsgate_core::clock::Clock;
use smsgate_core::intake::Intake;
use smsgate_core::signals::Signals;
use smsgate_core::store::{Store, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::engine::{Batch, Engine, EngineConfig};
use crate::error::IotError;
use crate::store::IotStore;

/// Inbound messages taken per step.
const INBOUND_PAGE: u32 = 256;
/// How often the SMS status of outstanding commands is looked up.
const STATUS_POLL: Duration = Duration::from_secs(1);

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
type Job = Box<dyn FnOnce(&mut Engine, i64) -> Completion + Send>;

/// The handle to the running engine: registry changes, acks and commands go to the task and
/// return once committed; history reads go to the store directly. In a cluster the engine
/// runs on the leading node only: the gateway's handle is [`IotService::idle`] until this
/// node leads and [`IotService::attach`]es the engine it started, and calls answer
/// [`IotError::Stopped`] meanwhile.
#[derive(Clone)]
pub struct IotService {
    jobs: Arc<std::sync::RwLock<Option<mpsc::Sender<Job>>>>,
    store: Arc<dyn IotStore>,
}

impl IotService {
    /// A handle with no engine behind it yet.
    pub fn idle(store: Arc<dyn IotStore>) -> Self {
        Self {
            jobs: Arc::default(),
            store,
        }
    }

    /// Sends this handle's calls to the engine behind `running` (one [`start`] returned).
    pub fn attach(&self, running: &IotService) {
        let jobs = running
            .jobs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        *self.jobs.write().unwrap_or_else(|p| p.into_inner()) = jobs;
    }

    /// Detaches the engine (it stopped): calls answer [`IotError::Stopped`].
    pub fn detach(&self) {
        *self.jobs.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Runs `f` on the engine inside its task, commits what it changed, and returns its result
    /// once durable.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine, i64) -> Result<T, IotError> + Send + 'static,
    ) -> Result<T, IotError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |engine, now| {
            let result = f(engine, now);
            Box::new(move |committed: StoreResult<()>| {
                let _ = tx.send(committed.map_err(IotError::from).and(result));
            })
        });
        let jobs = self
            .jobs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(IotError::Stopped)?;
        jobs.send(job).await.map_err(|_| IotError::Stopped)?;
        rx.await.map_err(|_| IotError::Stopped)?
    }

    /// The store, for history reads (alerts, commands, telemetry).
    pub fn store(&self) -> &Arc<dyn IotStore> {
        &self.store
    }
}

/// What [`start`] needs.
pub struct IotDeps {
    /// IoT persistence.
    pub iot: Arc<dyn IotStore>,
    /// The message store (SMS status of commands).
    pub store: Arc<dyn Store>,
    /// Engine settings.
    pub config: EngineConfig,
    /// The door every SMS enters by: its limits validate the engine's SMS, and the messages
    /// a commit queued are counted at its gate. Alerts and commands are never refused by
    /// `[limits] max_queued`: a full queue is when alerts matter most.
    pub intake: Arc<Intake>,
    /// Time.
    pub clock: Clock,
    /// Wake-ups: `inbound` wakes the task (the intake wakes the others after commits).
    pub signals: Signals,
}

/// Loads the engine's state, applies the config file's registry entries, and starts the
/// task; the task ends when `shutdown` resolves.
pub async fn start(
    deps: IotDeps,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(IotService, JoinHandle<()>), IotError> {
    let now = deps.clock.now_ms();
    let mut snap = deps.iot.load_iot().await?;
    if snap.inbound_cursor.is_none() {
        // A fresh engine starts at the newest inbound SMS, not at the start of history.
        let latest = deps.store.latest_inbound().await?;
        if latest.is_some() {
            deps.iot
                .commit_iot(Batch {
                    now,
                    inbound_cursor: latest,
                    ..Batch::default()
                })
                .await?;
            snap.inbound_cursor = latest;
        }
    }
    let alerts = snap.alerts.len();
    let mut engine = Engine::new(deps.config.clone(), deps.intake.limits().clone(), snap, now);
    engine.set_optouts(std::sync::Arc::clone(deps.intake.optouts()));
    engine.seed(now)?;
    if let Some(batch) = engine.poll_batch() {
        deps.iot.commit_iot(batch).await?;
    }
    tracing::info!(open_alerts = alerts, "IoT engine started");
    let (jobs, rx) = mpsc::channel(64);
    let service = IotService {
        jobs: Arc::new(std::sync::RwLock::new(Some(jobs))),
        store: Arc::clone(&deps.iot),
    };
    let handle = tokio::spawn(run(engine, deps, rx, shutdown));
    Ok((service, handle))
}

async fn run(
    mut engine: Engine,
    deps: IotDeps,
    mut jobs: mpsc::Receiver<Job>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut last_status_poll = tokio::time::Instant::now();
    loop {
        let advanced = deps.clock.advanced();
        let more = step(&mut engine, &deps, &mut last_status_poll).await;
        if more {
            continue;
        }
        let wake = engine
            .poll_timeout()
            .map(|t| deps.clock.instant_at(t))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let poll_status = !engine.awaiting_network().is_empty();
        tokio::select! {
            _ = &mut shutdown => break,
            _ = deps.signals.inbound.notified() => {}
            _ = tokio::time::sleep_until(wake) => {}
            _ = tokio::time::sleep(STATUS_POLL), if poll_status => {}
            _ = advanced => {}
            job = jobs.recv() => {
                let Some(job) = job else { break };
                let done = job(&mut engine, deps.clock.now_ms());
                let committed = commit(&mut engine, &deps).await;
                done(committed);
            }
        }
    }
    tracing::info!("IoT engine stopped");
}

/// Takes new inbound SMS, runs due timers and command status lookups, commits. Returns true
/// when more inbound SMS are waiting.
async fn step(
    engine: &mut Engine,
    deps: &IotDeps,
    last_status_poll: &mut tokio::time::Instant,
) -> bool {
    // The inbound messages are the message store's (the compliance loop reads them too).
    let inbound = match deps
        .store
        .inbound_after(engine.inbound_cursor(), INBOUND_PAGE)
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "IoT engine cannot read inbound SMS; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return false;
        }
    };
    let now = deps.clock.now_ms();
    for m in &inbound {
        engine.handle_inbound(m, now);
    }
    if engine.poll_timeout().is_some_and(|t| t <= now) {
        engine.handle_timeout(now);
    }
    if last_status_poll.elapsed() >= STATUS_POLL || !inbound.is_empty() {
        *last_status_poll = tokio::time::Instant::now();
        for id in engine.awaiting_network() {
            if let Ok(Some((m, _))) = deps.store.message(id).await {
                engine.handle_message_status(id, m.status, now);
            }
        }
    }
    let _ = commit(engine, deps).await;
    inbound.len() as u32 == INBOUND_PAGE
}

/// Commits the engine's batch, retrying a few times; on failure rebuilds the engine from the
/// store so its memory matches what is durable.
async fn commit(engine: &mut Engine, deps: &IotDeps) -> StoreResult<()> {
    let Some(batch) = engine.poll_batch() else {
        return Ok(());
    };
    let queued = batch.messages.len() as u64;
    let mut delay = Duration::from_millis(100);
    let result = loop {
        match deps.iot.commit_iot(batch.clone()).await {
            Ok(()) => break Ok(()),
            Err(StoreError::Closed) => break Err(StoreError::Closed),
            Err(e) if delay > Duration::from_secs(2) => break Err(e),
            Err(e) => {
                tracing::error!(error = %e, "IoT commit failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    };
    match &result {
        Ok(()) => {
            deps.intake.queued(queued);
        }
        Err(e) => {
            tracing::error!(error = %e, "IoT changes not stored; reloading the engine from the store");
            let now = deps.clock.now_ms();
            match deps.iot.load_iot().await {
                Ok(snap) => {
                    *engine =
                        Engine::new(deps.config.clone(), deps.intake.limits().clone(), snap, now);
                    engine.set_optouts(std::sync::Arc::clone(deps.intake.optouts()));
                }
                Err(e) => tracing::error!(error = %e, "reloading the IoT engine failed"),
            }
        }
    }
    result
}
