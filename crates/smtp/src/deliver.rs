//! What the listener asks of the gateway: whose key a password is, whether a number may be
//! sent to, and turning a received mail into durably queued SMS through the one intake door.
//!
//! # Durability and repeats
//! Every recipient's SMS is committed together with a submission record (account `smtp`:
//! envelope sender, `Message-ID`, subject, for replies and failure notices) **before** the
//! `250`. A client that lost our `250` and sends the same mail again (same `Message-ID`, same
//! owner, same recipient) gets the first SMS's id back instead of a second SMS: the record's id
//! is derived from those three.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use smsgate_core::intake::{Intake, IntakeError, SendRequest};
use smsgate_core::message::MessageId;
use smsgate_core::northbound::{NorthboundStore, Submission};

use crate::config::TextFrom;
use crate::session::{Envelope, Identity};
use crate::text;

/// The account name of every SMTP submission record.
pub const ACCOUNT: &str = "smtp";

/// What is stored beside each email-originated SMS.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailRecord {
    /// Envelope sender: where answers and failure notices go.
    pub mail_from: String,
    /// The mail's `Message-ID`, for `In-Reply-To`.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Its subject, for `Re:`.
    #[serde(default)]
    pub subject: Option<String>,
    /// The recipient address as written.
    pub rcpt: String,
}

/// The gateway as the listener sees it.
pub struct Gateway {
    /// The one door into the queue.
    pub intake: Arc<Intake>,
    /// Submission records.
    pub northbound: Arc<dyn NorthboundStore>,
    /// `[smtp] text`.
    pub text_from: TextFrom,
}

impl Gateway {
    /// The identity of an API key given as the `AUTH` password, when it exists, is not
    /// revoked and may send.
    pub async fn identity(&self, secret: &str) -> Result<Option<Identity>, String> {
        let hash = smsgate_core::keys::hash_secret(secret.trim());
        let key = self
            .intake
            .store()
            .api_key_by_hash(&hash)
            .await
            .map_err(|e| e.to_string())?;
        Ok(key
            .filter(|k| k.revoked_at.is_none() && k.has_scope("messages:send"))
            .map(|k| Identity {
                tenant: k.tenant,
                owner: k.id,
                via: "auth",
            }))
    }

    /// Whether `number` may be sent to under `who`: a valid number, not opted out, consent
    /// given where the tenant needs it. `Err` is the whole reply line.
    pub fn check_recipient(&self, who: &Identity, number: &str) -> Result<(), String> {
        let probe = SendRequest {
            to: number.to_owned(),
            text: "probe".into(),
            tenant: Some(who.tenant.clone()),
            api_key_id: Some(who.owner.clone()),
            ..SendRequest::default()
        };
        let now = self.intake.clock().now_ms();
        match self.intake.prepare(probe, now) {
            Ok(_) => Ok(()),
            Err(r) if r.code == "invalid_number" => Err(format!(
                "553 5.1.3 '{number}' is not a phone number in international format \
                 (+4915112345678@…): {}",
                r.message
            )),
            Err(r) => Err(format!("550 5.7.1 {} ({})", r.message, r.code)),
        }
    }

    /// Queues one SMS per recipient of a received mail and answers with the reply line (with
    /// CRLF). All or nothing: a mail whose text cannot be sent (empty, too long) is refused for
    /// every recipient and nothing is queued.
    pub async fn deliver(&self, env: &Envelope, raw: &[u8], peer: IpAddr) -> String {
        let mail = match text::extract(raw, self.text_from) {
            Ok(m) => m,
            Err(e) => return format!("554 5.6.0 {e}\r\n"),
        };
        if mail.text.is_empty() {
            return format!(
                "554 5.6.0 the mail has no text for the SMS (looked at the {}); write it in \
                 the {0}\r\n",
                match self.text_from {
                    TextFrom::Body => "body",
                    TextFrom::Subject => "subject",
                    TextFrom::Both => "subject and body",
                }
            );
        }
        let now = self.intake.clock().now_ms();
        let mut prepared = Vec::with_capacity(env.recipients.len());
        for rcpt in &env.recipients {
            let req = SendRequest {
                to: rcpt.number.clone(),
                text: mail.text.clone(),
                tenant: Some(env.identity.tenant.clone()),
                api_key_id: Some(env.identity.owner.clone()),
                ..SendRequest::default()
            };
            let message = match self.intake.prepare(req, now) {
                Ok(m) => m,
                Err(r) if r.code == "text_too_long" => {
                    return format!("552 5.3.4 too long for SMS: {}\r\n", r.message);
                }
                Err(r) => {
                    return format!("554 5.6.0 {}: {} ({})\r\n", rcpt.address, r.message, r.code);
                }
            };
            let record = MailRecord {
                mail_from: env.mail_from.clone(),
                message_id: mail.message_id.clone(),
                subject: mail.subject.clone(),
                rcpt: rcpt.address.clone(),
            };
            let id = submission_id(
                &env.identity.owner,
                mail.message_id.as_deref(),
                mail.date.as_deref(),
                &rcpt.number,
                message.id,
            );
            prepared.push((message, id, record));
        }
        let mut ids = Vec::with_capacity(prepared.len());
        for (message, id, record) in prepared {
            match self.northbound.submission(&id).await {
                Ok(Some(earlier)) => {
                    if let Some(m) = earlier.message_id {
                        tracing::info!(message = %m, "smtp: the same mail again; answered with its first SMS");
                        ids.push(m);
                        continue;
                    }
                }
                Ok(None) => {}
                Err(e) => return temporary(&e.to_string()),
            }
            let submission = Submission {
                id,
                account: ACCOUNT.into(),
                part: None,
                data: serde_json::to_string(&record).unwrap_or_default(),
                created_at: now,
            };
            let commit =
                self.intake
                    .insert_with(1, now, self.northbound.submit_whole(message, submission));
            match commit.await {
                Ok(a) => ids.push(a.id),
                Err(IntakeError::QueueFull(e)) => {
                    return format!("452 4.3.1 {e}; try again later\r\n");
                }
                Err(IntakeError::Store(e)) => return temporary(&e.to_string()),
                Err(IntakeError::Rejected(r)) => {
                    return format!("554 5.6.0 {} ({})\r\n", r.message, r.code);
                }
            }
        }
        tracing::info!(
            peer = %peer,
            sender = %env.mail_from,
            owner = %env.identity.owner,
            tenant = %env.identity.tenant,
            via = env.identity.via,
            sms = ids.len(),
            "smtp: mail queued as SMS"
        );
        let first = ids.first().map(MessageId::to_string).unwrap_or_default();
        match ids.len() {
            1 => format!("250 2.0.0 OK queued as {first}\r\n"),
            n => format!(
                "250 2.0.0 OK queued as {first} and {} more ({})\r\n",
                n - 1,
                ids.iter()
                    .map(MessageId::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

fn temporary(e: &str) -> String {
    tracing::error!(error = e, "smtp: the store could not take the mail");
    "451 4.3.0 the queue could not store the message; try again later\r\n".into()
}

/// The record id of one recipient's SMS: the same for a repeat of the same mail (same owner,
/// `Message-ID`, `Date` and number), fresh for a mail without a `Message-ID`.
fn submission_id(
    owner: &str,
    message_id: Option<&str>,
    date: Option<&str>,
    number: &str,
    fresh: MessageId,
) -> String {
    match message_id {
        Some(mid) => {
            let number: String = number.chars().filter(char::is_ascii_digit).collect();
            let mut h = Sha256::new();
            for part in [owner, mid, date.unwrap_or(""), number.as_str()] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            format!("smtp-{}", &hex::encode(h.finalize())[..32])
        }
        None => format!("smtp-{fresh}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_mail_has_the_same_record_id_and_a_new_one_does_not() {
        let (a, b) = (MessageId::new(), MessageId::new());
        let id = |mid, n, m| submission_id("key_1", mid, Some("2026-12-08T10:00:00Z"), n, m);
        assert_eq!(
            id(Some("x@y"), "+4915112345678", a),
            id(Some("x@y"), "4915112345678", b)
        );
        assert_ne!(
            id(Some("x@y"), "+4915112345678", a),
            id(Some("x@y"), "+4915112345679", a)
        );
        assert_ne!(
            id(Some("x@y"), "+4915112345678", a),
            submission_id("key_2", Some("x@y"), None, "+4915112345678", a)
        );
        assert_ne!(
            id(Some("x@y"), "+4915112345678", a),
            submission_id(
                "key_1",
                Some("x@y"),
                Some("2026-12-09T10:00:00Z"),
                "+4915112345678",
                a
            )
        );
        assert_ne!(id(None, "+4915112345678", a), id(None, "+4915112345678", b));
    }
}
