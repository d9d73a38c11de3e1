//! `[mqtt]`: where the broker is, under which topics the bridge works, and whose messages it
//! sends. Checked once at load ([`MqttConfig::validate`]), so a typo fails the start with the
//! key named instead of a bridge that never connects.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[mqtt]`: the MQTT bridge (see the crate documentation for its topics).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// The broker: `mqtt://host:port` (plain, port 1883 when left out) or `mqtts://host:port`
    /// (TLS, port 8883). Default `"mqtt://127.0.0.1:1883"`.
    pub url: String,
    /// The first level(s) of every topic the bridge subscribes or publishes (`smsgate/send`,
    /// `smsgate/messages/{id}/status`, …); no wildcards, no leading or trailing `/`.
    /// Default `"smsgate"`.
    pub topic_prefix: String,
    /// The MQTT client id. The bridge uses a persistent session (clean session off) so the
    /// broker keeps the sends it published while the gateway was away: the id must stay the
    /// same across restarts, and only one gateway (one cluster) may use it. Default
    /// `"smsgate-"` followed by `topic_prefix` with `/` as `-`.
    pub client_id: Option<String>,
    /// User name for the broker; none by default.
    pub username: Option<String>,
    /// Password for the broker (needs `username`); none by default.
    pub password: Option<String>,
    /// PEM file of the CA certificates that may sign the broker's certificate (`mqtts://`
    /// only). Default: the Mozilla root programme (webpki-roots).
    pub ca_file: Option<PathBuf>,
    /// The tenant whose messages `{prefix}/send` creates (its `sender_ids` apply). Default
    /// `"default"`.
    pub tenant: String,
    /// The tenants `{prefix}/send/{tenant}` and device commands may act for, besides
    /// `tenant`; a send naming any other tenant is refused. Default none.
    pub tenants: Vec<String>,
    /// How often the bridge pings an idle broker, and so how soon it notices a dead link
    /// (at least 5 s). Default `"30s"`.
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
    /// How often the event log is read for new events to publish when nothing else woke the
    /// bridge. Default `"250ms"`.
    #[serde(with = "humantime_serde")]
    pub poll: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: "mqtt://127.0.0.1:1883".into(),
            topic_prefix: "smsgate".into(),
            client_id: None,
            username: None,
            password: None,
            ca_file: None,
            tenant: smsgate_core::store::DEFAULT_TENANT.into(),
            tenants: Vec::new(),
            keepalive: Duration::from_secs(30),
            poll: Duration::from_millis(250),
        }
    }
}

/// Where the broker is, parsed from [`MqttConfig::url`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `mqtts://`: TLS.
    pub tls: bool,
}

impl Broker {
    /// Parses `mqtt://host[:port]` or `mqtts://host[:port]`; the error says what is wrong.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(format!(
                "'{url}' is not mqtt://host:port or mqtts://host:port"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('@') {
            return Err(format!(
                "'{url}': only a host and a port (credentials go in username and password)"
            ));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            // [::1]:1883
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("'{url}': unclosed '[' in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("'{url}': expected ':port' after the host")),
            };
            (host.to_owned(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("'{url}' names no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("'{url}': '{p}' is not a port"))?,
            None => default_port,
        };
        Ok(Self { host, port, tls })
    }
}

impl MqttConfig {
    /// Checks every key; the error names the key (`[mqtt] url: …`).
    pub fn validate(&self) -> Result<(), String> {
        let broker = Broker::parse(&self.url).map_err(|e| format!("[mqtt] url: {e}"))?;
        crate::topics::check_prefix(&self.topic_prefix)
            .map_err(|e| format!("[mqtt] topic_prefix: {e}"))?;
        if let Some(id) = &self.client_id
            && (id.is_empty() || id.len() > 256)
        {
            return Err("[mqtt] client_id: must be 1 to 256 characters".into());
        }
        if self.password.is_some() && self.username.is_none() {
            return Err("[mqtt] password needs a username".into());
        }
        if self.ca_file.is_some() && !broker.tls {
            return Err("[mqtt] ca_file applies to mqtts:// only; the url is plain mqtt://".into());
        }
        for (key, t) in std::iter::once(("tenant", &self.tenant))
            .chain(self.tenants.iter().map(|t| ("tenants", t)))
        {
            if t.is_empty() || !crate::topics::is_plain_level(t) {
                return Err(format!(
                    "[mqtt] {key}: '{t}' is not a tenant id (no '/', '+', '#' or spaces)"
                ));
            }
        }
        if self.keepalive < Duration::from_secs(5) {
            return Err("[mqtt] keepalive: at least 5s".into());
        }
        if self.poll.is_zero() {
            return Err("[mqtt] poll: must be more than 0s".into());
        }
        if broker.tls {
            // The CA file is read now, so a wrong path fails the start, not every connect.
            crate::tls::client_config(self.ca_file.as_deref())?;
        }
        Ok(())
    }

    /// The broker address (the url is checked by [`MqttConfig::validate`]).
    pub fn broker(&self) -> Result<Broker, String> {
        Broker::parse(&self.url)
    }

    /// The client id in force: `client_id`, or `smsgate-{topic_prefix}`.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("smsgate-{}", self.topic_prefix.replace('/', "-")))
    }

    /// Whether sends and commands may act for `tenant`.
    pub fn allows_tenant(&self, tenant: &str) -> bool {
        self.tenant == tenant || self.tenants.iter().any(|t| t == tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_and_tls() {
        let b = Broker::parse("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((b.host.as_str(), b.port, b.tls), ("127.0.0.1", 1883, false));
        let b = Broker::parse("mqtts://broker.example.com").unwrap();
        assert_eq!((b.port, b.tls), (8883, true));
        let b = Broker::parse("mqtt://[::1]:1884/").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 1884));
        for bad in [
            "tcp://x:1",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://u:p@h:1",
            "mqtt://h:1/topic",
        ] {
            assert!(Broker::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_key() {
        let ok = MqttConfig::default();
        ok.validate().unwrap();
        assert_eq!(ok.client_id(), "smsgate-smsgate");
        let bad = |c: MqttConfig, key: &str| {
            let e = c.validate().unwrap_err();
            assert!(e.contains(key), "{e}");
        };
        bad(
            MqttConfig {
                topic_prefix: "a/#".into(),
                ..ok.clone()
            },
            "topic_prefix",
        );
        bad(
            MqttConfig {
                password: Some("p".into()),
                ..ok.clone()
            },
            "password",
        );
        bad(
            MqttConfig {
                ca_file: Some("/ca.pem".into()),
                ..ok.clone()
            },
            "ca_file",
        );
        bad(
            MqttConfig {
                tenants: vec!["a b".into()],
                ..ok.clone()
            },
            "tenants",
        );
        bad(
            MqttConfig {
                keepalive: Duration::from_secs(1),
                ..ok.clone()
            },
            "keepalive",
        );
        let c = MqttConfig {
            tenants: vec!["acme".into()],
            ..ok
        };
        assert!(c.allows_tenant("default") && c.allows_tenant("acme"));
        assert!(!c.allows_tenant("other"));
    }
}
