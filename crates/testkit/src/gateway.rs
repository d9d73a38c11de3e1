//! A gateway under test: the `smsgate` binary crate's [`Gateway`] started in-process on
//! port 0 over a store in a temp dir, with its admin key and an HTTP client, so the tests of
//! the binary crate drive the whole product without a process of their own.

use std::time::Duration;

use serde_json::{Value, json};
use smsgate::config::{Config, ConnectorConfig};
use smsgate::gateway::Gateway;

use crate::http::Api;

/// A gateway under test with its temp dir and admin key: the whole product in-process, so a
/// test drives it over real HTTP without starting a process. It derefs to its [`Api`] client
/// (admin key), so tests write `t.call(..)`, `t.send(..)`, `t.key` and `t.base`.
pub struct TestGateway {
    /// The running gateway (its store, SMPP addresses, `shutdown`).
    pub gw: Gateway,
    /// The client for its API, with the admin key the fresh store created.
    pub api: Api,
    /// The directory of its SQLite file (and journals); removed when the gateway is dropped.
    pub dir: tempfile::TempDir,
}

impl std::ops::Deref for TestGateway {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A config with one simulator connector of the given settings: HTTP on port 0, the store in
/// `dir` (or its PostgreSQL schema, see [`crate::backend`]), retries after 100–400 ms so retry tests finish quickly.
pub fn config(dir: &std::path::Path, sim: Value) -> Config {
    let mut c = Config::default();
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c.store.url = crate::backend::url(dir, "smsgate.db");
    c.dispatcher.retry_base = Duration::from_millis(100);
    c.dispatcher.retry_cap = Duration::from_millis(400);
    let Value::Object(settings) = sim else {
        panic!("sim settings must be an object")
    };
    c.connectors = vec![ConnectorConfig {
        name: "sim".into(),
        kind: "simulator".into(),
        settings,
    }];
    c
}

impl TestGateway {
    /// Starts a gateway with a simulator (`sim` settings merged over a 100 ms delivery delay).
    pub async fn start(sim: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = json!({"delivery_delay": "100ms"});
        for (k, v) in sim.as_object().unwrap() {
            settings[k] = v.clone();
        }
        Self::start_with(config(dir.path(), settings), dir).await
    }

    /// Starts a gateway from a prepared config.
    pub async fn start_with(config: Config, dir: tempfile::TempDir) -> Self {
        let gw = Gateway::start(config).await.unwrap();
        let key = gw
            .first_admin_key
            .clone()
            .expect("fresh store creates an admin key");
        Self::new(gw, key, dir)
    }

    /// Wraps a gateway the test started itself (another clock, a config file, a restart on
    /// the same store with the key of the first start).
    pub fn new(gw: Gateway, key: String, dir: tempfile::TempDir) -> Self {
        let api = Api::new(format!("http://{}", gw.addr), key);
        Self { gw, api, dir }
    }
}
