//! The loops of one gateway without the gateway: a store on a fresh SQLite file, the intake
//! door, the dispatcher over a route table of the test's connectors, event ingest, webhook
//! fan-out and delivery, started as `smsgate::gateway::spawn` starts them. Settings are
//! shortened (retries after 50–200 ms) so a test sees several rounds in a second or two.

use std::sync::Arc;
use std::time::Duration;

use smsgate_connectors::simnet::{SimConfig, SimNetwork};
use smsgate_core::backoff::Backoff;
use smsgate_core::clock::Clock;
use smsgate_core::connector::{ConnectorEvents, DynConnector, Reported};
use smsgate_core::dispatcher::{Dispatcher, DispatcherConfig};
use smsgate_core::intake::{Intake, IntakeLimits, SendRequest};
use smsgate_core::message::{Message, MessageEvent, MessageId, Status};
use smsgate_core::routing::{Connectors, Router, SharedRouter};
use smsgate_core::signals::Signals;
use smsgate_core::store::{Store, Webhook};
use smsgate_core::webhook::{self, WebhookConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Settings of the loops under test.
pub struct Setup {
    /// The dispatcher's; retries after 50–200 ms.
    pub dispatcher: DispatcherConfig,
    /// The webhook delivery loop's; retries after 50–200 ms.
    pub webhooks: WebhookConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            dispatcher: DispatcherConfig {
                retry_base: Duration::from_millis(50),
                retry_cap: Duration::from_millis(200),
                ..DispatcherConfig::default()
            },
            webhooks: WebhookConfig {
                timeout: Duration::from_secs(2),
                concurrency: 8,
                per_endpoint: 4,
                max_buffered: 1000,
                backoff: Backoff::new(Duration::from_millis(50), Duration::from_millis(200)),
                // Receivers in these tests listen on loopback, which tenant keys may not
                // reach unless it is allowed (the outbound policy's own tests clear this).
                allow_networks: vec![smsgate_core::outbound::Cidr::parse("127.0.0.0/8").unwrap()],
                answers: None,
            },
        }
    }
}

/// The running loops and what a test reaches them through.
pub struct Loops {
    /// The store every loop reads and writes.
    pub store: Arc<dyn Store>,
    /// The door messages enter by.
    pub intake: Arc<Intake>,
    /// The wake-ups between the loops.
    pub signals: Signals,
    /// The sink connectors report into (ingest drains it).
    pub events: ConnectorEvents,
    stop_dispatcher: watch::Sender<bool>,
    dispatcher: Option<JoinHandle<()>>,
    _stop_loops: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// A future that resolves once `rx` turns true (the gateway's `stopped`).
fn stopped(rx: &watch::Receiver<bool>) -> impl Future<Output = ()> + use<> {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// The sink connectors report into, made before the connectors so each can be given it;
/// ingest drains it once the loops start.
pub struct Sink {
    /// What connectors report into.
    pub events: ConnectorEvents,
    rx: mpsc::Receiver<Reported>,
}

impl Sink {
    /// A fresh sink.
    pub fn new() -> Self {
        let (events, rx) = ConnectorEvents::channel(64);
        Self { events, rx }
    }
}

impl Default for Sink {
    fn default() -> Self {
        Self::new()
    }
}

impl Loops {
    /// The loops with default [`Setup`] over `connectors` (reporting into `sink`), in route
    /// order (no `[[routes]]`: every connector, in this order).
    pub async fn start(sink: Sink, connectors: Vec<DynConnector>) -> Self {
        Self::start_with(Setup::default(), sink, connectors).await
    }

    /// The loops with chosen settings.
    pub async fn start_with(setup: Setup, sink: Sink, connectors: Vec<DynConnector>) -> Self {
        let (store, dir) = smsgate_testkit::store::store().await;
        let clock = Clock::system();
        let signals = Signals::default();
        let intake = Intake::new(
            Arc::clone(&store),
            IntakeLimits::default(),
            clock,
            signals.clone(),
        );
        let Sink { events, rx } = sink;
        let connectors = Connectors::new(connectors);
        let router = SharedRouter::new(Router::new(&[], &connectors).unwrap());

        let (stop_loops, loops_rx) = watch::channel(false);
        tokio::spawn(smsgate_core::ingest::run(
            Arc::clone(&store),
            clock,
            rx,
            signals.clone(),
        ));
        tokio::spawn(webhook::run(
            Arc::clone(&store),
            clock,
            setup.webhooks,
            Arc::clone(&signals.events),
            stopped(&loops_rx),
        ));
        let (stop_dispatcher, dispatcher_rx) = watch::channel(false);
        let dispatcher = Dispatcher::new(
            Arc::clone(&store),
            router,
            setup.dispatcher,
            clock,
            signals.clone(),
        );
        let dispatcher = tokio::spawn(dispatcher.run(stopped(&dispatcher_rx)));
        Self {
            store,
            intake,
            signals,
            events,
            stop_dispatcher,
            dispatcher: Some(dispatcher),
            _stop_loops: stop_loops,
            _dir: dir,
        }
    }

    /// Queues a message to `to` through the intake door; returns its id.
    pub async fn send(&self, to: &str, text: &str) -> MessageId {
        self.send_request(SendRequest {
            to: to.into(),
            text: text.into(),
            ..SendRequest::default()
        })
        .await
    }

    /// Queues a prepared request through the intake door; returns its id.
    pub async fn send_request(&self, req: SendRequest) -> MessageId {
        self.intake.send(req).await.unwrap().id
    }

    /// The message and its timeline as stored now.
    pub async fn message(&self, id: MessageId) -> (Message, Vec<MessageEvent>) {
        self.store.message(id).await.unwrap().expect("stored")
    }

    /// Polls until the message has `status` (10 s at most); returns it with its timeline.
    pub async fn wait_status(&self, id: MessageId, status: Status) -> (Message, Vec<MessageEvent>) {
        eventually(&format!("{id} becomes {status}"), || async {
            let (m, events) = self.message(id).await;
            (m.status == status).then_some((m, events))
        })
        .await
    }

    /// Subscribes `url` to the event patterns `events`, signed with `secret`.
    pub async fn subscribe(&self, url: &str, events: &[&str], secret: &str) {
        self.subscribe_to_statuses(url, events, &[], secret).await;
    }

    /// Subscribes `url` to `tenant`'s events (a tenant key's subscription).
    pub async fn subscribe_for_tenant(&self, url: &str, tenant: &str, secret: &str) {
        self.store
            .create_webhook(Webhook {
                id: format!("wh_{}", MessageId::new()),
                api_key_id: None,
                tenant: Some(tenant.into()),
                url: url.into(),
                events: vec!["*".into()],
                statuses: Vec::new(),
                secret: secret.into(),
                created_at: Clock::system().now_ms(),
            })
            .await
            .unwrap();
    }

    /// Subscribes `url` to `events`, and of `message.status` only to `statuses` (all when
    /// empty).
    pub async fn subscribe_to_statuses(
        &self,
        url: &str,
        events: &[&str],
        statuses: &[Status],
        secret: &str,
    ) {
        self.store
            .create_webhook(Webhook {
                id: format!("wh_{}", MessageId::new()),
                api_key_id: None,
                tenant: None,
                url: url.into(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                statuses: statuses.to_vec(),
                secret: secret.into(),
                created_at: Clock::system().now_ms(),
            })
            .await
            .unwrap();
    }

    /// Stops the dispatcher the way the gateway does and waits until its loop has returned.
    pub async fn stop_dispatcher(&mut self) {
        let _ = self.stop_dispatcher.send(true);
        if let Some(task) = self.dispatcher.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the dispatcher stops within 10 s")
                .unwrap();
        }
    }
}

/// Polls `f` every 20 ms until it gives a value (10 s at most, then fails naming `what`).
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The kinds of a timeline, in order (`queued`, `sending`, `retry`, `sent`, …).
pub fn kinds(events: &[MessageEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// The simulated network as the gateway builds it, delivering after 50 ms.
pub fn sim(events: &ConnectorEvents, config: SimConfig) -> Arc<SimNetwork> {
    let config = SimConfig {
        delivery_delay: Duration::from_millis(50),
        ..config
    };
    Arc::new(SimNetwork::new("sim", config, events.clone()).unwrap())
}
