//! `[smtp]`, `[[smtp.allow]]` and `[smtp.replies]`, checked when the config is loaded so a
//! listener that would be an open relay, or that cannot start, never does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use smsgate_core::outbound::{Cidr, parse_networks};

/// Where the SMS text comes from in a mail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFrom {
    /// The body (the default: what alarm panels and NVRs put their message in).
    #[default]
    Body,
    /// The subject line only (devices that send a fixed body, or none).
    Subject,
    /// The subject, a newline, then the body.
    Both,
}

/// `[smtp]`: the email-to-SMS listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Plain SMTP (submission with STARTTLS), e.g. `127.0.0.1:2525`.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// SMTP over TLS from the first byte (port 465 style); needs `tls_cert`/`tls_key`.
    #[serde(default)]
    pub tls_listen: Option<SocketAddr>,
    /// The only domain mail is taken for: `+4915112345678@<domain>`. Anything else is `550`
    /// (no relaying, ever).
    pub domain: String,
    /// The name in the greeting and `EHLO` answer. Default: `domain`.
    #[serde(default)]
    pub hostname: Option<String>,
    /// PEM certificate chain for STARTTLS and `tls_listen`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Accept `AUTH` on a connection that is not encrypted. Off by default: the password is
    /// an API key. Turn on only for a listener on loopback or a trusted network.
    #[serde(default)]
    pub allow_plain_auth: bool,
    /// `body` (default), `subject` or `both`.
    #[serde(default)]
    pub text: TextFrom,
    /// Largest mail accepted (advertised as `SIZE`). Default 1 MiB; attachments count.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Recipients one mail may have. Default 50.
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// Connections open at once; more are answered `421` and closed. Default 100.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Time the client has for each command, and for the whole `DATA`. Default `"60s"`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Senders that may send without `AUTH` (devices that cannot authenticate).
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
    /// Answers to email-originated SMS mailed back to their sender.
    #[serde(default)]
    pub replies: Option<RepliesConfig>,
}

fn default_max_message_bytes() -> usize {
    1 << 20
}
fn default_max_recipients() -> usize {
    50
}
fn default_max_connections() -> usize {
    100
}
fn default_timeout() -> Duration {
    Duration::from_secs(60)
}

/// `[[smtp.allow]]`: a device that sends without `AUTH`, known by its envelope sender and the
/// network it connects from (both must match: a sender address alone is trivially forged).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// `nvr@site.example`, or `*@site.example` for a whole domain; compared case-insensitively.
    pub sender: String,
    /// Source networks, e.g. `["10.20.0.0/16"]`, `["127.0.0.1/32"]`. At least one.
    pub networks: Vec<String>,
    /// The tenant its SMS belong to. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The owner its SMS are listed under (an API key id, or any name). Default
    /// `smtp:<sender>`.
    #[serde(default)]
    pub key: Option<String>,
}

fn default_tenant() -> String {
    "default".into()
}

/// `[smtp.replies]`: where answers and failure notices are mailed through.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepliesConfig {
    /// `smtp://host:port` (plain, STARTTLS when offered is not attempted), `smtp+starttls://…`
    /// or `smtps://…`; credentials as `smtp://user:pass@host`.
    pub relay: String,
    /// The `From:` of the mails. Default `sms@<domain>`.
    #[serde(default)]
    pub from: Option<String>,
    /// How long after an email-originated SMS an SMS from the same number counts as its
    /// answer. Default `"24h"`.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// Also mail the sender when an SMS it sent finally failed (`failed`, `undelivered`,
    /// `expired`). Default off.
    #[serde(default)]
    pub notify_failures: bool,
}

fn default_window() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// Why an `[smtp]` section cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("[smtp] {0}")]
pub struct ConfigError(pub String);

/// An allow-list entry ready to match.
#[derive(Clone, Debug)]
pub struct Allowed {
    /// Lower-case sender pattern.
    pub sender: String,
    /// Parsed networks.
    pub networks: Vec<Cidr>,
    /// Tenant.
    pub tenant: String,
    /// Owner of its messages.
    pub owner: String,
}

impl SmtpConfig {
    /// Checks what cannot be right at run time: a listener, a domain, TLS files in pairs, the
    /// allow-list's networks, the relay URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.is_none() && self.tls_listen.is_none() {
            return Err(ConfigError("needs listen or tls_listen".into()));
        }
        let d = self.domain.trim();
        if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
            return Err(ConfigError(format!(
                "domain '{}' is not a domain name (e.g. sms.example.com)",
                self.domain
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError("tls_cert and tls_key go together".into()));
        }
        if self.tls_listen.is_some() && self.tls_cert.is_none() {
            return Err(ConfigError("tls_listen needs tls_cert and tls_key".into()));
        }
        if self.max_recipients == 0 || self.max_message_bytes < 1024 {
            return Err(ConfigError(
                "max_recipients must be at least 1 and max_message_bytes at least 1024".into(),
            ));
        }
        self.allowed()?;
        if let Some(r) = &self.replies {
            crate::relay::Relay::parse(&r.relay, &self.reply_from())
                .map_err(|e| ConfigError(format!("replies.relay: {e}")))?;
        }
        Ok(())
    }

    /// The allow-list, parsed.
    pub fn allowed(&self) -> Result<Vec<Allowed>, ConfigError> {
        self.allow
            .iter()
            .map(|a| {
                let sender = a.sender.trim().to_ascii_lowercase();
                if !sender.contains('@') {
                    return Err(ConfigError(format!(
                        "allow sender '{}' is not an address (name@host or *@host)",
                        a.sender
                    )));
                }
                if a.networks.is_empty() {
                    return Err(ConfigError(format!(
                        "allow sender '{}' needs networks (e.g. [\"10.0.0.0/8\"]): a sender \
                         address alone is easily forged",
                        a.sender
                    )));
                }
                let networks = parse_networks(&a.networks)
                    .map_err(|e| ConfigError(format!("allow sender '{}': {e}", a.sender)))?;
                Ok(Allowed {
                    owner: a.key.clone().unwrap_or_else(|| format!("smtp:{sender}")),
                    sender,
                    networks,
                    tenant: a.tenant.clone(),
                })
            })
            .collect()
    }

    /// The greeting name.
    pub fn hostname(&self) -> &str {
        self.hostname.as_deref().unwrap_or(&self.domain)
    }

    /// The `From:` of replies.
    pub fn reply_from(&self) -> String {
        self.replies
            .as_ref()
            .and_then(|r| r.from.clone())
            .unwrap_or_else(|| format!("sms@{}", self.domain))
    }
}
