//! Builds the configured `[[connectors]]` into running [`Connector`](smsgate_core::connector::Connector)s, one module per type.
//!
//! Each type parses its own settings (with `deny_unknown_fields`, so a typo names the key) and
//! starts whatever tasks it needs. Connectors report receipts and inbound SMS into the shared
//! [`ConnectorEvents`] sink and never touch the store.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use smsgate_core::connector::{ConnectorEvents, DynConnector};
use smsgate_core::simnet::{SimConfig, SimNetwork};

use crate::config::ConnectorConfig;

pub mod modem;
pub mod smpp;

/// The connector types this build knows, for config validation and error messages.
pub const KINDS: &[&str] = &["simulator", "smpp", "modem"];

/// A started connector and the extra handles the gateway needs from some types.
pub struct Built {
    /// The connector.
    pub connector: DynConnector,
    /// Set for `simulator`: inbound injection, resume and drain on shutdown.
    pub sim: Option<Arc<SimNetwork>>,
}

/// Parses a connector's own settings into `T`, naming the connector on error.
pub fn settings<T: serde::de::DeserializeOwned>(c: &ConnectorConfig) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::Object(c.settings.clone()))
        .with_context(|| format!("connectors '{}' (type {})", c.name, c.kind))
}

/// Checks a connector's settings without starting it (config load).
pub fn validate(c: &ConnectorConfig) -> anyhow::Result<()> {
    match c.kind.as_str() {
        "simulator" => {
            let s: SimConfig = settings(c)?;
            for (key, v) in [
                ("failure_rate", s.failure_rate),
                ("throttle_rate", s.throttle_rate),
                ("reject_rate", s.reject_rate),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    anyhow::bail!(
                        "connectors '{}': {key} = {v} must be between 0.0 and 1.0",
                        c.name
                    );
                }
            }
            Ok(())
        }
        "smpp" => {
            let s: smpp::SmppSettings = settings(c)?;
            smpp::validate(&s).with_context(|| format!("connectors '{}' (type smpp)", c.name))
        }
        "modem" => modem::parse(c).map(|_| ()),
        other => anyhow::bail!(
            "connectors '{}': type '{other}' is not supported; use one of: {}",
            c.name,
            KINDS.join(", ")
        ),
    }
}

/// Starts one connector. `data_dir` is where the store lives (for journals and state files).
pub fn build(
    c: &ConnectorConfig,
    events: ConnectorEvents,
    data_dir: Option<&Path>,
) -> anyhow::Result<Built> {
    match c.kind.as_str() {
        "simulator" => {
            let sim = Arc::new(
                SimNetwork::new(&c.name, settings(c)?, events)
                    .with_context(|| format!("starting simulator connector '{}'", c.name))?,
            );
            Ok(Built {
                connector: sim.clone(),
                sim: Some(sim),
            })
        }
        "smpp" => {
            let connector = smpp::SmppConnector::start(&c.name, settings(c)?, events)
                .with_context(|| format!("starting smpp connector '{}'", c.name))?;
            Ok(Built {
                connector: Arc::new(connector),
                sim: None,
            })
        }
        "modem" => Ok(Built {
            connector: modem::build(c, events, data_dir)?,
            sim: None,
        }),
        other => anyhow::bail!("connectors '{}': unknown type '{other}'", c.name),
    }
}
