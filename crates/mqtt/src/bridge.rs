//! The tokio side: one connection at a time to the broker, re-made with capped exponential
//! back-off (0.5 s → 30 s) when it fails, each one a fresh `rumqttc` client on the same
//! persistent session (clean session off, a stable client id).
//!
//! A connection is two tasks: the *driver* polls the `rumqttc` event loop and forwards what it
//! yields over a channel (so nothing here cancels a half-done `poll`), and `Connection`
//! selects over that channel, the read timer of the event log and the stop signal:
//!
//! - **Sends and commands** (`Incoming::Publish`, manual acks): handled one at a time, in
//!   order. The PUBACK goes out only once [`Intake::send`] committed the message (or the IoT
//!   engine the command), or the payload was refused for good (then also a report on
//!   `{prefix}/errors`). When the store fails, the queue is full (`[limits] max_queued`) or
//!   the tenant is at its `queue_quota`, nothing is acknowledged: the publish is held and
//!   tried again after a back-off (0.5 s → 30 s), and those received after it wait behind
//!   it. If the gateway stops meanwhile, the broker delivers them again on the next start.
//! - **Events**: read from the log after the durable cursor `mqtt.events`
//!   ([`NorthboundStore::cursor`]), at most [`WINDOW`] unacknowledged at once, published
//!   QoS 1; the cursor moves only past events the broker acknowledged ([`Tracker`]). After a
//!   reconnect the log is read again from the cursor: events are published at least once.
//!   On the first start the cursor begins at the newest event (history is not replayed).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Outgoing, Publish, QoS};
use smsgate_core::backoff::Backoff;
use smsgate_core::intake::{Intake, IntakeError, QueueGate};
use smsgate_core::northbound::NorthboundStore;
use smsgate_core::store::Tenant;
use smsgate_iot::IotError;
use smsgate_iot::task::IotService;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::MqttConfig;
use crate::events::publication;
use crate::payload::{self, Refusal};
use crate::status::{Link, MqttStatus};
use crate::topics::{Inbound, Topics};
use crate::tracker::{Tag, Tracker};

/// The durable cursor of the events published.
pub const CURSOR: &str = "mqtt.events";
/// Events published and not yet acknowledged, at most.
pub const WINDOW: usize = 64;
/// Packet ids the client may have in flight: the event window, reports and acceptances.
const INFLIGHT: u16 = 128;
/// The client's request channel: far more than can be outstanding, so `try_*` never fails.
const REQUESTS: usize = 1024;
/// Largest packet read from the broker (a send payload over [`payload::MAX_PAYLOAD`] is
/// refused, but read in full so it can be acknowledged).
const MAX_INCOMING: usize = 1 << 20;
/// Largest packet written (an inbound SMS or alert event is far smaller).
const MAX_OUTGOING: usize = 1 << 20;
/// How long the tenant list is reused.
const TENANTS_TTL: Duration = Duration::from_secs(2);
/// Reconnect delays.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

/// What the bridge needs from the gateway.
#[derive(Clone)]
pub struct Deps {
    /// The one door into the queue.
    pub intake: Arc<Intake>,
    /// The named cursor of the published events.
    pub northbound: Arc<dyn NorthboundStore>,
    /// The IoT engine, for device commands (refused without it).
    pub iot: Option<IotService>,
    /// Where the bridge reports its state.
    pub status: Arc<MqttStatus>,
}

/// The connection options (client id, persistent session, manual acks, TLS, credentials).
pub fn options(config: &MqttConfig) -> Result<MqttOptions, String> {
    let broker = config.broker()?;
    let mut o = MqttOptions::new(config.client_id(), broker.host, broker.port);
    o.set_keep_alive(config.keepalive)
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(INFLIGHT)
        .set_request_channel_capacity(REQUESTS)
        .set_max_packet_size(MAX_INCOMING, MAX_OUTGOING);
    if let Some(user) = &config.username {
        o.set_credentials(user, config.password.clone().unwrap_or_default());
    }
    if broker.tls {
        let tls = crate::tls::client_config(config.ca_file.as_deref())?;
        o.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls),
        ));
    }
    Ok(o)
}

/// Runs the bridge until `until` resolves (the lead is lost or the gateway stops).
pub async fn run(config: MqttConfig, deps: Deps, until: impl Future<Output = ()> + Send + 'static) {
    let mut until: Stop = Box::pin(until);
    let status = Arc::clone(&deps.status);
    let mut attempt = 0u32;
    loop {
        status.set(Link::Connecting, None);
        let (error, was_up) = match connect_once(&config, &deps, &mut until).await {
            Ended::Stopped => break,
            Ended::Failed { error, was_up } => (error, was_up),
        };
        if was_up {
            attempt = 0;
        }
        let delay = BACKOFF.delay(attempt);
        attempt = attempt.saturating_add(1);
        tracing::warn!(error = %error, retry_in = ?delay, "MQTT bridge: link down");
        status.set(Link::Down, Some(error));
        tokio::select! {
            () = &mut until => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    status.set(Link::Standby, None);
    tracing::info!("MQTT bridge stopped");
}

/// The stop signal, boxed so every connection can borrow it.
type Stop = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How one connection ended.
enum Ended {
    /// `until` resolved: the cursor is stored and the client disconnected.
    Stopped,
    /// Failed; `was_up` when it had been connected (the back-off starts over).
    Failed { error: String, was_up: bool },
}

/// One connection: made, run until it fails or `until` resolves. The broker keeps the
/// session either way.
async fn connect_once(config: &MqttConfig, deps: &Deps, until: &mut Stop) -> Ended {
    let failed = |error: String| Ended::Failed {
        error,
        was_up: false,
    };
    let options = match options(config) {
        Ok(o) => o,
        Err(error) => return failed(error),
    };
    let cursor = tokio::select! {
        () = &mut *until => return Ended::Stopped,
        c = start_cursor(&*deps.northbound) => match c {
            Ok(c) => c,
            Err(e) => return failed(format!("reading the event cursor: {e}")),
        },
    };
    let (client, mut eventloop) = AsyncClient::new(options, REQUESTS);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = AbortOnDrop(tokio::spawn(async move {
        loop {
            let r = eventloop.poll().await;
            let failed = r.is_err();
            if tx.send(r).is_err() || failed {
                return;
            }
        }
    }));
    let mut conn = Connection {
        config,
        deps,
        topics: Topics::new(&config.topic_prefix),
        client,
        tracker: Tracker::new(cursor),
        saved: cursor,
        connected: false,
        tenants: None,
        quotas: HashMap::new(),
        held: VecDeque::new(),
        retry_at: Instant::now(),
        retries: 0,
    };
    let error = conn.serve(&mut rx, until).await;
    // Whatever was acknowledged is kept; the rest is published again on the next connection.
    if let Err(e) = conn.save_cursor().await {
        tracing::warn!(error = %e, "MQTT bridge: storing the event cursor failed");
    }
    let Some(error) = error else {
        // Stopping: say goodbye so the broker does not wait for the keep-alive.
        if conn.connected && conn.client.try_disconnect().is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(Ok(e)) = rx.recv().await {
                    if matches!(e, Event::Outgoing(Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
        drop(driver);
        return Ended::Stopped;
    };
    drop(driver);
    Ended::Failed {
        error,
        was_up: conn.connected,
    }
}

/// The durable cursor, set to the newest event on the first start.
async fn start_cursor(northbound: &dyn NorthboundStore) -> smsgate_core::store::StoreResult<i64> {
    if let Some(c) = northbound.cursor(CURSOR).await? {
        return Ok(c);
    }
    let last = northbound.last_event_seq().await?;
    northbound.set_cursor(CURSOR, last).await?;
    Ok(last)
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What handling one received publish led to.
enum Outcome {
    /// Taken: acknowledge.
    Done,
    /// Refused for good: report, then acknowledge.
    Refused(Refusal),
    /// Could not be taken now (store, queue full, tenant quota, engine stopped): left
    /// unacknowledged and tried again after a back-off.
    Retry(String),
}

/// One live connection's state.
struct Connection<'a> {
    config: &'a MqttConfig,
    deps: &'a Deps,
    topics: Topics,
    client: AsyncClient,
    tracker: Tracker,
    /// The cursor as last stored.
    saved: i64,
    /// The broker accepted the connection.
    connected: bool,
    /// The tenant list and when it was read.
    tenants: Option<(Instant, Vec<Tenant>)>,
    /// Each tenant's queue quota gate (for tenants that have one).
    quotas: HashMap<String, Arc<QueueGate>>,
    /// Received publishes not yet taken, oldest first: the first waits for `retry_at`.
    held: VecDeque<Publish>,
    /// When the first held publish is tried again.
    retry_at: Instant,
    /// Tries of the first held publish so far.
    retries: u32,
}

type Polled = Result<Event, rumqttc::ConnectionError>;

impl Connection<'_> {
    /// Runs until the connection fails (returns why) or `until` resolves (`None`).
    async fn serve(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Polled>,
        until: &mut Stop,
    ) -> Option<String> {
        let mut read_at = Instant::now();
        let mut save_at = Instant::now();
        loop {
            let room = self.connected && self.tracker.in_flight() < WINDOW;
            tokio::select! {
                () = &mut *until => return None,
                polled = rx.recv() => {
                    let event = match polled {
                        Some(Ok(e)) => e,
                        Some(Err(e)) => return Some(describe(&e)),
                        None => return Some("the MQTT client stopped".into()),
                    };
                    if let Err(e) = self.handle_event(event).await {
                        return Some(e);
                    }
                }
                () = tokio::time::sleep_until(self.retry_at), if !self.held.is_empty() => {
                    if let Err(e) = self.take_held().await {
                        return Some(e);
                    }
                }
                () = tokio::time::sleep_until(read_at), if room => {
                    match self.publish_events().await {
                        Ok(more) => {
                            read_at = Instant::now() + if more { Duration::ZERO } else { self.config.poll };
                        }
                        Err(e) => return Some(e),
                    }
                    if save_at.elapsed() >= self.config.poll {
                        save_at = Instant::now();
                        if let Err(e) = self.save_cursor().await {
                            return Some(format!("storing the event cursor: {e}"));
                        }
                    }
                }
            }
        }
    }

    async fn handle_event(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Incoming(Incoming::ConnAck(ack)) => {
                if ack.code != rumqttc::ConnectReturnCode::Success {
                    return Err(format!("the broker refused the connection: {:?}", ack.code));
                }
                self.connected = true;
                let subs = self
                    .topics
                    .subscriptions()
                    .into_iter()
                    .map(|t| rumqttc::SubscribeFilter::new(t, QoS::AtLeastOnce));
                self.client
                    .try_subscribe_many(subs)
                    .map_err(|e| format!("subscribing: {e}"))?;
                tracing::debug!(
                    broker = %self.config.url,
                    session_present = ack.session_present,
                    "MQTT bridge: connection accepted, subscribing"
                );
            }
            Event::Incoming(Incoming::SubAck(ack)) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                {
                    return Err("the broker refused a subscription (check its ACL)".into());
                }
                // Connected for operators once the sends can arrive.
                MqttStatus::count(&self.deps.status.connects);
                self.deps.status.set(Link::Connected, None);
                tracing::info!(broker = %self.config.url, "MQTT bridge connected");
            }
            Event::Incoming(Incoming::Publish(p)) => {
                // In order: behind one that waits for a retry, it waits too.
                self.held.push_back(p);
                if self.held.len() == 1 {
                    self.take_held().await?;
                }
            }
            Event::Incoming(Incoming::PubAck(ack)) if self.tracker.handle_puback(ack.pkid) => {
                MqttStatus::count(&self.deps.status.published);
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => self.tracker.handle_outgoing(pkid),
            _ => {}
        }
        Ok(())
    }

    /// Takes the held publishes in order until one must wait ([`Outcome::Retry`]): that one
    /// is tried again after the back-off, the ones behind it wait with it (unacknowledged,
    /// so a crash meanwhile leaves them with the broker).
    async fn take_held(&mut self) -> Result<(), String> {
        while let Some(p) = self.held.front().cloned() {
            match self.handle_publish(&p).await? {
                Some(reason) => {
                    let delay = BACKOFF.delay(self.retries);
                    self.retries = self.retries.saturating_add(1);
                    self.retry_at = Instant::now() + delay;
                    tracing::warn!(topic = %p.topic, reason = %reason, retry_in = ?delay,
                        "MQTT publish not taken now; it waits, unacknowledged");
                    self.deps.status.set(Link::Connected, Some(reason));
                    return Ok(());
                }
                None => {
                    self.held.pop_front();
                    self.retries = 0;
                }
            }
        }
        Ok(())
    }

    /// Handles a send or command and acknowledges it, or returns why it must wait.
    async fn handle_publish(&mut self, p: &Publish) -> Result<Option<String>, String> {
        let topic = p.topic.clone();
        let outcome = match self.topics.parse(&topic) {
            // A retained send comes again with every subscription (every reconnect).
            Some(_) if p.retain => Outcome::Refused(Refusal::new(
                "retained",
                "retained messages are refused: the broker would deliver them again at every \
                 reconnect; publish without the retain flag (and clear this one with an empty \
                 retained message)",
            )),
            Some(Inbound::Send { tenant }) => self.send(tenant, &p.payload).await,
            Some(Inbound::Command { device }) => self.command(device, &p.payload).await,
            None => Outcome::Refused(Refusal::new(
                "unknown_topic",
                format!("the bridge does not serve '{topic}'"),
            )),
        };
        match outcome {
            Outcome::Done => MqttStatus::count(&self.deps.status.received),
            Outcome::Refused(r) => {
                tracing::debug!(topic = %topic, code = %r.code, "MQTT publish refused");
                MqttStatus::count(&self.deps.status.refused);
                let report = payload::error_payload(&topic, &r, &p.payload);
                self.publish(self.topics.errors(), report, Tag::Other)?;
            }
            Outcome::Retry(reason) => return Ok(Some(reason)),
        }
        self.client
            .try_ack(p)
            .map_err(|e| format!("acknowledging: {e}"))?;
        Ok(None)
    }

    async fn send(&mut self, tenant: Option<String>, body: &[u8]) -> Outcome {
        let tenant = tenant.unwrap_or_else(|| self.config.tenant.clone());
        if !self.config.allows_tenant(&tenant) {
            return Outcome::Refused(Refusal::new(
                "tenant_not_allowed",
                format!("the MQTT bridge does not send for tenant '{tenant}' ([mqtt] tenants)"),
            ));
        }
        let tenant = match self.tenant(&tenant).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Outcome::Refused(Refusal::new(
                    "unknown_tenant",
                    format!("there is no tenant '{tenant}'"),
                ));
            }
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let req = match payload::decode_send(body).and_then(|p| payload::to_request(p, &tenant)) {
            Ok(r) => r,
            Err(r) => return Outcome::Refused(r),
        };
        let key = req.idempotency_key.clone();
        let now = self.deps.intake.clock().now_ms();
        let quota = match tenant.queue_quota {
            Some(max) => {
                let gate = Arc::clone(
                    self.quotas
                        .entry(tenant.id.clone())
                        .or_insert_with(|| Arc::new(QueueGate::for_tenant(&tenant.id))),
                );
                if let Err(full) = gate.admit(self.deps.intake.store(), now, 1, max) {
                    return Outcome::Retry(format!(
                        "tenant '{}' has {} messages waiting, its queue quota is {}",
                        tenant.id, full.depth, full.max
                    ));
                }
                Some(gate)
            }
            None => None,
        };
        match self.deps.intake.send(req).await {
            Ok(a) => {
                if let Some(gate) = quota
                    && !a.duplicate
                {
                    gate.accepted(1);
                }
                let accepted = serde_json::json!({
                    "id": a.id.to_string(), "status": a.status.as_str(),
                    "segments": a.segments, "encoding": a.encoding,
                    "idempotency_key": key, "tenant": tenant.id,
                });
                tracing::debug!(id = %a.id, tenant = %tenant.id, "MQTT send queued");
                // Best effort: the message is committed whatever happens to this notice.
                let _ = self.publish(
                    self.topics.under("accepted"),
                    accepted.to_string().into_bytes(),
                    Tag::Other,
                );
                Outcome::Done
            }
            Err(IntakeError::Rejected(r)) => Outcome::Refused(r.into()),
            Err(e @ (IntakeError::QueueFull(_) | IntakeError::Store(_))) => {
                Outcome::Retry(e.to_string())
            }
        }
    }

    async fn command(&mut self, device: String, body: &[u8]) -> Outcome {
        let Some(iot) = &self.deps.iot else {
            return Outcome::Refused(Refusal::new("no_iot", "the IoT engine is not configured"));
        };
        let req = match payload::decode_command(body) {
            Ok(r) => r,
            Err(r) => return Outcome::Refused(r),
        };
        let config = self.config.clone();
        let result = iot
            .call(move |e, now| {
                let seen = e.device(&device).is_some_and(|d| {
                    config.allows_tenant(smsgate_iot::model::tenant_of(d.device.owner.as_ref()))
                });
                if !seen {
                    return Err(IotError::NotFound(format!("device '{device}'")));
                }
                e.send_command(&device, req, None, now)
            })
            .await;
        match result {
            Ok(_) => Outcome::Done,
            Err(IotError::Invalid { code, message } | IotError::Conflict { code, message }) => {
                Outcome::Refused(Refusal::new(code, message))
            }
            Err(e @ IotError::NotFound(_)) => {
                Outcome::Refused(Refusal::new("not_found", e.to_string()))
            }
            Err(e @ (IotError::Store(_) | IotError::Stopped)) => Outcome::Retry(e.to_string()),
        }
    }

    /// `id`'s tenant record, from a list at most [`TENANTS_TTL`] old; the `default` tenant
    /// exists even when it was never stored (no sender ids then).
    async fn tenant(&mut self, id: &str) -> smsgate_core::store::StoreResult<Option<Tenant>> {
        let fresh = self
            .tenants
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < TENANTS_TTL);
        if !fresh {
            let list = self.deps.intake.store().list_tenants().await?;
            self.tenants = Some((Instant::now(), list));
        }
        let found = self
            .tenants
            .as_ref()
            .and_then(|(_, l)| l.iter().find(|t| t.id == id).cloned());
        Ok(found.or_else(|| {
            (id == smsgate_core::store::DEFAULT_TENANT).then(|| Tenant {
                id: id.to_owned(),
                ..Tenant::default()
            })
        }))
    }

    /// Publishes the next page of the log; true when there is more to read right away.
    async fn publish_events(&mut self) -> Result<bool, String> {
        let room = WINDOW.saturating_sub(self.tracker.in_flight()) as u32;
        let page = self
            .deps
            .intake
            .store()
            .outbox_after(self.tracker.read_to(), room.max(1), None)
            .await
            .map_err(|e| format!("reading the event log: {e}"))?;
        for ev in &page.events {
            if let Some(p) = publication(&self.topics, ev) {
                self.publish(p.topic, p.payload, Tag::Event(ev.seq))?;
            }
        }
        self.tracker.handle_scanned(page.scanned_to);
        Ok(!page.at_end)
    }

    fn publish(&mut self, topic: String, payload: Vec<u8>, tag: Tag) -> Result<(), String> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .map_err(|e| format!("publishing: {e}"))?;
        self.tracker.handle_published(tag);
        Ok(())
    }

    /// Stores the cursor when it moved.
    async fn save_cursor(&mut self) -> smsgate_core::store::StoreResult<()> {
        let to = self.tracker.poll_cursor();
        if to > self.saved {
            self.deps.northbound.set_cursor(CURSOR, to).await?;
            self.saved = to;
        }
        Ok(())
    }
}

/// A connection error as operators read it.
fn describe(e: &rumqttc::ConnectionError) -> String {
    match e {
        rumqttc::ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection: {code:?}")
        }
        other => other.to_string(),
    }
}
