//! smsgate's southbound connectors and their registry: every `[[connectors]]` entry becomes a
//! running [`Connector`](smsgate_core::connector::Connector) here, so the binary only wires.
//!
//! Each type parses its own settings (with `deny_unknown_fields`, so a typo names the key) and
//! starts whatever tasks it needs. Connectors report receipts and inbound SMS into the shared
//! [`ConnectorEvents`] sink and never touch the store; the protocol work itself (SMPP sessions,
//! the AT engine, codecs) lives in `smsgate-smpp`, `smsgate-modem` and `smsgate-sms`.
//!
//! # Layout
//! - this module: the registry ([`KINDS`], [`validate`], [`build`]) and [`ConnectorConfig`].
//! - [`smpp`]: `type = "smpp"`, a carrier SMSC reached as an ESME.
//! - [`modem`]: `type = "modem"`, a GSM/LTE modem over AT commands.
//! - [`simnet`]: `type = "simulator"`, the built-in simulated network (and the default when no
//!   connector is configured).
//! - [`http`]: `type = "http"`, a provider's HTTP API (presets `twilio`, `kannel`, or a
//!   `generic` request template), receipts at `/v1/upstreams/{name}/dlr`.
//!
//! # Tests
//! Pure unit tests per module (`submit_sm` building, `deliver_sm` reading, throttling); the
//! connectors against real peers are tested from the binary's integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use smsgate_core::clock::Clock;
use smsgate_core::connector::{ConnectorEvents, DynConnector, InboundInjector};

pub mod http;
pub mod modem;
pub mod simnet;
pub mod smpp;

use simnet::{SimConfig, SimNetwork};

/// The connector types this build knows, for config validation and error messages.
pub const KINDS: &[&str] = &["simulator", "smpp", "modem", "http"];

/// One `[[connectors]]` entry: a name, a `type`, and the keys of that type.
#[derive(Clone, Debug, Deserialize)]
pub struct ConnectorConfig {
    /// Unique name, used by routes and shown in the API.
    pub name: String,
    /// `simulator`, `smpp` or `modem`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's own keys, checked when the connector is built.
    #[serde(flatten)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl ConnectorConfig {
    /// The default when no connector is configured: the simulated network named `sim`,
    /// remembering what it owes across restarts in `journal` (when the store has a directory).
    pub fn default_simulator(journal: Option<PathBuf>) -> Self {
        let mut settings = serde_json::Map::new();
        settings.insert("journal".into(), serde_json::json!(journal));
        Self {
            name: "sim".into(),
            kind: "simulator".into(),
            settings,
        }
    }
}

/// Why a `[[connectors]]` entry cannot be used. Every message names the connector, so the
/// operator knows which entry of the file to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A key is unknown, missing or out of range; raised at config load, so the gateway does
    /// not start on a file it would misread.
    #[error("connectors '{name}' (type {kind}): {reason}")]
    Settings {
        /// The entry's `name`.
        name: String,
        /// The entry's `type`.
        kind: String,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// The `type` is not one this build knows.
    #[error("connectors '{name}': type '{kind}' is not supported; use one of: {}", KINDS.join(", "))]
    UnknownKind {
        /// The entry's `name`.
        name: String,
        /// The `type` as written.
        kind: String,
    },
    /// The settings are valid but the connector could not start (journal file, TLS files).
    #[error("starting {kind} connector '{name}': {reason}")]
    Start {
        /// The entry's `name`.
        name: String,
        /// The entry's `type`.
        kind: String,
        /// What failed.
        reason: String,
    },
}

/// A setting that does not hold, named in the sentence; the registry wraps it into a
/// [`ConnectorError`] that names the connector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);

impl ConnectorConfig {
    fn settings_error(&self, reason: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::Settings {
            name: self.name.clone(),
            kind: self.kind.clone(),
            reason: reason.to_string(),
        }
    }

    fn start_error(&self, reason: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::Start {
            name: self.name.clone(),
            kind: self.kind.clone(),
            reason: reason.to_string(),
        }
    }

    /// Parses the type's own settings into `T`, naming the connector on error.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_value(serde_json::Value::Object(self.settings.clone()))
            .map_err(|e| self.settings_error(e))
    }
}

/// What every connector is built with: the gateway's shared pieces.
#[derive(Clone)]
pub struct BuildContext {
    /// Where receipts and inbound SMS go (durably, before the network is answered).
    pub events: ConnectorEvents,
    /// The directory the store lives in, for journals and state files beside the database.
    pub data_dir: Option<PathBuf>,
    /// The gateway's clock, so validity periods and timeouts follow a test clock too.
    pub clock: Clock,
}

/// A started connector and the extra handles the gateway needs from some types.
pub struct Built {
    /// The connector.
    pub connector: DynConnector,
    /// Set for `simulator`: resume and drain on shutdown.
    pub sim: Option<Arc<SimNetwork>>,
}

impl Built {
    /// The handle behind `POST /v1/sim/inbound`, when this connector can play a phone.
    pub fn injector(&self) -> Option<Arc<dyn InboundInjector>> {
        self.sim
            .as_ref()
            .map(|s| Arc::clone(s) as Arc<dyn InboundInjector>)
    }
}

/// Checks a connector's settings without starting it (config load).
pub fn validate(c: &ConnectorConfig) -> Result<(), ConnectorError> {
    match c.kind.as_str() {
        "simulator" => {
            let s: SimConfig = c.parse()?;
            s.validate().map_err(|e| c.settings_error(e))
        }
        "smpp" => {
            let s: smpp::SmppSettings = c.parse()?;
            s.validate().map_err(|e| c.settings_error(e))
        }
        "modem" => modem::parse(c).map(|_| ()),
        "http" => {
            let s: http::HttpSettings = c.parse()?;
            s.validate().map_err(|e| c.settings_error(e))
        }
        _ => Err(ConnectorError::UnknownKind {
            name: c.name.clone(),
            kind: c.kind.clone(),
        }),
    }
}

/// Starts one connector.
pub fn build(c: &ConnectorConfig, ctx: &BuildContext) -> Result<Built, ConnectorError> {
    match c.kind.as_str() {
        "simulator" => {
            let sim = Arc::new(
                SimNetwork::new(&c.name, c.parse()?, ctx.events.clone())
                    .map_err(|e| c.start_error(e))?,
            );
            Ok(Built {
                connector: sim.clone(),
                sim: Some(sim),
            })
        }
        "smpp" => {
            let connector = smpp::SmppConnector::start(&c.name, c.parse()?, ctx)
                .map_err(|e| c.start_error(e))?;
            Ok(Built {
                connector: Arc::new(connector),
                sim: None,
            })
        }
        "modem" => Ok(Built {
            connector: modem::build(c, ctx)?,
            sim: None,
        }),
        "http" => Ok(Built {
            connector: Arc::new(
                http::HttpConnector::new(&c.name, c.parse()?, ctx.events.clone())
                    .map_err(|e| c.start_error(e))?,
            ),
            sim: None,
        }),
        _ => Err(ConnectorError::UnknownKind {
            name: c.name.clone(),
            kind: c.kind.clone(),
        }),
    }
}

/// The directory of a `sqlite://` store URL (for files that live beside the database).
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(
        Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, toml_like: serde_json::Value) -> ConnectorConfig {
        ConnectorConfig {
            name: "c1".into(),
            kind: kind.into(),
            settings: toml_like.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn errors_name_the_connector_and_the_key() {
        let e = validate(&entry("simulator", serde_json::json!({"failure": 1}))).unwrap_err();
        assert!(
            e.to_string().contains("'c1'") && e.to_string().contains("failure"),
            "{e}"
        );
        let e = validate(&entry(
            "simulator",
            serde_json::json!({"failure_rate": 2.0}),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("failure_rate = 2"), "{e}");
        let e = validate(&entry("carrier-pigeon", serde_json::json!({}))).unwrap_err();
        assert!(e.to_string().contains("smpp, modem"), "{e}");
    }

    #[test]
    fn the_store_directory_comes_from_sqlite_urls_only() {
        assert_eq!(
            sqlite_dir("sqlite://smsgate-data/smsgate.db"),
            Some(PathBuf::from("smsgate-data"))
        );
        assert_eq!(sqlite_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_dir("postgres://x/y"), None);
    }
}
