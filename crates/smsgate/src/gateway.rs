//! Wiring: builds the store, connectors, dispatcher, ingest, webhooks, the IoT engine, the
//! HTTP API and the SMPP server from a [`Config`], runs them, and shuts them down in an order
//! that loses nothing: HTTP and the SMPP server stop accepting → the dispatcher finishes and
//! records in-flight submits → connectors hand over what they still owe → event ingest and
//! webhook loops stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use smsgate_api::AppState;
use smsgate_core::backoff::Backoff;
use smsgate_core::clock::Clock;
use smsgate_core::connector::{ConnectorEvents, DynConnector};
use smsgate_core::dispatcher::{Dispatcher, Signals};
use smsgate_core::keys;
use smsgate_core::routing::{Connectors, Route, Router, SharedRouter};
use smsgate_core::simnet::SimNetwork;
use smsgate_core::store::{ApiKey, Store};
use smsgate_core::webhook::{self, WebhookConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, ConnectorConfig};
use crate::connectors;

/// A running gateway.
pub struct Gateway {
    /// Where the HTTP API listens (the real port when the config said 0).
    pub addr: SocketAddr,
    /// The admin key created on first start, shown once.
    pub first_admin_key: Option<String>,
    /// Where the `[smpp_server]` listens for plain SMPP, when configured (the real port when
    /// it said 0).
    pub smpp_addr: Option<SocketAddr>,
    /// Where the `[smpp_server]` listens for SMPP over TLS, when configured.
    pub smpp_tls_addr: Option<SocketAddr>,
    /// The store, for tests and CLI commands run in-process.
    pub store: Arc<dyn Store>,
    router: Arc<SharedRouter>,
    connectors: Connectors,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Creates the first admin key when the store has none; returns its secret.
pub async fn ensure_admin_key(store: &dyn Store, clock: &Clock) -> anyhow::Result<Option<String>> {
    if !store.list_api_keys().await?.is_empty() {
        return Ok(None);
    }
    let k = keys::generate();
    store
        .create_api_key(ApiKey {
            id: k.id,
            name: "admin".into(),
            prefix: k.prefix,
            admin: true,
            created_at: clock.now_ms(),
            revoked_at: None,
            secret_hash: k.hash,
        })
        .await?;
    Ok(Some(k.secret))
}

fn stopped(rx: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + use<> {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

impl Gateway {
    /// Opens the store, binds the HTTP listener and starts every loop.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        Self::start_with_clock(config, Clock::system()).await
    }

    /// [`Gateway::start`] with a chosen clock (tests move an adjustable one ahead to run
    /// escalations and timeouts without waiting).
    pub async fn start_with_clock(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let numbers = tokio::task::spawn_blocking(smsgate_core::number::Msisdn::warm_up);
        let backend = smsgate_store::open_all(&config.store.url)
            .await
            .with_context(|| format!("opening the store at {}", config.store.url))?;
        let store = backend.store;
        let first_admin_key = ensure_admin_key(&*store, &clock).await?;
        let signals = Signals::default();
        let (events, events_rx) = ConnectorEvents::channel(4096);

        let mut list: Vec<DynConnector> = Vec::new();
        let mut sims: Vec<Arc<SimNetwork>> = Vec::new();
        let data_dir = sqlite_dir(&config.store.url);
        let default_sim;
        let connector_configs = if config.connectors.is_empty() {
            // No connector configured: the simulated network, remembering across restarts.
            let journal = data_dir.as_ref().map(|d| d.join("simulator.journal"));
            let mut settings = serde_json::Map::new();
            settings.insert("journal".into(), serde_json::json!(journal));
            default_sim = vec![ConnectorConfig {
                name: "sim".into(),
                kind: "simulator".into(),
                settings,
            }];
            &default_sim
        } else {
            &config.connectors
        };
        for c in connector_configs {
            let built = connectors::build(c, events.clone(), data_dir.as_deref())?;
            sims.extend(built.sim);
            list.push(built.connector);
        }
        drop(events);
        let connectors = Connectors::new(list);
        let connectors_for_reload = connectors.clone();
        let router = SharedRouter::new(
            Router::new(&config.routes, &connectors).context("invalid [[routes]]")?,
        );

        let _ = numbers.await;
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
        let addr = listener.local_addr()?;
        let state = AppState::new(
            Arc::clone(&store),
            clock,
            signals.clone(),
            connectors.clone(),
            Arc::clone(&router),
            config.limits.clone(),
            sims.first().cloned(),
        );
        if config.limits.max_queued > 0 {
            let waiting = store.stats().await?.waiting;
            state.queue_gate().seed(waiting, clock.now_ms());
        }
        let app = smsgate_api::router(Arc::clone(&state), config.http.max_body_bytes);

        let (stop, stop_rx) = watch::channel(false);
        let ingest = tokio::spawn(smsgate_core::ingest::run(
            Arc::clone(&store),
            clock,
            events_rx,
            signals.clone(),
        ));
        for sim in &sims {
            sim.resume();
        }
        let (loops_stop, loops_rx) = watch::channel(false);
        let (iot_service, iot) = smsgate_iot::task::start(
            smsgate_iot::task::IotDeps {
                iot: backend.iot,
                store: Arc::clone(&store),
                config: config.iot.clone(),
                limits: config.limits.clone(),
                clock,
                signals: signals.clone(),
            },
            stopped(&loops_rx),
        )
        .await
        .context("starting the IoT engine")?;
        let _ = state.iot.set(iot_service);
        let fan_out = tokio::spawn(webhook::fan_out(
            Arc::clone(&store),
            clock,
            Arc::clone(&signals.events),
            Arc::clone(&signals.deliveries),
            stopped(&loops_rx),
        ));
        let wh_config = WebhookConfig {
            timeout: config.webhooks.timeout,
            concurrency: config.webhooks.concurrency.max(1),
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(3600)),
        };
        let deliver = tokio::spawn(webhook::deliver(
            Arc::clone(&store),
            clock,
            wh_config,
            Arc::clone(&signals.deliveries),
            stopped(&loops_rx),
        ));
        let dispatcher = Dispatcher::new(
            Arc::clone(&store),
            Arc::clone(&router),
            config.dispatcher.clone(),
            clock,
            signals.clone(),
        );
        let dispatch = tokio::spawn(dispatcher.run(stopped(&stop_rx)));
        let http = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped(&stop_rx))
                .into_future(),
        );
        let smpp = match &config.smpp_server {
            Some(c) => {
                let deps = crate::smpp_server::Deps {
                    northbound: Arc::clone(&backend.northbound),
                    limits: config.limits.clone(),
                    clock,
                    signals: signals.clone(),
                    store: Arc::clone(&store),
                    queue: state.queue_gate(),
                };
                let server = crate::smpp_server::start(c, deps, stopped(&stop_rx)).await?;
                let _ = state.smpp_sessions.set(Arc::clone(&server.sessions));
                Some(server)
            }
            None => None,
        };
        let smpp_addr = smpp.as_ref().and_then(|s| s.addr);
        let smpp_tls_addr = smpp.as_ref().and_then(|s| s.tls_addr);

        let task = tokio::spawn(async move {
            stopped(&stop_rx).await;
            tracing::info!("shutting down: no new requests; finishing in-flight work");
            let _ = http.await;
            if let Some(smpp) = smpp {
                smpp.join().await;
            }
            let _ = dispatch.await;
            for sim in &sims {
                sim.drain(Duration::from_secs(5)).await;
            }
            let _ = loops_stop.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(15), async {
                let _ = iot.await;
                let _ = fan_out.await;
                let _ = deliver.await;
            })
            .await;
            drop(connectors);
            drop(sims);
            // Ends once every connector (and its pending receipt tasks) let go of the sink.
            let _ = tokio::time::timeout(Duration::from_secs(5), ingest).await;
            tracing::info!("stopped");
        });
        Ok(Self {
            addr,
            first_admin_key,
            smpp_addr,
            smpp_tls_addr,
            store,
            router,
            connectors: connectors_for_reload,
            stop,
            task,
        })
    }

    /// Replaces the route table (SIGHUP): checked first, so a broken file keeps the old table.
    /// Messages are never dropped: those being dispatched finish on the table they started with.
    pub fn reload_routes(&self, routes: &[Route]) -> anyhow::Result<()> {
        let router = Router::new(routes, &self.connectors).context("invalid [[routes]]")?;
        self.router.replace(router);
        tracing::info!(routes = routes.len(), "route table reloaded");
        Ok(())
    }

    /// Asks every loop to stop and waits until they have.
    pub async fn shutdown(self) {
        let Self {
            stop,
            task,
            router,
            connectors,
            ..
        } = self;
        // The reload handles hold every connector (and so the event sink); ingest ends only
        // once all of them are gone, so let go before waiting.
        drop((router, connectors));
        let _ = stop.send(true);
        let _ = task.await;
    }
}

/// The directory of a `sqlite://` store URL (for files that live beside the database).
pub fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(
        std::path::Path::new(path)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default(),
    )
}
