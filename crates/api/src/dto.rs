//! The JSON shapes of the REST API, as the OpenAPI document publishes them.

use serde::{Deserialize, Serialize};
use smsgate_core::clock::rfc3339;
use smsgate_core::message::{InboundMessage, Message, MessageEvent, Status};
use smsgate_core::store::Webhook;
use utoipa::ToSchema;

/// Status names for a view.
fn status_names(statuses: &[Status]) -> Vec<String> {
    statuses.iter().map(|s| s.as_str().to_owned()).collect()
}

/// `POST /v1/messages` body, and one entry of a batch (shared with the MQTT bridge).
pub use smsgate_core::intake::SendMessage;

/// The 202 answer to a send.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Message id (UUIDv7).
    pub id: String,
    /// `queued` for a new message; the current status on an idempotent repeat.
    pub status: String,
    /// SMS parts the text takes.
    pub segments: u32,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
}

/// `POST /v1/messages/batch` body.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBatch {
    /// Up to 1,000 messages.
    pub messages: Vec<serde_json::Value>,
}

/// One entry of the batch answer: accepted (`id` set) or rejected (`error` set).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BatchEntry {
    /// Position in the request.
    pub index: usize,
    /// Message id when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `queued` when accepted, `rejected` otherwise.
    pub status: String,
    /// Parts, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
    /// Encoding, when accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

/// The batch answer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BatchAccepted {
    /// How many were queued.
    pub accepted: usize,
    /// How many were refused.
    pub rejected: usize,
    /// One entry per request entry, in order.
    pub messages: Vec<BatchEntry>,
}

/// One step of a message's timeline.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    /// What happened: a status name, `retry`, `throttled`, `ambiguous`, `part_delivered`.
    pub event: String,
    /// Status after the event.
    pub status: String,
    /// When (RFC 3339).
    pub at: String,
    /// Connector or error detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&MessageEvent> for TimelineEvent {
    fn from(e: &MessageEvent) -> Self {
        Self {
            event: e.kind.clone(),
            status: e.status.as_str().to_owned(),
            at: rfc3339(e.at),
            detail: e.detail.clone(),
        }
    }
}

/// A message as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// Id.
    pub id: String,
    /// Destination.
    pub to: String,
    /// Sender.
    pub from: Option<String>,
    /// Text.
    pub text: String,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, `expired`, `canceled`.
    pub status: String,
    /// Parts.
    pub segments: u32,
    /// Encoding.
    pub encoding: String,
    /// Priority.
    pub priority: String,
    /// Times handed to a connector.
    pub attempts: u32,
    /// The connector that took it last.
    pub connector: Option<String>,
    /// Error code of the last failure.
    pub error_code: Option<String>,
    /// Error message of the last failure.
    pub error_message: Option<String>,
    /// Accepted (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Earliest send time (RFC 3339).
    pub send_at: String,
    /// Validity deadline (RFC 3339).
    pub expires_at: Option<String>,
    /// Per-message webhook.
    pub callback_url: Option<String>,
    /// The statuses `callback_url` gets; absent for every status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub callback_statuses: Vec<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Set for binary SMS: `text` is then the payload as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryView>,
    /// Timeline, oldest first (only on `GET /v1/messages/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TimelineEvent>>,
}

/// What makes a message binary, as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BinaryView {
    /// The sender's header elements (ports, …) as hex, without the length octet.
    pub udh: String,
    /// The data coding octet.
    pub data_coding: u8,
}

impl MessageView {
    /// The view of a stored message, with its timeline when given.
    pub fn new(m: &Message, events: Option<&[MessageEvent]>) -> Self {
        Self {
            id: m.id.to_string(),
            to: m.to.clone(),
            from: m.from.clone(),
            text: m.text.clone(),
            status: m.status.as_str().to_owned(),
            segments: m.segments,
            encoding: m.encoding.clone(),
            priority: m.priority.as_str().to_owned(),
            attempts: m.attempts,
            connector: m.connector.clone(),
            error_code: m.error_code.clone(),
            error_message: m.error_message.clone(),
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
            send_at: rfc3339(m.send_at),
            expires_at: m.expires_at.map(rfc3339),
            callback_url: m.callback_url.clone(),
            callback_statuses: status_names(&m.callback_statuses),
            idempotency_key: m.idempotency_key.clone(),
            events: events.map(|es| es.iter().map(TimelineEvent::from).collect()),
            binary: m.binary.as_ref().map(|b| BinaryView {
                udh: hex::encode(&b.udh),
                data_coding: b.data_coding,
            }),
        }
    }
}

/// A page of results with the cursor of the next page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, newest first.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An inbound message as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InboundView {
    /// Id.
    pub id: String,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Text.
    pub text: String,
    /// Connector it came in on.
    pub connector: String,
    /// Received (RFC 3339).
    pub received_at: String,
    /// Some parts never arrived.
    pub incomplete: bool,
    /// Set for binary SMS: `text` is then the octets as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryView>,
}

impl From<&InboundMessage> for InboundView {
    fn from(m: &InboundMessage) -> Self {
        Self {
            id: m.id.to_string(),
            from: m.from.clone(),
            to: m.to.clone(),
            text: m.text.clone(),
            connector: m.connector.clone(),
            received_at: rfc3339(m.received_at),
            incomplete: m.incomplete,
            binary: m.binary.as_ref().map(|b| BinaryView {
                udh: hex::encode(&b.udh),
                data_coding: b.data_coding,
            }),
        }
    }
}

/// `POST /v1/webhooks` body.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// http(s) URL to POST events to.
    pub url: String,
    /// Event names or patterns: `message.status`, `message.inbound`, `alert.*`, `*`.
    pub events: Vec<String>,
    /// For `message.status`: only these statuses, e.g. `["delivered", "undelivered",
    /// "failed", "expired"]` for one callback per message with its outcome; every status when
    /// absent.
    #[serde(default)]
    pub statuses: Option<Vec<String>>,
    /// Signing secret; generated when absent and returned once.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A webhook subscription as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Id.
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Event patterns.
    pub events: Vec<String>,
    /// The `message.status` statuses delivered; absent for every status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// The signing secret: only in the 201 answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    /// A view without the secret.
    pub fn new(w: &Webhook) -> Self {
        Self {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            statuses: status_names(&w.statuses),
            created_at: rfc3339(w.created_at),
            secret: None,
        }
    }
}

/// `POST /v1/messages/estimate` body.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// The text to price.
    pub text: String,
    /// Force `gsm7` or `ucs2`.
    #[serde(default)]
    pub encoding: Option<String>,
}

/// How a text will be sent.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EstimateView {
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    /// SMS parts.
    pub segments: usize,
    /// Characters in the text.
    pub characters: usize,
    /// Units still free in the last part (septets for gsm7, UTF-16 units for ucs2).
    pub remaining_in_last_segment: usize,
}

/// `POST /v1/sim/inbound` body: play a phone texting the gateway.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimInbound {
    /// The phone's number.
    pub from: String,
    /// The gateway number it texts (default `+10000000000`).
    #[serde(default)]
    pub to: Option<String>,
    /// Text.
    pub text: String,
}
