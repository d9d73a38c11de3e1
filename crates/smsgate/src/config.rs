//! The configuration file (`smsgate.toml`) and its `SMSGATE_SECTION__KEY` environment overrides.
//!
//! Every section and key is documented on its field with its default; unknown keys are an error
//! that names them, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
pub use smsgate_connectors::ConnectorConfig;
use smsgate_core::dispatcher::DispatcherConfig;
use smsgate_core::intake::IntakeLimits;
use smsgate_core::routing::Route;

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[http]`.
    pub http: HttpConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[cluster]`: several nodes on one PostgreSQL store.
    pub cluster: ClusterConfig,
    /// `[dispatcher]`: retries, timeouts, batch sizes.
    pub dispatcher: DispatcherConfig,
    /// `[limits]`: what a message may be.
    pub limits: IntakeLimits,
    /// `[webhooks]`.
    pub webhooks: WebhooksConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[[connectors]]`; none means one simulated network named `sim`.
    pub connectors: Vec<ConnectorConfig>,
    /// `[[routes]]`; none means every connector serves every number, in order.
    pub routes: Vec<Route>,
    /// `[iot]`: alert validity, command timeout, telemetry retention, and the devices,
    /// contacts, `[[iot.groups]]` and rules to create at start.
    pub iot: smsgate_iot::EngineConfig,
    /// `[smpp_server]`: the SMPP listener for client applications; none when absent.
    pub smpp_server: Option<smsgate_smpp_server::SmppServerConfig>,
    /// `[smtp]`: email-to-SMS (mail to `+<number>@domain`); none when absent.
    pub smtp: Option<smsgate_smtp::SmtpConfig>,
    /// `[twilio]`: the Twilio-compatible API's Messaging Services (sender pools).
    pub twilio: TwilioConfig,
    /// `[kannel]`: Kannel's `/cgi-bin/sendsms` on a listener of its own; none when absent.
    pub kannel: Option<smsgate_api::kannel::KannelConfig>,
    /// `[mqtt]`: the MQTT bridge (sends from `{prefix}/send`, events published, device
    /// commands); none when absent.
    pub mqtt: Option<smsgate_mqtt::MqttConfig>,
    /// `[[inbound_rules]]`: keyword routing of inbound SMS (replies, forwards), first match
    /// wins.
    pub inbound_rules: Vec<smsgate_core::inbound_rules::InboundRuleConfig>,
    /// `[[quiet_zones]]`: the local time of number prefixes the built-in table lacks or gets
    /// too coarse (countries with several zones), for quiet hours.
    pub quiet_zones: Vec<smsgate_core::quiet::ZoneConfig>,
    /// `[retention]`: when message and inbound texts are blanked, and rows deleted.
    pub retention: smsgate_core::retention::RetentionConfig,
    /// `[compliance]`: the STOP/START/HELP words and answers, and what a STOP covers.
    pub compliance: smsgate_core::compliance::ComplianceConfig,
    /// `[[tenants]]`: tenants to create or update at start (sender ids, queue quota, inbound
    /// numbers, allowed networks); more can be made with `PUT /v1/tenants/{id}`.
    pub tenants: Vec<smsgate_core::store::Tenant>,
}

/// `[twilio]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// `[[twilio.messaging_services]]`: `sid = "MG…"`, `senders = ["+4930555000", …]`.
    pub messaging_services: Vec<smsgate_api::MessagingService>,
}

/// `[http]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the REST API and dashboard. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Largest request body. Default 1 MiB (a full batch of 1,000 messages fits).
    pub max_body_bytes: usize,
    /// Time a client has to send a request's headers, and the longest an idle keep-alive
    /// connection is kept. Default `"10s"` (a slowloris client is cut off after it).
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Longest time from a request's headers to its answer, reading the body included
    /// (408 `request_timeout` after it). Default `"30s"`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Client connections open at once (0: no limit); more are closed when accepted, logged.
    /// Default 1024.
    pub max_connections: usize,
    /// PEM certificate chain (leaf first): with `tls_key`, the API is served over HTTPS only.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<std::path::PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1 << 20,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[store]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Database URL. Default `sqlite://smsgate-data/smsgate.db`.
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://smsgate-data/smsgate.db".into(),
        }
    }
}

/// `[cluster]`: how the nodes sharing a PostgreSQL store watch each other (see
/// `smsgate_core::cluster`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// A node silent this long is dead: the others take over the messages it had claimed and,
    /// if it led, the lead. Nodes beat every quarter of it. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub node_timeout: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_timeout: Duration::from_secs(10),
        }
    }
}

/// `[webhooks]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Timeout of one POST. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// POSTs in flight in total. Default 256.
    pub concurrency: usize,
    /// POSTs in flight to one receiver (`scheme://host:port`), so a slow one cannot hold the
    /// others' slots. Default 32.
    pub per_endpoint: usize,
    /// Internal networks (CIDR: `10.0.0.0/8`, `127.0.0.1/32`) every tenant's webhooks and
    /// callbacks may reach. Loopback and private addresses are otherwise refused for tenant
    /// keys (admin subscriptions may reach them); link-local ones are refused for all.
    pub allow_networks: Vec<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            concurrency: 256,
            per_endpoint: 32,
            allow_networks: Vec::new(),
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` (default) or `smsgate=debug,info`; `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Config {
    /// Loads `path` (if given; it must exist) and the `SMSGATE_SECTION__KEY` environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::new();
        if let Some(p) = path {
            if !p.exists() {
                bail!("config file {} does not exist", p.display());
            }
            fig = fig.merge(Toml::file(p));
        }
        // Only double-underscore names are config keys; SMSGATE_URL/SMSGATE_KEY are the CLI's.
        let env = Env::prefixed("SMSGATE_")
            .filter(|k| k.as_str().contains("__"))
            .split("__");
        fig = fig.merge(env);
        let config: Config = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let mut names = std::collections::HashSet::new();
        for c in &self.connectors {
            if c.name.is_empty() {
                bail!("a [[connectors]] entry has an empty name");
            }
            if !names.insert(c.name.as_str()) {
                bail!(
                    "two [[connectors]] are named '{}'; names must be unique",
                    c.name
                );
            }
            smsgate_connectors::validate(c)?;
        }
        if let Some(s) = &self.smpp_server {
            s.validate()?;
        }
        if let Some(s) = &self.smtp {
            s.validate()?;
        }
        for m in &self.twilio.messaging_services {
            m.validate()
                .map_err(|e| anyhow::anyhow!("[[twilio.messaging_services]]: {e}"))?;
        }
        if let Some(k) = &self.kannel {
            k.validate().map_err(|e| anyhow::anyhow!(e))?;
        }
        let relay = self.smtp.as_ref().is_some_and(|s| s.replies.is_some());
        if let Some(i) = self.inbound_rules.iter().position(|r| r.email.is_some())
            && !relay
        {
            bail!(
                "[[inbound_rules]] #{} mails the SMS (email = …): that needs [smtp] with \
                 [smtp.replies] relay = \"smtp://…\" to send through",
                i + 1
            );
        }
        if let Some(m) = &self.mqtt {
            m.validate().map_err(|e| anyhow::anyhow!(e))?;
        }
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            bail!("[http] tls_cert and tls_key go together: set both to serve HTTPS, or neither");
        }
        if self.http.header_timeout.is_zero() || self.http.request_timeout.is_zero() {
            bail!("[http] header_timeout and request_timeout must be more than 0s");
        }
        smsgate_core::outbound::parse_networks(&self.webhooks.allow_networks)
            .map_err(|e| anyhow::anyhow!("[webhooks] allow_networks: {e}"))?;
        self.compliance.validate().map_err(|e| anyhow::anyhow!(e))?;
        self.retention.validate().map_err(|e| anyhow::anyhow!(e))?;
        smsgate_core::quiet::parse_zones(&self.quiet_zones).map_err(|e| anyhow::anyhow!(e))?;
        smsgate_core::inbound_rules::compile(&self.inbound_rules)
            .map_err(|e| anyhow::anyhow!(e))?;
        for t in &self.tenants {
            smsgate_api::check_tenant(t)
                .map_err(|e| anyhow::anyhow!("[[tenants]] '{}': {}", t.id, e.message))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_and_allowed_networks_are_checked() {
        let c = load_str(
            "[webhooks]\nallow_networks = [\"10.0.0.0/8\"]\n[[tenants]]\nid = \"acme\"\n\
             sender_ids = [\"ACME\"]\nqueue_quota = 100\ninbound = [\"+4930*\"]\n",
        )
        .unwrap();
        assert_eq!(c.tenants[0].sender_ids, vec!["ACME"]);
        let e = load_str("[webhooks]\nallow_networks = [\"10.0.0.0/99\"]\n").unwrap_err();
        assert!(e.to_string().contains("allow_networks"), "{e}");
        let e = load_str("[[tenants]]\nid = \"Acme Corp\"\n").unwrap_err();
        assert!(e.to_string().contains("[[tenants]] 'Acme Corp'"), "{e}");
    }

    #[test]
    fn the_mqtt_section_loads_and_is_checked() {
        let c = load_str(
            "[mqtt]\nurl = \"mqtt://broker:1884\"\ntopic_prefix = \"site/gw\"\ntenants = [\"acme\"]\n",
        )
        .unwrap();
        let m = c.mqtt.unwrap();
        assert_eq!(m.client_id(), "smsgate-site-gw");
        assert_eq!(m.tenant, "default");
        assert_eq!(m.keepalive, Duration::from_secs(30));
        let e = load_str("[mqtt]\nurl = \"http://broker\"\n").unwrap_err();
        assert!(e.to_string().contains("[mqtt] url"), "{e}");
        let e = load_str("[mqtt]\ntopic = \"x\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("topic"), "{e:#}");
        assert!(load_str("").unwrap().mqtt.is_none());
    }

    fn load_str(toml: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("smsgate.toml");
        std::fs::write(&p, toml)?;
        Config::load(Some(&p))
    }

    #[test]
    fn defaults_apply_when_the_file_is_empty() {
        let c = load_str("").unwrap();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.store.url, "sqlite://smsgate-data/smsgate.db");
        assert!(c.connectors.is_empty());
    }

    #[test]
    fn a_simulator_connector_and_routes_load() {
        let c = load_str(
            r#"
            [http]
            listen = "127.0.0.1:0"
            [[connectors]]
            name = "sim"
            type = "simulator"
            delivery_delay = "200ms"
            failure_rate = 0.5
            [[routes]]
            prefix = "+49"
            connectors = ["sim"]
            "#,
        )
        .unwrap();
        let s: smsgate_connectors::simnet::SimConfig = c.connectors[0].parse().unwrap();
        assert_eq!(s.delivery_delay, Duration::from_millis(200));
        assert_eq!(c.routes[0].prefix, "+49");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = load_str("[http]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n").unwrap_err();
        assert!(format!("{e:#}").contains("lisen"), "{e:#}");
        let e = load_str("[[connectors]]\nname = \"s\"\ntype = \"simulator\"\nfailure = 1\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("failure"), "{e:#}");
        let e = load_str(
            "[[connectors]]\nname = \"m\"\ntype = \"modem\"\ndevice = \"/dev/ttyUSB0\"\npinn = \"1\"\n",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("pinn"), "{e:#}");
        let e = load_str("[[connectors]]\nname = \"m\"\ntype = \"modem\"\ndevice = \"tcp://x\"\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("tcp://host:port"), "{e:#}");
        let e = load_str("[[connectors]]\nname = \"s\"\ntype = \"carrier-pigeon\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("carrier-pigeon"), "{e:#}");
    }
}
