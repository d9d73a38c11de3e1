//! The API's services without a gateway: a store on a fresh SQLite file, the intake door, one
//! scripted connector (always bound, never sends: no dispatcher runs), and a phone that
//! stores what `POST /v1/sim/inbound` hands it. The router is served on 127.0.0.1:0 and
//! called over HTTP with an admin key.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};
use smsgate_api::{AppState, Services};
use smsgate_core::clock::Clock;
use smsgate_core::connector::{DynConnector, InboundInjector, InboundSms};
use smsgate_core::intake::{Intake, IntakeLimits};
use smsgate_core::routing::{Connectors, Router, SharedRouter};
use smsgate_core::signals::Signals;
use smsgate_core::store::Store;
use smsgate_testkit::connector::Scripted;
use smsgate_testkit::http::Api;

/// What a test may change about the served API.
pub struct Options {
    /// `http.max_body_bytes`; 1 MiB as in the gateway's default.
    pub max_body_bytes: usize,
    /// `[limits]`.
    pub limits: IntakeLimits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            limits: IntakeLimits::default(),
        }
    }
}

/// The router under test and what a test inspects behind it.
pub struct Server {
    /// A client with an admin key.
    pub api: Api,
    /// The store the handlers write through.
    pub store: Arc<dyn Store>,
    /// What `POST /v1/sim/inbound` handed over.
    pub phone: Arc<Phone>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The router with default [`Options`].
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// The router with chosen options.
    pub async fn start_with(options: Options) -> Self {
        let (store, dir) = smsgate_testkit::store::store().await;
        let clock = Clock::system();
        let signals = Signals::default();
        let intake = Intake::new(Arc::clone(&store), options.limits, clock, signals.clone());
        intake.seed().await.unwrap();
        let connectors = Connectors::new(vec![Scripted::silent("sim", &[]) as DynConnector]);
        let router = SharedRouter::new(Router::new(&[], &connectors).unwrap());
        let phone = Arc::new(Phone {
            store: Arc::clone(&store),
            clock,
            heard: Mutex::default(),
        });
        let state = AppState::new(Services {
            store: Arc::clone(&store),
            clock,
            intake,
            signals,
            connectors,
            router,
            sim: Some(Arc::clone(&phone) as Arc<dyn InboundInjector>),
            iot: None,
            smpp_sessions: None,
            channels: Vec::new(),
            allow_networks: Vec::new(),
            node_timeout: std::time::Duration::from_secs(10),
            inbound_rules: Vec::new(),
            messaging_services: Vec::new(),
        });
        let app = smsgate_api::router(state, options.max_body_bytes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let admin = smsgate_testkit::store::api_key(&*store, "admin", true).await;
        Self {
            api: Api::new(base, admin.secret),
            store,
            phone,
            _dir: dir,
        }
    }

    /// A client with a new key scoped to its own messages; returns it and the key's id.
    pub async fn client(&self, name: &str) -> (Api, String) {
        let key = smsgate_testkit::store::api_key(&*self.store, name, false).await;
        (Api::new(self.api.base.clone(), key.secret), key.id)
    }

    /// `POST /v1/messages` of `to` and `text` with the admin key; returns the id.
    pub async fn send(&self, to: &str, text: &str) -> String {
        self.api.send(json!({"to": to, "text": text})).await
    }
}

/// The `error.code` of an error answer.
pub fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {body}"))
}

/// The `error.message` of an error answer.
pub fn message(body: &Value) -> &str {
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {body}"))
}

/// Plays the simulated network's phone: stores what it is handed as the network's ingest
/// would, and remembers it.
pub struct Phone {
    store: Arc<dyn Store>,
    clock: Clock,
    /// `(from, to, text)` of every message handed over.
    pub heard: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl InboundInjector for Phone {
    async fn inject_inbound(&self, from: &str, to: &str, text: &str) -> bool {
        self.heard
            .lock()
            .unwrap()
            .push((from.into(), to.into(), text.into()));
        let sms = InboundSms {
            connector: "sim".into(),
            from: from.into(),
            to: to.into(),
            text: text.into(),
            incomplete: false,
            binary: None,
        };
        self.store
            .insert_inbound(vec![sms], self.clock.now_ms())
            .await
            .is_ok()
    }
}
