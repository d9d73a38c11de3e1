//! Mails the gateway writes (answers by SMS, failure notices), sent through the operator's
//! relay with `lettre`: the listener never delivers mail to the internet itself.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// One mail to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The recipient (the envelope sender of the original mail).
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain text body.
    pub body: String,
    /// `Message-ID` of the mail this answers (without brackets): sets `In-Reply-To` and
    /// `References`, so mail clients thread the answer under the original.
    pub in_reply_to: Option<String>,
}

/// The configured relay.
#[derive(Clone)]
pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The relay URL without credentials, for logs.
    pub display: String,
}

impl Relay {
    /// Reads `smtp://[user:pass@]host[:port]` (plain), `…?tls=required` (STARTTLS) or
    /// `smtps://…` (TLS), and the `From:` address.
    pub fn parse(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("'{}': {e}", redact(url)))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("from address '{from}': {e}"))?;
        Ok(Self {
            transport,
            from,
            display: redact(url),
        })
    }

    /// Sends one mail; `Err` is worth a retry later (relay down or refusing for now) unless
    /// the address itself is bad.
    pub async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient '{}': {e}", mail.to)))?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        if let Some(id) = &mail.in_reply_to {
            b = b
                .in_reply_to(format!("<{id}>"))
                .references(format!("<{id}>"));
        }
        let msg = b
            .body(mail.body.clone())
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match self.transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Temporary(e.to_string())),
        }
    }
}

/// Why a mail did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Trying again will not help (bad address, the relay refused it for good).
    #[error("{0}")]
    Permanent(String),
    /// The relay is down or busy: try again later.
    #[error("{0}")]
    Temporary(String),
}

use smsgate_core::outbound::redact_url as redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_log_line() {
        assert_eq!(
            redact("smtp://u:secret@relay:25"),
            "smtp://***@relay:25".to_owned()
        );
        let err = Relay::parse("bogus://u:secret@x", "a@b.example")
            .err()
            .unwrap();
        assert!(!err.contains("secret"), "{err}");
        assert!(Relay::parse("smtp://127.0.0.1:2526", "sms@sms.example.com").is_ok());
        assert!(Relay::parse("smtp://127.0.0.1:2526", "not an address").is_err());
    }
}
