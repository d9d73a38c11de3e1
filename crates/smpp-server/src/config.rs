//! `[smpp_server]` and its `[[smpp_server.accounts]]`: typed, with defaults on every field and
//! validation at load that names the offending key (STYLE §10).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use smsgate_smpp::tls::{ServerTls, TlsError};

/// Why `[smpp_server]` cannot be used; raised at config load so the gateway does not start on
/// it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key is missing, out of range or clashes with another; the sentence names it.
    #[error("{0}")]
    Invalid(String),
    /// A TLS file is missing or broken; the error names the file.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

macro_rules! bail {
    ($($t:tt)*) => {
        return Err(ConfigError::Invalid(format!($($t)*)))
    };
}

/// `[smpp_server]`: the northbound SMPP listener for client applications.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppServerConfig {
    /// Address for plain SMPP, e.g. `"127.0.0.1:2776"` (port 0 picks a free port). At least
    /// one of `listen` and `tls_listen` is required.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Address for SMPP over TLS, e.g. `"0.0.0.0:3550"`; needs `tls_cert_file` and
    /// `tls_key_file`. Both listeners serve the same accounts.
    #[serde(default)]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain of the TLS listener, leaf first.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of `tls_cert_file` (PKCS#8, PKCS#1 or SEC1 PEM).
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// When set, TLS clients must present a certificate signed by one of these CAs (mutual
    /// TLS) before they may even bind. Default: no client certificate asked for.
    #[serde(default)]
    pub tls_client_ca_file: Option<PathBuf>,
    /// The `system_id` our `bind_*_resp` carries. Default `"smsgate"`.
    #[serde(default = "default_system_id")]
    pub system_id: String,
    /// Default for accounts that set no `window`: `submit_sm`s of one account awaiting their
    /// response at once, over all its sessions; more are answered `ESME_RTHROTTLED`.
    /// Default 100.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Default for accounts that set no `max_tps`: `submit_sm`s per second one account may
    /// send (a burst of one second's worth is allowed); more are answered `ESME_RTHROTTLED`.
    /// 0 means no limit. Default 0.
    #[serde(default)]
    pub max_tps: u32,
    /// Client connections open at once over both listeners; one more is closed when it is
    /// accepted (logged). 0: no limit. Default 1000.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Client connections open at once from one IP address. 0: no limit. Default 100.
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// `deliver_sm`s (receipts, inbound SMS) we have in flight per session. Default 10.
    #[serde(default = "default_deliver_window")]
    pub deliver_window: usize,
    /// How long the parts of a long message wait for their siblings; then the parts that came
    /// are sent as one (shorter) message, so nothing acknowledged is dropped. Default `"10m"`.
    #[serde(default = "default_concat_timeout", with = "humantime_serde")]
    pub concat_timeout: Duration,
    /// Idle time after which we probe a client with `enquire_link`. Default `"30s"`.
    #[serde(default = "default_enquire_link", with = "humantime_serde")]
    pub enquire_link_interval: Duration,
    /// How long a client has to answer our `deliver_sm`/`enquire_link`. Default `"30s"`.
    #[serde(default = "default_response_timeout", with = "humantime_serde")]
    pub response_timeout: Duration,
    /// How often a bound receiver's feed is checked for new receipts and inbound SMS.
    /// Default `"200ms"`.
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// The client applications allowed to bind.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
}

/// One `[[smpp_server.accounts]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The `system_id` the client binds with: 1 to 15 characters (SMPP 3.4 §4.1.1). Its
    /// messages are owned by `smpp:<system_id>`.
    pub system_id: String,
    /// The password: 6 to 8 characters (SMPP 3.4 §4.1.1 allows at most 8).
    pub password: String,
    /// This account's window; default `[smpp_server] window`.
    #[serde(default)]
    pub window: Option<usize>,
    /// This account's submits per second; default `[smpp_server] max_tps` (0: no limit).
    #[serde(default)]
    pub max_tps: Option<u32>,
    /// Inbound SMS whose recipient starts with one of these prefixes (`"+4930"`, `"1234"`;
    /// `""` matches every number) go to this account's receiver binds. Default none.
    #[serde(default)]
    pub inbound: Vec<String>,
    /// The tenant its messages belong to (what that tenant's API keys and webhooks see).
    /// Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn default_tenant() -> String {
    smsgate_core::store::DEFAULT_TENANT.to_owned()
}

fn default_system_id() -> String {
    "smsgate".into()
}
fn default_window() -> usize {
    100
}
fn default_deliver_window() -> usize {
    10
}
fn default_concat_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_enquire_link() -> Duration {
    Duration::from_secs(30)
}
fn default_response_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_connections() -> usize {
    1000
}

fn default_max_connections_per_ip() -> usize {
    100
}

fn default_poll() -> Duration {
    Duration::from_millis(200)
}

impl AccountConfig {
    /// The owner (`api_key_id`) of this account's messages.
    pub fn owner(&self) -> String {
        owner(&self.system_id)
    }
}

/// The owner (`api_key_id`) of the messages an account submits: `smpp:<system_id>`.
pub fn owner(system_id: &str) -> String {
    format!("smpp:{system_id}")
}

/// The shortest account password accepted: SMPP caps passwords at 8 characters, so every one
/// that is allowed matters.
pub const MIN_PASSWORD: usize = 6;

fn printable(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_graphic())
}

impl SmppServerConfig {
    /// The TLS listener's settings when `tls_listen` is set; an error naming the missing key
    /// when it lacks its certificate or key, or when `tls_*` files are set without it.
    pub fn tls(&self) -> Result<Option<ServerTls>, ConfigError> {
        match (&self.tls_listen, &self.tls_cert_file, &self.tls_key_file) {
            (Some(_), Some(cert), Some(key)) => Ok(Some(ServerTls {
                cert_file: cert.clone(),
                key_file: key.clone(),
                client_ca_file: self.tls_client_ca_file.clone(),
            })),
            (Some(_), None, _) => bail!("smpp_server.tls_listen needs smpp_server.tls_cert_file"),
            (Some(_), _, None) => bail!("smpp_server.tls_listen needs smpp_server.tls_key_file"),
            (None, cert, key) => {
                if cert.is_some() || key.is_some() || self.tls_client_ca_file.is_some() {
                    bail!("smpp_server.tls_* files are set but tls_listen is not");
                }
                Ok(None)
            }
        }
    }

    /// Checks the limits SMPP 3.4 §4.1.1 puts on credentials, uniqueness and ranges; the error
    /// names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_none() && self.tls_listen.is_none() {
            bail!("smpp_server needs listen (plain SMPP), tls_listen (SMPP over TLS) or both");
        }
        if let Some(tls) = self.tls()? {
            // Load now, so a missing or broken file stops the start-up with its name.
            tls.load()?;
        }
        let id = &self.system_id;
        if id.is_empty() || id.chars().count() > 15 || !printable(id) {
            bail!("smpp_server.system_id '{id}' must be 1 to 15 printable ASCII characters");
        }
        if self.window == 0 {
            bail!("smpp_server.window must be at least 1");
        }
        if self.deliver_window == 0 {
            bail!("smpp_server.deliver_window must be at least 1");
        }
        if self.poll_interval.is_zero() {
            bail!("smpp_server.poll_interval must be more than 0");
        }
        let mut seen = HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let at = format!("smpp_server.accounts[{i}]");
            let sid = &a.system_id;
            if sid.is_empty() || sid.chars().count() > 15 || !printable(sid) {
                bail!(
                    "{at}.system_id '{sid}' must be 1 to 15 printable ASCII characters \
                     (SMPP 3.4 §4.1.1)"
                );
            }
            let len = a.password.chars().count();
            if !(MIN_PASSWORD..=8).contains(&len) || !printable(&a.password) {
                bail!(
                    "{at}.password (account '{sid}') must be {MIN_PASSWORD} to 8 printable ASCII \
                     characters (SMPP 3.4 §4.1.1 allows at most 8; fewer than {MIN_PASSWORD} \
                     are guessed too easily)"
                );
            }
            if !seen.insert(sid.as_str()) {
                bail!("{at}.system_id '{sid}' is used by two accounts; system_ids must be unique");
            }
            if a.window == Some(0) {
                bail!("{at}.window (account '{sid}') must be at least 1");
            }
            for p in &a.inbound {
                let digits = p.strip_prefix('+').unwrap_or(p);
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    bail!(
                        "{at}.inbound prefix '{p}' (account '{sid}') must be digits, \
                         optionally after '+', or \"\" for every number"
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Format;

    fn parse(toml_accounts: &str) -> Result<SmppServerConfig, String> {
        let text = format!("listen = \"127.0.0.1:0\"\n{toml_accounts}");
        let c: SmppServerConfig = figment::Figment::new()
            .merge(figment::providers::Toml::string(&text))
            .extract()
            .map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_and_an_account_load() {
        let c = parse(
            "[[accounts]]\nsystem_id = \"app1\"\npassword = \"s3cret\"\nmax_tps = 5\ninbound = [\"+4930\", \"\"]\n",
        )
        .unwrap();
        assert_eq!((c.window, c.max_tps, c.deliver_window), (100, 0, 10));
        assert_eq!(c.concat_timeout, Duration::from_secs(600));
        assert_eq!(c.accounts[0].max_tps, Some(5));
        assert_eq!(c.accounts[0].owner(), "smpp:app1");
    }

    #[test]
    fn the_tls_listener_needs_its_certificate_and_key_and_loads_them_at_validation() {
        let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop/tls");
        let ok = parse(&format!(
            "tls_listen = \"127.0.0.1:0\"\ntls_cert_file = \"{tls}/server.pem\"\ntls_key_file = \"{tls}/server.key\"\n"
        ))
        .unwrap();
        assert!(ok.tls().unwrap().is_some());
        let e = parse("tls_listen = \"127.0.0.1:0\"\n").unwrap_err();
        assert!(e.to_string().contains("tls_cert_file"), "{e}");
        let e = parse(&format!("tls_cert_file = \"{tls}/server.pem\"\n")).unwrap_err();
        assert!(e.to_string().contains("tls_listen is not"), "{e}");
        // The key of another certificate: rustls refuses the pair, and says so at load.
        let e = parse(&format!(
            "tls_listen = \"127.0.0.1:0\"\ntls_cert_file = \"{tls}/server.pem\"\ntls_key_file = \"{tls}/client.key\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("TLS configuration"), "{e}");
        let e = parse(&format!(
            "tls_listen = \"127.0.0.1:0\"\ntls_cert_file = \"{tls}/missing.pem\"\ntls_key_file = \"{tls}/server.key\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let e: SmppServerConfig = figment::Figment::new()
            .merge(figment::providers::Toml::string("system_id = \"x\"\n"))
            .extract()
            .unwrap();
        assert!(e.validate().unwrap_err().to_string().contains("tls_listen"));
    }

    #[test]
    fn credentials_beyond_the_smpp_limits_are_refused_with_the_key_named() {
        let e = parse("[[accounts]]\nsystem_id = \"a-very-long-system\"\npassword = \"x\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("accounts[0].system_id"), "{e}");
        let e = parse("[[accounts]]\nsystem_id = \"app\"\npassword = \"ninechars\"\n").unwrap_err();
        assert!(e.to_string().contains("accounts[0].password"), "{e}");
        let e = parse("[[accounts]]\nsystem_id = \"app\"\npassword = \"\"\n").unwrap_err();
        assert!(e.to_string().contains("password"), "{e}");
        let e = parse("[[accounts]]\nsystem_id = \"app\"\npassword = \"pw\"\n").unwrap_err();
        assert!(e.to_string().contains("6 to 8"), "too short: {e}");
        let e = parse(
            "[[accounts]]\nsystem_id = \"a\"\npassword = \"pw-12345\"\n[[accounts]]\nsystem_id = \"a\"\npassword = \"qw-12345\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unique"), "{e}");
        let e = parse(
            "[[accounts]]\nsystem_id = \"a\"\npassword = \"pw-12345\"\ninbound = [\"+49x\"]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("inbound prefix"), "{e}");
        let e = parse("[[accounts]]\nsystem_id = \"a\"\npassword = \"pw-12345\"\nwindow = 0\n")
            .unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
        let e = parse("[[accounts]]\nsystem_id = \"a\"\npasword = \"p\"\n").unwrap_err();
        assert!(e.to_string().contains("pasword"), "{e}");
    }
}
