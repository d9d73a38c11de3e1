//! One SMTP conversation as a plain state machine (RFC 5321, RFC 3207 STARTTLS, RFC 4954
//! AUTH): the driver feeds it command lines and does what the returned [`Step`] asks (write a
//! reply, upgrade to TLS, check a key, check a recipient, read the mail). No socket, no store:
//! every rule about who may send what to whom is testable here.
//!
//! The rules that keep the listener from being an open relay live here: a recipient outside
//! `domain` is `550` whoever asks; a sender is either authenticated (`AUTH`, only once the
//! connection is encrypted unless `allow_plain_auth`) or matches an allow-list entry by sender
//! address **and** source network, decided at `MAIL FROM`.

use std::net::IpAddr;

use base64::Engine as _;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, Request};

use crate::config::Allowed;

/// Who the mail's SMS will belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Tenant of the SMS.
    pub tenant: String,
    /// The owner they are listed under (the API key id for `AUTH`).
    pub owner: String,
    /// How it was established, for the log: `auth` or `allow`.
    pub via: &'static str,
}

/// One accepted recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// As written in `RCPT TO`.
    pub address: String,
    /// The phone number part, as written (`+4915112345678` or `4915112345678`).
    pub number: String,
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Write this reply and read the next line.
    Reply(String),
    /// Write this reply and close the connection.
    Close(String),
    /// Write `220 2.0.0 Ready to start TLS`, discard anything already read, run the TLS
    /// handshake, then call [`Session::tls_started`].
    StartTls,
    /// Check `secret` (an API key), then call [`Session::auth_result`] and write its reply.
    Authenticate {
        /// The password given.
        secret: String,
    },
    /// Check that `number` may be sent to under the identity (opt-outs, number format), then
    /// call [`Session::rcpt_result`] and write its reply.
    CheckRecipient(Recipient),
    /// Write `354`, read the mail up to the lone dot, then take [`Session::envelope`].
    ReadData,
}

/// A mail ready to become SMS.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// Who sends.
    pub identity: Identity,
    /// The envelope sender (`MAIL FROM`), where replies go.
    pub mail_from: String,
    /// Accepted recipients, in order.
    pub recipients: Vec<Recipient>,
}

enum AuthWait {
    /// `AUTH PLAIN` without an initial response: the next line is it.
    Plain,
    /// `AUTH LOGIN`: the next line is the user name.
    LoginUser,
    /// `AUTH LOGIN`: the next line is the password.
    LoginPassword,
}

/// Limits and facts the session is started with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The greeting name.
    pub hostname: String,
    /// The served domain, lower case.
    pub domain: String,
    /// Whether STARTTLS can be offered (a certificate is configured).
    pub tls_available: bool,
    /// AUTH on an unencrypted connection.
    pub allow_plain_auth: bool,
    /// `SIZE`.
    pub max_message_bytes: usize,
    /// Recipients per mail.
    pub max_recipients: usize,
    /// The allow-list.
    pub allowed: Vec<Allowed>,
}

/// Failed `AUTH` attempts before the connection is closed.
const MAX_AUTH_FAILURES: u32 = 3;
/// Unknown or invalid commands before the connection is closed.
const MAX_ERRORS: u32 = 10;

/// One connection's state.
pub struct Session {
    settings: std::sync::Arc<Settings>,
    peer: IpAddr,
    tls: bool,
    greeted: bool,
    auth: Option<Identity>,
    auth_wait: Option<AuthWait>,
    auth_failures: u32,
    errors: u32,
    mail_from: Option<(String, Identity)>,
    recipients: Vec<Recipient>,
}

impl Session {
    /// A new connection from `peer`; `tls` when it came through the TLS listener.
    pub fn new(settings: std::sync::Arc<Settings>, peer: IpAddr, tls: bool) -> Self {
        Self {
            settings,
            peer,
            tls,
            greeted: false,
            auth: None,
            auth_wait: None,
            auth_failures: 0,
            errors: 0,
            mail_from: None,
            recipients: Vec::new(),
        }
    }

    /// The `220` greeting.
    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP smsgate\r\n", self.settings.hostname)
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The identity of the current transaction (after `MAIL FROM`).
    pub fn sender(&self) -> Option<&Identity> {
        self.mail_from.as_ref().map(|(_, i)| i)
    }

    fn auth_offered(&self) -> bool {
        self.tls || self.settings.allow_plain_auth
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
    }

    fn error(&mut self, reply: &str) -> Step {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            return Step::Close("421 4.7.0 too many errors; closing\r\n".into());
        }
        Step::Reply(format!("{reply}\r\n"))
    }

    /// Handles one line as read (with or without its CRLF).
    pub fn line(&mut self, line: &[u8]) -> Step {
        if let Some(wait) = self.auth_wait.take() {
            return self.auth_line(wait, line);
        }
        let mut owned;
        let line = if line.ends_with(b"\n") {
            line
        } else {
            owned = line.to_vec();
            owned.extend_from_slice(b"\r\n");
            &owned[..]
        };
        match Request::parse(&mut line.iter()) {
            Ok(r) => self.request(r),
            Err(smtp_proto::Error::UnknownCommand) => {
                self.error("500 5.5.2 command not recognized")
            }
            Err(smtp_proto::Error::InvalidSenderAddress) => {
                self.error("501 5.1.7 bad sender address syntax")
            }
            Err(smtp_proto::Error::InvalidRecipientAddress) => {
                self.error("501 5.1.3 bad recipient address syntax")
            }
            Err(smtp_proto::Error::UnsupportedParameter { param }) => {
                self.error(&format!("555 5.5.4 unsupported parameter {param}"))
            }
            Err(e) => self.error(&format!("501 5.5.4 syntax error ({e:?})")),
        }
    }

    fn request(&mut self, r: Request<std::borrow::Cow<'_, str>>) -> Step {
        match r {
            Request::Ehlo { host } => {
                self.greeted = true;
                self.reset();
                let mut lines = vec![
                    format!("{} greets {host}", self.settings.hostname),
                    "8BITMIME".into(),
                    "ENHANCEDSTATUSCODES".into(),
                    format!("SIZE {}", self.settings.max_message_bytes),
                ];
                if self.settings.tls_available && !self.tls {
                    lines.push("STARTTLS".into());
                }
                if self.auth_offered() && self.auth.is_none() {
                    lines.push("AUTH PLAIN LOGIN".into());
                }
                let n = lines.len();
                let mut out = String::new();
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i + 1 == n { ' ' } else { '-' };
                    out.push_str(&format!("250{sep}{l}\r\n"));
                }
                Step::Reply(out)
            }
            Request::Helo { host } => {
                self.greeted = true;
                self.reset();
                Step::Reply(format!("250 {} greets {host}\r\n", self.settings.hostname))
            }
            Request::Lhlo { .. } => self.error("500 5.5.1 this is SMTP, not LMTP"),
            Request::StartTls => {
                if self.tls {
                    self.error("503 5.5.1 TLS already active")
                } else if !self.settings.tls_available {
                    self.error("454 4.7.0 TLS not available")
                } else {
                    Step::StartTls
                }
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response),
            Request::Mail { from } => self.mail(&from.address, from.size),
            Request::Rcpt { to } => self.rcpt(&to.address),
            Request::Data => {
                if self.mail_from.is_none() {
                    self.error("503 5.5.1 MAIL FROM first")
                } else if self.recipients.is_empty() {
                    self.error("554 5.5.1 no valid recipients")
                } else {
                    Step::ReadData
                }
            }
            Request::Bdat { .. } => self.error("502 5.5.1 CHUNKING is not offered; use DATA"),
            Request::Rset => {
                self.reset();
                Step::Reply("250 2.0.0 reset\r\n".into())
            }
            Request::Noop { .. } => Step::Reply("250 2.0.0 OK\r\n".into()),
            Request::Vrfy { .. } => Step::Reply("252 2.5.0 cannot verify; send and see\r\n".into()),
            Request::Expn { .. } => self.error("502 5.5.1 EXPN is not offered"),
            Request::Help { .. } => Step::Reply(format!(
                "214 2.0.0 mail +<number>@{} becomes an SMS\r\n",
                self.settings.domain
            )),
            Request::Quit => Step::Close("221 2.0.0 bye\r\n".into()),
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                self.error("502 5.5.1 command not implemented")
            }
        }
    }

    fn auth(&mut self, mechanism: u64, initial: &str) -> Step {
        if !self.greeted {
            return self.error("503 5.5.1 EHLO first");
        }
        if self.auth.is_some() {
            return self.error("503 5.5.1 already authenticated");
        }
        if self.mail_from.is_some() {
            return self.error("503 5.5.1 AUTH is not allowed during a mail transaction");
        }
        if !self.auth_offered() {
            return self.error("538 5.7.11 encryption required for authentication: STARTTLS first");
        }
        match mechanism {
            AUTH_PLAIN if initial.is_empty() => {
                self.auth_wait = Some(AuthWait::Plain);
                Step::Reply("334 \r\n".into())
            }
            AUTH_PLAIN => self.plain(initial.as_bytes()),
            AUTH_LOGIN if initial.is_empty() => {
                self.auth_wait = Some(AuthWait::LoginUser);
                Step::Reply("334 VXNlcm5hbWU6\r\n".into())
            }
            AUTH_LOGIN => {
                // RFC 4954 allows the user name as the initial response.
                self.auth_wait = Some(AuthWait::LoginPassword);
                Step::Reply("334 UGFzc3dvcmQ6\r\n".into())
            }
            _ => self.error("504 5.5.4 unrecognized authentication type; use PLAIN or LOGIN"),
        }
    }

    fn auth_line(&mut self, wait: AuthWait, line: &[u8]) -> Step {
        let line = trim_crlf(line);
        if line == b"*" {
            return self.error("501 5.0.0 authentication cancelled");
        }
        match wait {
            AuthWait::Plain => self.plain(line),
            AuthWait::LoginUser => {
                if decode_b64(line).is_none() {
                    return self.error("501 5.5.2 cannot decode the user name (base64)");
                }
                self.auth_wait = Some(AuthWait::LoginPassword);
                Step::Reply("334 UGFzc3dvcmQ6\r\n".into())
            }
            AuthWait::LoginPassword => match decode_b64(line) {
                Some(p) => Step::Authenticate {
                    secret: String::from_utf8_lossy(&p).into_owned(),
                },
                None => self.error("501 5.5.2 cannot decode the password (base64)"),
            },
        }
    }

    fn plain(&mut self, b64: &[u8]) -> Step {
        let Some(raw) = decode_b64(b64) else {
            return self.error("501 5.5.2 cannot decode the PLAIN response (base64)");
        };
        // authzid NUL authcid NUL passwd
        let mut parts = raw.split(|b| *b == 0);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(_), Some(pass), None) => Step::Authenticate {
                secret: String::from_utf8_lossy(pass).into_owned(),
            },
            _ => self.error("501 5.5.2 a PLAIN response is authzid NUL user NUL password"),
        }
    }

    /// The driver's verdict on the secret of [`Step::Authenticate`]: the key's identity, or
    /// `None` when it is unknown, revoked or may not send.
    pub fn auth_result(&mut self, identity: Option<Identity>) -> Step {
        match identity {
            Some(i) => {
                self.auth = Some(i);
                Step::Reply("235 2.7.0 authentication successful\r\n".into())
            }
            None => {
                self.auth_failures += 1;
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    Step::Close("421 4.7.0 too many failed authentications; closing\r\n".into())
                } else {
                    Step::Reply(
                        "535 5.7.8 authentication credentials invalid (the password is an API \
                         key with the messages:send scope)\r\n"
                            .into(),
                    )
                }
            }
        }
    }

    fn mail(&mut self, address: &str, size: usize) -> Step {
        if !self.greeted {
            return self.error("503 5.5.1 EHLO first");
        }
        if self.mail_from.is_some() {
            return self.error("503 5.5.1 sender already given; RSET first");
        }
        if size > self.settings.max_message_bytes {
            return Step::Reply(format!(
                "552 5.3.4 message size {size} exceeds the limit of {} bytes\r\n",
                self.settings.max_message_bytes
            ));
        }
        let identity = match &self.auth {
            Some(i) => i.clone(),
            None => match allowed(&self.settings.allowed, address, self.peer) {
                Some(a) => Identity {
                    tenant: a.tenant.clone(),
                    owner: a.owner.clone(),
                    via: "allow",
                },
                None => {
                    tracing::info!(peer = %self.peer, sender = address, "smtp: unauthenticated sender refused");
                    return Step::Reply(format!(
                        "530 5.7.0 authentication required: AUTH {}with an API key, or be on \
                         the allow-list ([[smtp.allow]])\r\n",
                        if self.auth_offered() {
                            ""
                        } else {
                            "(after STARTTLS) "
                        }
                    ));
                }
            },
        };
        self.mail_from = Some((address.to_owned(), identity));
        Step::Reply("250 2.1.0 sender OK\r\n".into())
    }

    fn rcpt(&mut self, address: &str) -> Step {
        if self.mail_from.is_none() {
            return self.error("503 5.5.1 MAIL FROM first");
        }
        if self.recipients.len() >= self.settings.max_recipients {
            return Step::Reply(format!(
                "452 4.5.3 too many recipients (at most {} per mail)\r\n",
                self.settings.max_recipients
            ));
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Step::Reply(format!(
                "550 5.1.3 '{address}' has no domain; write +<number>@{}\r\n",
                self.settings.domain
            ));
        };
        if !domain.eq_ignore_ascii_case(&self.settings.domain) {
            tracing::info!(peer = %self.peer, recipient = address, "smtp: relaying refused");
            return Step::Reply(format!(
                "550 5.7.1 relaying denied: only mail to <number>@{} is taken here\r\n",
                self.settings.domain
            ));
        }
        Step::CheckRecipient(Recipient {
            address: address.to_owned(),
            number: smsgate_core::number::assume_international(local),
        })
    }

    /// The driver's verdict on [`Step::CheckRecipient`]: `Ok` keeps it, `Err` is the refusal
    /// (a whole reply line without CRLF, e.g. `553 5.1.3 …`).
    pub fn rcpt_result(&mut self, recipient: Recipient, verdict: Result<(), String>) -> Step {
        match verdict {
            Ok(()) => {
                self.recipients.push(recipient);
                Step::Reply("250 2.1.5 recipient OK\r\n".into())
            }
            Err(reply) => Step::Reply(format!("{reply}\r\n")),
        }
    }

    /// The transaction the data belongs to; the session is ready for the next mail after it.
    pub fn envelope(&mut self) -> Option<Envelope> {
        let (mail_from, identity) = self.mail_from.take()?;
        let recipients = std::mem::take(&mut self.recipients);
        Some(Envelope {
            identity,
            mail_from,
            recipients,
        })
    }

    /// After a successful STARTTLS: RFC 3207 says to forget everything learnt before it.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.greeted = false;
        self.auth = None;
        self.reset();
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn decode_b64(b: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(trim_crlf(b).trim_ascii())
        .ok()
}

/// The allow-list entry `sender` connecting from `peer` matches, if any.
pub fn allowed<'a>(list: &'a [Allowed], sender: &str, peer: IpAddr) -> Option<&'a Allowed> {
    let sender = sender.to_ascii_lowercase();
    list.iter().find(|a| {
        let by_sender = match a.sender.strip_prefix("*@") {
            Some(domain) => sender.rsplit_once('@').is_some_and(|(_, d)| d == domain),
            None => a.sender == sender,
        };
        by_sender && a.networks.iter().any(|n| n.contains(peer))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::outbound::parse_networks;
    use std::sync::Arc;

    fn settings(tls: bool) -> Arc<Settings> {
        Arc::new(Settings {
            hostname: "mx.test".into(),
            domain: "sms.example.com".into(),
            tls_available: tls,
            allow_plain_auth: false,
            max_message_bytes: 10_000,
            max_recipients: 2,
            allowed: vec![Allowed {
                sender: "nvr@site.example".into(),
                networks: parse_networks(&["10.1.0.0/16"]).unwrap(),
                tenant: "acme".into(),
                owner: "smtp:nvr@site.example".into(),
            }],
        })
    }

    fn reply(s: Step) -> String {
        match s {
            Step::Reply(r) | Step::Close(r) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_stranger_cannot_relay_or_send_without_auth() {
        let mut s = Session::new(settings(true), ip("192.0.2.1"), false);
        assert!(reply(s.line(b"EHLO client\r\n")).contains("250 STARTTLS"));
        // Not encrypted yet: AUTH is neither offered nor accepted.
        let ehlo = reply(s.line(b"EHLO client\r\n"));
        assert!(!ehlo.contains("AUTH"), "{ehlo}");
        assert!(reply(s.line(b"AUTH PLAIN AGtleQBzZWNyZXQ=\r\n")).starts_with("538 5.7.11"));
        assert!(reply(s.line(b"MAIL FROM:<a@b.example>\r\n")).starts_with("530 5.7.0"));
        assert!(reply(s.line(b"RCPT TO:<+4915112345678@sms.example.com>\r\n")).starts_with("503"));
    }

    #[test]
    fn the_allow_list_needs_sender_and_network() {
        let mut s = Session::new(settings(false), ip("10.1.2.3"), false);
        reply(s.line(b"HELO nvr\r\n"));
        assert!(reply(s.line(b"MAIL FROM:<other@site.example>\r\n")).starts_with("530"));
        assert!(reply(s.line(b"MAIL FROM:<NVR@site.example>\r\n")).starts_with("250"));
        assert_eq!(s.sender().unwrap().tenant, "acme");
        // The same sender from elsewhere is a forgery.
        let mut s = Session::new(settings(false), ip("10.2.0.1"), false);
        reply(s.line(b"HELO nvr\r\n"));
        assert!(reply(s.line(b"MAIL FROM:<nvr@site.example>\r\n")).starts_with("530"));
    }

    #[test]
    fn recipients_outside_the_domain_are_refused_one_by_one() {
        let mut s = Session::new(settings(false), ip("10.1.2.3"), false);
        reply(s.line(b"EHLO nvr\r\n"));
        reply(s.line(b"MAIL FROM:<nvr@site.example>\r\n"));
        assert!(reply(s.line(b"RCPT TO:<boss@gmail.com>\r\n")).starts_with("550 5.7.1"));
        assert!(reply(s.line(b"RCPT TO:<+49151@SMS.example.com.evil>\r\n")).starts_with("550"));
        let Step::CheckRecipient(r) = s.line(b"RCPT TO:<+4915112345678@SMS.Example.com>\r\n")
        else {
            panic!("expected a recipient check")
        };
        assert_eq!(r.number, "+4915112345678");
        assert!(reply(s.rcpt_result(r, Ok(()))).starts_with("250"));
        let Step::CheckRecipient(r) = s.line(b"RCPT TO:<004915112345679@sms.example.com>\r\n")
        else {
            panic!()
        };
        assert_eq!(r.number, "+4915112345679");
        reply(s.rcpt_result(r, Ok(())));
        assert!(reply(s.line(b"RCPT TO:<4915112345670@sms.example.com>\r\n")).starts_with("452"));
        assert_eq!(s.line(b"DATA\r\n"), Step::ReadData);
        let env = s.envelope().unwrap();
        assert_eq!(env.recipients.len(), 2);
        assert_eq!(env.mail_from, "nvr@site.example");
        // The transaction is over: the next DATA needs a new MAIL.
        assert!(reply(s.line(b"DATA\r\n")).starts_with("503"));
    }

    #[test]
    fn auth_plain_and_login_hand_over_the_password() {
        let mut s = Session::new(settings(true), ip("192.0.2.1"), true);
        reply(s.line(b"EHLO c\r\n"));
        // "\0user\0sk_secret"
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"\0user\0sk_secret");
        let line = format!("AUTH PLAIN {b64}\r\n");
        assert_eq!(
            s.line(line.as_bytes()),
            Step::Authenticate {
                secret: "sk_secret".into()
            }
        );
        assert!(reply(s.auth_result(None)).starts_with("535 5.7.8"));
        assert!(reply(s.line(b"AUTH LOGIN\r\n")).starts_with("334 VXNlcm5hbWU6"));
        assert!(reply(s.line(b"dXNlcg==\r\n")).starts_with("334 UGFzc3dvcmQ6"));
        assert_eq!(
            s.line(b"c2tfc2VjcmV0\r\n"),
            Step::Authenticate {
                secret: "sk_secret".into()
            }
        );
        let id = Identity {
            tenant: "t".into(),
            owner: "key_1".into(),
            via: "auth",
        };
        assert!(reply(s.auth_result(Some(id.clone()))).starts_with("235"));
        assert!(reply(s.line(b"MAIL FROM:<x@y.example> SIZE=100\r\n")).starts_with("250"));
        assert_eq!(s.sender(), Some(&id));
    }

    #[test]
    fn repeated_failures_close_the_connection() {
        let mut s = Session::new(settings(true), ip("192.0.2.1"), true);
        reply(s.line(b"EHLO c\r\n"));
        for _ in 0..2 {
            let _ = s.line(b"AUTH PLAIN AHUAcA==\r\n");
            assert!(matches!(s.auth_result(None), Step::Reply(_)));
        }
        let _ = s.line(b"AUTH PLAIN AHUAcA==\r\n");
        assert!(matches!(s.auth_result(None), Step::Close(_)));
        let mut s = Session::new(settings(false), ip("192.0.2.1"), false);
        let mut closed = false;
        for _ in 0..MAX_ERRORS {
            closed = matches!(s.line(b"GARBAGE\x01\r\n"), Step::Close(_));
        }
        assert!(closed);
    }

    #[test]
    fn starttls_forgets_the_session_and_size_is_enforced() {
        let mut s = Session::new(settings(true), ip("192.0.2.1"), false);
        reply(s.line(b"EHLO c\r\n"));
        assert_eq!(s.line(b"STARTTLS\r\n"), Step::StartTls);
        s.tls_started();
        assert!(reply(s.line(b"MAIL FROM:<x@y>\r\n")).starts_with("503 5.5.1 EHLO"));
        let ehlo = reply(s.line(b"EHLO c\r\n"));
        assert!(
            ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"),
            "{ehlo}"
        );
        assert!(reply(s.line(b"STARTTLS\r\n")).starts_with("503"));
        let mut s = Session::new(settings(false), ip("10.1.0.9"), false);
        reply(s.line(b"EHLO c\r\n"));
        assert!(reply(s.line(b"MAIL FROM:<nvr@site.example> SIZE=20000\r\n")).starts_with("552"));
    }
}
