//! Wiring, in two steps you can read on one screen each: [`build`] makes every part from a
//! [`Config`] (store, door, connectors, routes, listener) and starts nothing but the
//! connectors' own links; `spawn` starts the loops as a named set of [`Tasks`], and
//! `Tasks::stop` ends them in the one order that loses nothing: HTTP and the SMPP server stop
//! accepting → the dispatcher finishes and records in-flight submits → connectors hand over
//! what they still owe → the IoT engine, webhook loops and MQTT bridge stop → event ingest
//! drains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use smsgate_api::{AppState, Services};
use smsgate_connectors::simnet::SimNetwork;
use smsgate_connectors::{BuildContext, ConnectorConfig, sqlite_dir};
use smsgate_core::clock::Clock;
use smsgate_core::connector::{ConnectorEvents, DynConnector, InboundInjector, Reported};
use smsgate_core::dispatcher::Dispatcher;
use smsgate_core::intake::Intake;
use smsgate_core::routing::{Connectors, Route, Router, SharedRouter};
use smsgate_core::signals::Signals;
use smsgate_core::store::Store;
use smsgate_core::webhook::{self, WebhookConfig};
use smsgate_smpp_server::SmppServer;
use smsgate_store::Backend;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;

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
    /// Where `[smtp]` listens for plain SMTP (STARTTLS offered), when configured.
    pub smtp_addr: Option<SocketAddr>,
    /// Where `[smtp]` listens for SMTP over TLS, when configured.
    pub smtp_tls_addr: Option<SocketAddr>,
    /// Where `[kannel]` serves `/cgi-bin/sendsms`, when configured.
    pub kannel_addr: Option<SocketAddr>,
    /// The store, for tests and CLI commands run in-process.
    pub store: Arc<dyn Store>,
    router: Arc<SharedRouter>,
    connectors: Connectors,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Every part of a gateway, built and checked, before any loop runs.
pub struct Parts {
    config: Config,
    clock: Clock,
    backend: Backend,
    first_admin_key: Option<String>,
    signals: Signals,
    intake: Arc<Intake>,
    connectors: Connectors,
    sims: Vec<Arc<SimNetwork>>,
    injector: Option<Arc<dyn InboundInjector>>,
    router: Arc<SharedRouter>,
    events: mpsc::Receiver<Reported>,
    listener: tokio::net::TcpListener,
    /// A SQLite store's data directory lock, held until every loop has stopped.
    data_lock: Option<std::fs::File>,
}

/// Opens the store, counts the queue, builds the connectors and the route table, and binds
/// the HTTP listener. Errors name the config key at fault.
pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Parts> {
    let numbers = tokio::task::spawn_blocking(smsgate_core::number::Msisdn::warm_up);
    let data_lock = sqlite_dir(&config.store.url)
        .map(|dir| crate::data_lock::lock(&dir))
        .transpose()?;
    let backend = smsgate_store::open_all(&config.store.url)
        .await
        .with_context(|| format!("opening the store at {}", config.store.url))?;
    let first_admin_key = ensure_admin_key(&*backend.store, &clock).await?;
    seed_tenants(&*backend.store, &config.tenants, &clock).await?;
    let signals = Signals::default();
    let intake = Intake::new(
        Arc::clone(&backend.store),
        config.limits.clone(),
        clock,
        signals.clone(),
    );
    intake.seed().await?;

    let (events_tx, events) = ConnectorEvents::channel(4096);
    let data_dir = sqlite_dir(&config.store.url);
    let default_sim;
    let entries = if config.connectors.is_empty() {
        // No connector configured: the simulated network, remembering across restarts.
        let journal = data_dir.as_ref().map(|d| d.join("simulator.journal"));
        default_sim = [ConnectorConfig::default_simulator(journal)];
        &default_sim[..]
    } else {
        &config.connectors
    };
    let ctx = BuildContext {
        events: events_tx,
        data_dir,
        clock,
    };
    let mut list: Vec<DynConnector> = Vec::new();
    let mut sims = Vec::new();
    let mut injector: Option<Arc<dyn InboundInjector>> = None;
    for entry in entries {
        let built = smsgate_connectors::build(entry, &ctx)?;
        injector = injector.or_else(|| built.injector());
        sims.extend(built.sim);
        list.push(built.connector);
    }
    let connectors = Connectors::new(list);
    let router =
        SharedRouter::new(Router::new(&config.routes, &connectors).context("invalid [[routes]]")?);
    intake.set_router(Arc::clone(&router));

    let _ = numbers.await;
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
    Ok(Parts {
        config,
        clock,
        backend,
        first_admin_key,
        signals,
        intake,
        connectors,
        sims,
        injector,
        router,
        events,
        listener,
        data_lock,
    })
}

/// The loops of a running gateway, by name, and the signals that stop them.
pub struct Tasks {
    http: JoinHandle<std::io::Result<()>>,
    smpp: Option<SmppServer>,
    smtp: Option<smsgate_smtp::SmtpServer>,
    smtp_replies: Option<JoinHandle<()>>,
    kannel: Option<JoinHandle<std::io::Result<()>>>,
    dispatcher: JoinHandle<()>,
    sims: Vec<Arc<SimNetwork>>,
    loops_stop: watch::Sender<bool>,
    iot: JoinHandle<()>,
    webhooks: JoinHandle<()>,
    mqtt: Option<JoinHandle<()>>,
    compliance: JoinHandle<()>,
    retention: JoinHandle<()>,
    cluster: JoinHandle<()>,
    connectors: Connectors,
    ingest: JoinHandle<()>,
}

impl Tasks {
    /// Waits for the front doors and the dispatcher (already told to stop), then stops the
    /// rest in order.
    async fn stop(self) {
        let _ = self.http.await;
        if let Some(smpp) = self.smpp {
            smpp.join().await;
        }
        if let Some(smtp) = self.smtp {
            smtp.join().await;
        }
        if let Some(kannel) = self.kannel {
            let _ = kannel.await;
        }
        let _ = self.dispatcher.await;
        for sim in &self.sims {
            sim.drain(Duration::from_secs(5)).await;
        }
        let _ = self.loops_stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(15), async {
            let _ = self.iot.await;
            let _ = self.compliance.await;
            let _ = self.retention.await;
            let _ = self.webhooks.await;
            if let Some(mqtt) = self.mqtt {
                let _ = mqtt.await;
            }
            if let Some(r) = self.smtp_replies {
                let _ = r.await;
            }
            // Last: the node leaves (and hands the lead over) once its work is done.
            let _ = self.cluster.await;
        })
        .await;
        drop(self.connectors);
        drop(self.sims);
        // Ends once every connector (and its pending receipt tasks) let go of the sink.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.ingest).await;
    }
}

/// Starts every loop over the built parts.
async fn spawn(p: Parts, stop_rx: &watch::Receiver<bool>) -> anyhow::Result<(Tasks, Started)> {
    let Parts {
        config,
        clock,
        backend,
        first_admin_key,
        signals,
        intake,
        connectors,
        sims,
        injector,
        router,
        events,
        listener,
        data_lock: _,
    } = p;
    let store = Arc::clone(&backend.store);
    let ingest = tokio::spawn(smsgate_core::ingest::run(
        Arc::clone(&store),
        clock,
        events,
        signals.clone(),
    ));
    for sim in &sims {
        sim.resume();
    }
    let (loops_stop, loops_rx) = watch::channel(false);
    // The node's beat first: on a shared database it decides whether the singleton work
    // below (IoT engine, compliance, retention, webhooks) runs here.
    let (lead, cluster) = crate::cluster::start(
        crate::cluster::ClusterDeps {
            store: Arc::clone(&store),
            clock,
            node_timeout: config.cluster.node_timeout,
            http: listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            retry_ambiguous: config.dispatcher.retry_ambiguous,
            signals: signals.clone(),
            intake: Arc::clone(&intake),
            connectors: connectors.clone(),
        },
        loops_rx.clone(),
    )
    .await;
    let iot_deps = {
        let (iot, store, config, intake, signals) = (
            Arc::clone(&backend.iot),
            Arc::clone(&store),
            config.iot.clone(),
            Arc::clone(&intake),
            signals.clone(),
        );
        move || smsgate_iot::task::IotDeps {
            iot: Arc::clone(&iot),
            store: Arc::clone(&store),
            config: config.clone(),
            intake: Arc::clone(&intake),
            clock,
            signals: signals.clone(),
        }
    };
    let iot_service = smsgate_iot::task::IotService::idle(Arc::clone(&backend.iot));
    // Started here when this node leads from the start (always on SQLite), so a bad IoT
    // config fails the start; later leads start it in the loop below.
    let first_iot = if *lead.borrow() {
        let until = smsgate_core::cluster::until_lost(lead.clone(), loops_rx.clone());
        let (running, handle) = smsgate_iot::task::start(iot_deps(), until)
            .await
            .context("starting the IoT engine")?;
        iot_service.attach(&running);
        Some(handle)
    } else {
        None
    };
    let iot = {
        let (service, lead, stop) = (iot_service.clone(), lead.clone(), loops_rx.clone());
        tokio::spawn(async move {
            if let Some(handle) = first_iot {
                let _ = handle.await;
                service.detach();
                if *stop.borrow() {
                    return;
                }
            }
            smsgate_core::cluster::while_leader("IoT engine", lead, stop, |until| {
                let (service, deps) = (service.clone(), iot_deps());
                async move {
                    match smsgate_iot::task::start(deps, until).await {
                        Ok((running, handle)) => {
                            service.attach(&running);
                            let _ = handle.await;
                            service.detach();
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "starting the IoT engine failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            })
            .await;
        })
    };
    // Every opt-out in memory before the first request, so the intake refuses by all of them.
    // Checked when the config was loaded.
    intake
        .quiet_hours()
        .set_zones(smsgate_core::quiet::parse_zones(&config.quiet_zones).unwrap_or_default());
    intake.reload_policies().await?;
    // Checked when the config was loaded.
    let rules = smsgate_core::inbound_rules::compile(&config.inbound_rules)
        .map_err(|e| anyhow::anyhow!(e))?;
    let compliance = {
        let (intake, config, wake) = (
            Arc::clone(&intake),
            config.compliance.clone(),
            Arc::clone(&signals.keywords),
        );
        tokio::spawn(smsgate_core::cluster::while_leader(
            "compliance and inbound rules",
            lead.clone(),
            loops_rx.clone(),
            move |until| {
                smsgate_core::compliance::run(
                    Arc::clone(&intake),
                    config.clone(),
                    rules.clone(),
                    Arc::clone(&wake),
                    until,
                )
            },
        ))
    };
    let retention = {
        let (store, config) = (Arc::clone(&store), config.retention.clone());
        tokio::spawn(smsgate_core::cluster::while_leader(
            "retention",
            lead.clone(),
            loops_rx.clone(),
            move |until| {
                smsgate_core::retention::run(
                    Arc::clone(&store),
                    clock,
                    config.clone(),
                    Duration::from_secs(60),
                    until,
                )
            },
        ))
    };
    // Checked when the config was loaded.
    let allow_networks =
        smsgate_core::outbound::parse_networks(&config.webhooks.allow_networks).unwrap_or_default();
    let webhooks = WebhookConfig {
        timeout: config.webhooks.timeout,
        concurrency: config.webhooks.concurrency.max(1),
        per_endpoint: config.webhooks.per_endpoint.max(1),
        allow_networks: allow_networks.clone(),
        // TwiML and Kannel sms-service answers of inbound rules go back as SMS.
        answers: Some(smsgate_core::webhook::Answers(Arc::clone(&intake))),
        ..WebhookConfig::default()
    };
    let webhooks = {
        let (store, wake) = (Arc::clone(&store), Arc::clone(&signals.events));
        tokio::spawn(smsgate_core::cluster::while_leader(
            "webhook delivery",
            lead.clone(),
            loops_rx.clone(),
            move |until| {
                webhook::run(
                    Arc::clone(&store),
                    clock,
                    webhooks.clone(),
                    Arc::clone(&wake),
                    until,
                )
            },
        ))
    };
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        Arc::clone(&router),
        config.dispatcher.clone(),
        clock,
        signals.clone(),
    );
    let dispatcher = tokio::spawn(dispatcher.run(stopped(stop_rx)));
    // The MQTT bridge publishes the event log and takes sends: on the leading node only.
    let mqtt_status = config
        .mqtt
        .as_ref()
        .map(|c| Arc::new(smsgate_mqtt::MqttStatus::new(&c.url, clock)));
    let mqtt = match (&config.mqtt, &mqtt_status) {
        (Some(c), Some(status)) => {
            let deps = smsgate_mqtt::Deps {
                intake: Arc::clone(&intake),
                northbound: Arc::clone(&backend.northbound),
                iot: Some(iot_service.clone()),
                status: Arc::clone(status),
            };
            let c = c.clone();
            Some(tokio::spawn(smsgate_core::cluster::while_leader(
                "MQTT bridge",
                lead.clone(),
                loops_rx.clone(),
                move |until| smsgate_mqtt::run(c.clone(), deps.clone(), until),
            )))
        }
        _ => None,
    };
    let mut channels: Vec<Arc<dyn smsgate_core::northbound::ChannelState>> = Vec::new();
    if let Some(s) = &mqtt_status {
        channels.push(Arc::clone(s) as _);
    }
    let smpp = match &config.smpp_server {
        Some(c) => {
            let deps = smsgate_smpp_server::Deps {
                northbound: Arc::clone(&backend.northbound),
                intake: Arc::clone(&intake),
            };
            Some(smsgate_smpp_server::start(c, deps, stopped(stop_rx)).await?)
        }
        None => None,
    };
    let (smtp, smtp_replies) = match &config.smtp {
        Some(c) => {
            let deps = smsgate_smtp::Deps {
                intake: Arc::clone(&intake),
                northbound: Arc::clone(&backend.northbound),
            };
            let server = smsgate_smtp::start(c, &deps, stopped(stop_rx)).await?;
            let replies = smsgate_smtp::replies_loop(c, &deps, &server.status)?.map(|r| {
                tokio::spawn(smsgate_core::cluster::while_leader(
                    "smtp replies",
                    lead.clone(),
                    loops_rx.clone(),
                    move |until| r.clone().run(until),
                ))
            });
            (Some(server), replies)
        }
        None => (None, None),
    };
    if let Some(s) = &smtp {
        channels.push(Arc::clone(&s.status) as _);
    }
    let state = AppState::new(Services {
        store: Arc::clone(&store),
        clock,
        intake,
        signals,
        connectors: connectors.clone(),
        router: Arc::clone(&router),
        sim: injector,
        iot: Some(iot_service),
        smpp_sessions: smpp.as_ref().map(|s| Arc::clone(&s.sessions)),
        channels,
        allow_networks,
        node_timeout: config.cluster.node_timeout,
        inbound_rules: config.inbound_rules.clone(),
        messaging_services: config.twilio.messaging_services.clone(),
    });
    let kannel = match &config.kannel {
        Some(k) => {
            let listener = tokio::net::TcpListener::bind(k.listen).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {} (kannel.listen): {e}", k.listen)
            })?;
            let addr = listener.local_addr()?;
            let app = smsgate_api::kannel::router(Arc::clone(&state), k).layer(
                axum::extract::DefaultBodyLimit::max(config.http.max_body_bytes),
            );
            let limits = crate::http_server::Limits {
                header_timeout: config.http.header_timeout,
                max_connections: config.http.max_connections,
                tls: None,
            };
            tracing::info!(listen = %addr, "kannel sendsms listening");
            Some((
                addr,
                tokio::spawn(crate::http_server::serve(
                    listener,
                    app,
                    limits,
                    stopped(stop_rx),
                )),
            ))
        }
        None => None,
    };
    // Open event streams end when the listener stops, so they do not hold its drain.
    let http_stopped = {
        let (state, stopped) = (Arc::clone(&state), stopped(stop_rx));
        async move {
            stopped.await;
            state.close_streams();
        }
    };
    let app = smsgate_api::router_with(
        state,
        smsgate_api::HttpOptions {
            max_body_bytes: config.http.max_body_bytes,
            request_timeout: config.http.request_timeout,
        },
    );
    let addr = listener.local_addr()?;
    let tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(cert), Some(key)) => Some(
            smsgate_smpp::tls::ServerTls {
                cert_file: cert.clone(),
                key_file: key.clone(),
                client_ca_file: None,
            }
            .acceptor()
            .map_err(|e| anyhow::anyhow!("[http] tls_cert/tls_key: {e}"))?,
        ),
        _ => None,
    };
    let limits = crate::http_server::Limits {
        header_timeout: config.http.header_timeout,
        max_connections: config.http.max_connections,
        tls,
    };
    let http = tokio::spawn(crate::http_server::serve(
        listener,
        app,
        limits,
        http_stopped,
    ));
    let started = Started {
        addr,
        first_admin_key,
        smpp_addr: smpp.as_ref().and_then(|s| s.addr),
        smpp_tls_addr: smpp.as_ref().and_then(|s| s.tls_addr),
        smtp_addr: smtp.as_ref().and_then(|s| s.addr),
        smtp_tls_addr: smtp.as_ref().and_then(|s| s.tls_addr),
        kannel_addr: kannel.as_ref().map(|(a, _)| *a),
        store,
        router,
        connectors: connectors.clone(),
    };
    let tasks = Tasks {
        http,
        smpp,
        smtp,
        smtp_replies,
        kannel: kannel.map(|(_, task)| task),
        dispatcher,
        sims,
        loops_stop,
        iot,
        webhooks,
        mqtt,
        compliance,
        retention,
        cluster,
        connectors,
        ingest,
    };
    Ok((tasks, started))
}

/// What the caller keeps of a started gateway.
struct Started {
    addr: SocketAddr,
    first_admin_key: Option<String>,
    smpp_addr: Option<SocketAddr>,
    smpp_tls_addr: Option<SocketAddr>,
    smtp_addr: Option<SocketAddr>,
    smtp_tls_addr: Option<SocketAddr>,
    kannel_addr: Option<SocketAddr>,
    store: Arc<dyn Store>,
    router: Arc<SharedRouter>,
    connectors: Connectors,
}

/// Creates the first admin key when the store has none; returns its secret.
pub async fn ensure_admin_key(store: &dyn Store, clock: &Clock) -> anyhow::Result<Option<String>> {
    if !store.list_api_keys().await?.is_empty() {
        return Ok(None);
    }
    let (key, secret) = smsgate_api::new_key(
        "admin",
        None,
        Some(&["admin".to_owned()]),
        None,
        clock.now_ms(),
    )
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    store.create_api_key(key).await?;
    Ok(Some(secret))
}

/// Creates or updates the config file's `[[tenants]]` (a tenant's creation time is kept).
async fn seed_tenants(
    store: &dyn Store,
    tenants: &[smsgate_core::store::Tenant],
    clock: &Clock,
) -> anyhow::Result<()> {
    if tenants.is_empty() {
        return Ok(());
    }
    let existing = store.list_tenants().await?;
    for t in tenants {
        let mut t = t.clone();
        if t.name.trim().is_empty() {
            t.name = t.id.clone();
        }
        t.created_at = existing
            .iter()
            .find(|x| x.id == t.id)
            .map_or(clock.now_ms(), |x| x.created_at);
        store.put_tenant(t).await?;
    }
    Ok(())
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
        let mut parts = build(config, clock).await?;
        let data_lock = parts.data_lock.take();
        let (stop, stop_rx) = watch::channel(false);
        let (tasks, started) = spawn(parts, &stop_rx).await?;
        let task = tokio::spawn(async move {
            stopped(&stop_rx).await;
            tracing::info!("shutting down: no new requests; finishing in-flight work");
            tasks.stop().await;
            drop(data_lock);
            tracing::info!("stopped");
        });
        Ok(Self {
            addr: started.addr,
            first_admin_key: started.first_admin_key,
            smpp_addr: started.smpp_addr,
            smpp_tls_addr: started.smpp_tls_addr,
            smtp_addr: started.smtp_addr,
            smtp_tls_addr: started.smtp_tls_addr,
            kannel_addr: started.kannel_addr,
            store: started.store,
            router: started.router,
            connectors: started.connectors,
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
