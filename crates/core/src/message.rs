//! Messages, their lifecycle and the events that record it.
//!
//! Statuses follow SPEC.md: `queued → sending → sent → delivered | undelivered | failed`, plus
//! `expired` and `canceled`. [`Status::can_become`] is the single rule that keeps a status from
//! going backwards; the store refuses any other change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::number::{Msisdn, SenderId};

/// A message id: a UUIDv7, so ids sort by creation time and serve as pagination cursors.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub Uuid);

impl MessageId {
    /// A fresh time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

impl FromStr for MessageId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a message stands. Ordered by progress: a status only ever moves to a later rank.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted and durably stored, waiting for the dispatcher.
    Queued,
    /// Handed to a connector at least once; retries keep this status.
    Sending,
    /// Accepted by the SMSC or modem; a delivery report may follow.
    Sent,
    /// The handset received every part.
    Delivered,
    /// The network gave up on at least one part.
    Undelivered,
    /// Refused for good by the gateway or a connector (permanent error, retries exhausted).
    Failed,
    /// Validity passed before it could be sent or delivered.
    Expired,
    /// Canceled by the client while still queued.
    Canceled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 8] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Undelivered,
        Self::Failed,
        Self::Expired,
        Self::Canceled,
    ];

    /// The lower-case name used in JSON, the store and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Canceled => "canceled",
        }
    }

    /// A final status never changes again.
    pub fn is_final(self) -> bool {
        self.rank() >= 3
    }

    fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sending => 1,
            Self::Sent => 2,
            _ => 3,
        }
    }

    /// Whether a message in `self` may move to `next`: only forward, never out of a final status.
    /// `expired` may follow `sent` (validity ran out before a receipt), `canceled` only `queued`.
    pub fn can_become(self, next: Status) -> bool {
        if self.is_final() || next == self {
            return false;
        }
        match next {
            Self::Canceled => self == Self::Queued,
            _ => next.rank() > self.rank(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name the gateway does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown status '{0}': use one of queued, sending, sent, delivered, undelivered, failed, expired, canceled"
)]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// How urgently to send: alerts and commands go `high` so they never wait behind bulk.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Bulk and newsletters.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Alerts, commands, one-time codes.
    High,
}

impl Priority {
    /// The integer stored in the queue; larger is claimed first.
    pub fn as_i64(self) -> i64 {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::High => 2,
        }
    }

    /// The inverse of [`Priority::as_i64`]; unknown values read as normal.
    pub fn from_i64(v: i64) -> Self {
        match v {
            0 => Self::Low,
            2 => Self::High,
            _ => Self::Normal,
        }
    }

    /// The lower-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// What makes a message 8-bit data instead of text (M2M protocols, WAP push, OTA): the
/// octet of its data coding and the information elements its sender asked for in the user
/// data header. The payload itself is the message's `text`, as hex.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Binary {
    /// SMPP `data_coding` / TP-DCS: `0x04` (8-bit), `0xF4`–`0xF7` (8-bit, class 0–3), …
    pub data_coding: u8,
    /// The sender's information elements (application ports, …) as octets, without the UDHL
    /// octet; every part carries them, before the concatenation IE a split adds. Shown as hex.
    #[serde(serialize_with = "hex_octets")]
    pub udh: Vec<u8>,
}

fn hex_octets<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

impl Binary {
    /// The payload octets of a binary message (its `text` is their hex).
    pub fn payload(text: &str) -> Option<Vec<u8>> {
        smsgate_sms::hex::decode(text).ok()
    }

    /// What a connector sends for a binary message whose `text` is `hex`: the payload and
    /// the header elements, or why the stored message does not parse.
    pub fn decode(
        &self,
        hex: &str,
    ) -> Result<(Vec<u8>, Vec<smsgate_sms::udh::InformationElement>), crate::intake::Rejection>
    {
        let payload = Self::payload(hex).ok_or_else(|| {
            crate::intake::Rejection::new("invalid_binary", "the binary payload is not hex")
        })?;
        Ok((payload, crate::intake::prepare::binary_elements(&self.udh)?))
    }

    /// Octets as the text of a binary message holds them: lower-case hex.
    pub fn hex(octets: &[u8]) -> String {
        hex::encode(octets)
    }
}

/// A message as validated at the edge, before the store gives it a place in the queue.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Assigned at the edge so a client can be told the id in the same breath as the 202.
    pub id: MessageId,
    /// The API key that submitted it (scopes idempotency keys and fair claims).
    pub api_key_id: Option<String>,
    /// The tenant it belongs to (scopes listings and webhooks); `None`: admin keys only.
    pub tenant: Option<String>,
    /// The destination.
    pub to: Msisdn,
    /// The originator, if the client chose one.
    pub from: Option<SenderId>,
    /// The text as the client wrote it.
    pub text: String,
    /// `gsm7`, `ucs2`, … as chosen by the codec.
    pub encoding: String,
    /// How many SMS the text takes.
    pub segments: u32,
    /// Urgency.
    pub priority: Priority,
    /// Per-message webhook for `message.status` events.
    pub callback_url: Option<String>,
    /// The statuses the callback URL is told about; empty for every status (a client that
    /// only acts on the outcome asks for the final ones, as Kannel's `dlr-mask` does).
    pub callback_statuses: Vec<Status>,
    /// Client-chosen key that makes a retry of the same request return the same message.
    pub idempotency_key: Option<String>,
    /// Unix ms when accepted.
    pub created_at: i64,
    /// Unix ms before which it must not be sent (`send_at`), or `created_at`.
    pub send_at: i64,
    /// Unix ms after which it is expired instead of sent (`validity`).
    pub expires_at: Option<i64>,
    /// Why `send_at` was moved (quiet hours), for a `deferred` event in its timeline.
    pub deferred: Option<String>,
    /// Set for 8-bit data: `text` is then the payload as hex.
    pub binary: Option<Binary>,
}

/// A stored message with its current state.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The id.
    pub id: MessageId,
    /// The API key that submitted it.
    pub api_key_id: Option<String>,
    /// The tenant it belongs to.
    pub tenant: Option<String>,
    /// The destination (E.164).
    pub to: String,
    /// The originator as given.
    pub from: Option<String>,
    /// The text.
    pub text: String,
    /// The encoding the codec chose.
    pub encoding: String,
    /// Number of SMS parts.
    pub segments: u32,
    /// Current status.
    pub status: Status,
    /// Urgency.
    pub priority: Priority,
    /// Per-message webhook.
    pub callback_url: Option<String>,
    /// Statuses the callback URL gets; empty for all.
    pub callback_statuses: Vec<Status>,
    /// Client idempotency key.
    pub idempotency_key: Option<String>,
    /// Unix ms accepted.
    pub created_at: i64,
    /// Unix ms of the last change.
    pub updated_at: i64,
    /// Unix ms earliest send time.
    pub send_at: i64,
    /// Unix ms validity deadline.
    pub expires_at: Option<i64>,
    /// How many times it was handed to a connector.
    pub attempts: u32,
    /// The connector that took it last.
    pub connector: Option<String>,
    /// Machine-readable reason of the last error (`throttled`, `smpp_0x0b`, …).
    pub error_code: Option<String>,
    /// Human-readable reason of the last error.
    pub error_message: Option<String>,
    /// Connectors whose delivery receipt said `undelivered` and that a route's
    /// `retry_undelivered` moved the message away from; the dispatcher skips them.
    pub undelivered_via: Vec<String>,
    /// Set for 8-bit data: `text` is then the payload as hex.
    pub binary: Option<Binary>,
}

/// One entry of a message's timeline: a status change or a notable attempt (a retry, an
/// ambiguous submit).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageEvent {
    /// What happened: a status name, or `retry`, `ambiguous`, `part_delivered`, ….
    pub kind: String,
    /// The status after the event.
    pub status: Status,
    /// Unix ms.
    pub at: i64,
    /// Connector or error detail, when there is one.
    pub detail: Option<String>,
}

/// A message received from a handset (mobile-originated).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InboundMessage {
    /// Gateway-assigned id (UUIDv7).
    pub id: MessageId,
    /// The sender's number as the network gave it (E.164 when it was international).
    pub from: String,
    /// The number or short code it was sent to.
    pub to: String,
    /// The reassembled text.
    pub text: String,
    /// The connector it came in on.
    pub connector: String,
    /// Unix ms when stored.
    pub received_at: i64,
    /// True when some parts of a long message never arrived before the reassembly timeout.
    pub incomplete: bool,
    /// The tenant it was assigned to; `None`: nobody's (admin keys only).
    pub tenant: Option<String>,
    /// Set for 8-bit data: `text` is then the octets as hex.
    pub binary: Option<Binary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        use Status::*;
        assert!(Queued.can_become(Sending));
        assert!(Queued.can_become(Canceled));
        assert!(Queued.can_become(Expired));
        assert!(Sending.can_become(Sent));
        assert!(Sending.can_become(Failed));
        assert!(Sent.can_become(Delivered));
        assert!(Sent.can_become(Undelivered));
        assert!(Sent.can_become(Expired));
        assert!(!Sending.can_become(Queued));
        assert!(!Sent.can_become(Sending));
        assert!(!Sending.can_become(Canceled));
        for fin in [Delivered, Undelivered, Failed, Expired, Canceled] {
            for next in Status::ALL {
                assert!(!fin.can_become(next), "{fin} -> {next}");
            }
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("bogus".parse::<Status>().is_err());
    }
}
