//! Mail back to the senders of email-originated SMS (`[smtp.replies]`): an SMS from a number
//! that was sent an email-originated SMS within `window` is mailed to that mail's sender,
//! threaded under it (`In-Reply-To`); optionally a final failure is reported too.
//!
//! The loop reads the durable event log after its own cursor (`kv` key `smtp.replies`), so a
//! relay outage delays mails but loses none: the cursor passes an event only once its mail
//! went out (or failed for good, or after [`MAX_TRIES`] tries, logged). A crash between the
//! relay's `250` and the cursor write sends that mail twice (at least once).

use std::sync::Arc;
use std::time::Duration;

use smsgate_core::clock::rfc3339;
use smsgate_core::message::{Message, Status};
use smsgate_core::northbound::NorthboundStore;
use smsgate_core::store::{MessageQuery, OutboxEvent, Store};
use tracing::{error, info, warn};

use crate::deliver::{ACCOUNT, MailRecord};
use crate::relay::{Outgoing, Relay, SendError};

/// The `kv` name of the loop's cursor.
pub const CURSOR: &str = "smtp.replies";
/// Tries of one mail before it is given up (logged as an error).
pub const MAX_TRIES: u32 = 5;
const PAGE: u32 = 200;
/// How often the event log is read once it is caught up.
const POLL: Duration = Duration::from_secs(1);

/// The reply loop's inputs.
#[derive(Clone)]
pub struct Replies {
    /// Messages and the event log.
    pub store: Arc<dyn Store>,
    /// Submission records and the cursor.
    pub northbound: Arc<dyn NorthboundStore>,
    /// The relay.
    pub relay: Relay,
    /// Answer window.
    pub window: Duration,
    /// Mail final failures too.
    pub notify_failures: bool,
    /// Mails sent, for the channel status.
    pub sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Replies {
    /// Runs until `until` resolves (shutdown, or this node stops leading the cluster).
    pub async fn run(self, until: impl std::future::Future<Output = ()>) {
        tokio::select! {
            () = self.work() => {}
            () = until => {}
        }
    }

    async fn work(&self) {
        let mut cursor = match self.northbound.cursor(CURSOR).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                // Answers to what happened before replies were configured are not wanted.
                let start = self.northbound.last_event_seq().await.unwrap_or(0);
                let _ = self.northbound.set_cursor(CURSOR, start).await;
                start
            }
            Err(e) => {
                error!(error = %e, "smtp replies: cannot read the cursor; not started");
                return;
            }
        };
        let mut tries = 0u32;
        loop {
            let page = match self.store.outbox_after(cursor, PAGE, None).await {
                Ok(p) => p,
                Err(e) => {
                    warn!(error = %e, "smtp replies: reading events failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut next = cursor;
            let mut blocked = false;
            for ev in &page.events {
                match self.mail_for(ev).await {
                    Ok(None) => {}
                    Ok(Some(mail)) => match self.relay.send(&mail).await {
                        Ok(()) => {
                            tries = 0;
                            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            info!(to = %mail.to, subject = %mail.subject, "smtp: mailed back");
                        }
                        Err(SendError::Permanent(e)) => {
                            tries = 0;
                            error!(to = %mail.to, error = %e, relay = %self.relay.display, "smtp: mail refused for good; given up");
                        }
                        Err(SendError::Temporary(e)) => {
                            tries += 1;
                            if tries >= MAX_TRIES {
                                tries = 0;
                                error!(to = %mail.to, error = %e, relay = %self.relay.display, "smtp: relay failed {MAX_TRIES} times; mail given up");
                            } else {
                                warn!(to = %mail.to, error = %e, relay = %self.relay.display, "smtp: relay failed; will retry");
                                blocked = true;
                                break;
                            }
                        }
                    },
                    Err(e) => {
                        warn!(error = %e, "smtp replies: store lookup failed; will retry");
                        blocked = true;
                        break;
                    }
                }
                next = ev.seq;
            }
            if !blocked {
                next = next.max(page.scanned_to);
            }
            if next > cursor {
                match self.northbound.set_cursor(CURSOR, next).await {
                    Ok(()) => cursor = next,
                    Err(e) => warn!(error = %e, "smtp replies: saving the cursor failed"),
                }
            }
            if blocked {
                tokio::time::sleep(Duration::from_secs(1 << tries.min(5))).await;
            } else if page.at_end {
                // Polled: `Signals::events` wakes one waiter, the webhook pipeline, and a mail
                // a second later is soon enough.
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// The mail an event calls for, if any.
    async fn mail_for(&self, ev: &OutboxEvent) -> Result<Option<Outgoing>, String> {
        match ev.event.as_str() {
            "message.inbound" => {
                let Some(data) = &ev.data else {
                    return Ok(None);
                };
                self.answer(data, ev.at).await
            }
            smsgate_core::compliance::ROUTED_EVENT => Ok(ev.data.as_ref().and_then(routed_mail)),
            "message.status" if self.notify_failures => {
                let Some((status, _, message)) = &ev.message else {
                    return Ok(None);
                };
                if !matches!(
                    status,
                    Status::Failed | Status::Undelivered | Status::Expired
                ) {
                    return Ok(None);
                }
                let Some(record) = self.record_of(message).await? else {
                    return Ok(None);
                };
                Ok(Some(failure_notice(&record, message, *status)))
            }
            _ => Ok(None),
        }
    }

    async fn record_of(&self, m: &Message) -> Result<Option<MailRecord>, String> {
        let subs = self
            .northbound
            .submissions_of(m.id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(subs
            .into_iter()
            .find(|s| s.submission.account == ACCOUNT)
            .and_then(|s| serde_json::from_str(&s.submission.data).ok()))
    }

    /// An inbound SMS answering an email-originated SMS: the newest SMS to that number within
    /// the window that came by mail (and belongs to the inbound SMS's tenant, when it has
    /// one).
    async fn answer(&self, data: &serde_json::Value, at: i64) -> Result<Option<Outgoing>, String> {
        let (Some(from), Some(text)) = (data["from"].as_str(), data["text"].as_str()) else {
            return Ok(None);
        };
        let tenant = data["tenant"].as_str();
        let number = if from.starts_with('+') {
            from.to_owned()
        } else {
            format!("+{from}")
        };
        let since = at - self.window.as_millis() as i64;
        let recent = self
            .store
            .list_messages(&MessageQuery {
                to: Some(number.clone()),
                since: Some(since),
                limit: 20,
                ..MessageQuery::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        for m in recent {
            if tenant.is_some() && m.tenant.as_deref() != tenant {
                continue;
            }
            if let Some(record) = self.record_of(&m).await? {
                return Ok(Some(Outgoing {
                    to: record.mail_from.clone(),
                    subject: re(record.subject.as_deref()),
                    body: format!(
                        "{text}\n\n-- \nSMS from {number} at {}, answering your mail to {}",
                        rfc3339(at),
                        record.rcpt
                    ),
                    in_reply_to: record.message_id,
                }));
            }
        }
        Ok(None)
    }
}

/// The mail of an inbound rule's `email` action (an `inbound.routed` event naming an address).
pub fn routed_mail(data: &serde_json::Value) -> Option<Outgoing> {
    let to = data[smsgate_core::compliance::ROUTED_EMAIL].as_str()?;
    let (from, text) = (data["from"].as_str()?, data["text"].as_str()?);
    Some(Outgoing {
        to: to.to_owned(),
        subject: format!("SMS from {from}"),
        body: format!(
            "{text}\n\n-- \nSMS from {from} to {} at {}",
            data["to"].as_str().unwrap_or("?"),
            data["received_at"].as_str().unwrap_or("?")
        ),
        in_reply_to: None,
    })
}

fn re(subject: Option<&str>) -> String {
    match subject {
        Some(s) if s.to_ascii_lowercase().starts_with("re:") => s.to_owned(),
        Some(s) => format!("Re: {s}"),
        None => "Re: your SMS".into(),
    }
}

/// The notice of a final failure.
pub fn failure_notice(record: &MailRecord, m: &Message, status: Status) -> Outgoing {
    let reason = match (&m.error_code, &m.error_message) {
        (Some(c), Some(t)) => format!("{t} ({c})"),
        (None, Some(t)) => t.clone(),
        (Some(c), None) => c.clone(),
        (None, None) => "no reason given by the network".into(),
    };
    Outgoing {
        to: record.mail_from.clone(),
        subject: format!(
            "SMS to {} {}: {}",
            m.to,
            status.as_str(),
            record.subject.as_deref().unwrap_or("(no subject)")
        ),
        body: format!(
            "Your mail to {} was queued as SMS {} but was not delivered.\n\nStatus: {}\nReason: \
             {reason}\nAttempts: {}\n",
            record.rcpt,
            m.id,
            status.as_str(),
            m.attempts
        ),
        in_reply_to: record.message_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_get_one_re() {
        assert_eq!(re(Some("Pump 3")), "Re: Pump 3");
        assert_eq!(re(Some("RE: Pump 3")), "RE: Pump 3");
        assert_eq!(re(None), "Re: your SMS");
    }

    #[test]
    fn a_rules_email_action_is_a_mail_and_a_webhook_only_rule_is_not() {
        let data = serde_json::json!({"from": "+4915112345678", "to": "+4930555000",
            "text": "LEAK in basement", "received_at": "2026-12-08T10:00:00Z",
            "email_to": "ops@example.com"});
        let m = routed_mail(&data).unwrap();
        assert_eq!(m.to, "ops@example.com");
        assert_eq!(m.subject, "SMS from +4915112345678");
        assert!(m.body.starts_with("LEAK in basement\n"), "{}", m.body);
        let mut hook_only = data.clone();
        hook_only.as_object_mut().unwrap().remove("email_to");
        assert_eq!(routed_mail(&hook_only), None);
    }
}
