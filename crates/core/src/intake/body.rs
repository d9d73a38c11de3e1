//! The JSON of one send, as every channel that takes JSON receives it (`POST /v1/messages`, an
//! entry of a batch, an MQTT `{prefix}/send`): one type, so the channels cannot drift apart.

use serde::Deserialize;

use super::{Rejection, SendRequest};
use crate::store::Tenant;

/// `POST /v1/messages` body, one entry of a batch, and an MQTT send's payload.
#[derive(Clone, Debug, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Destination in E.164 (`+4915112345678`).
    pub to: String,
    /// The text; encoded as GSM 7-bit when every character fits, otherwise UCS-2.
    pub text: String,
    /// Sender: a number, a short code or up to 11 letters and digits.
    #[serde(default)]
    pub from: Option<String>,
    /// URL that receives this message's `message.status` webhooks, signed with the SHA-256 hex
    /// of your API key.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Only these statuses go to `callback_url` (e.g. `["delivered", "undelivered", "failed",
    /// "expired"]` for the outcome only, like Kannel's `dlr-mask`); every status when absent.
    #[serde(default)]
    pub callback_statuses: Option<Vec<String>>,
    /// How long the network should keep trying, e.g. `"1h"`; the message expires after.
    #[serde(default)]
    pub validity: Option<String>,
    /// Send no earlier than this time (RFC 3339).
    #[serde(default)]
    pub send_at: Option<String>,
    /// `low`, `normal` (default) or `high`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "normal")]
    pub priority: Option<crate::message::Priority>,
    /// Repeating a request with the same key returns the first message instead of a new one.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Force `gsm7` or `ucs2`; a character the forced encoding lacks is an error.
    #[serde(default)]
    pub encoding: Option<String>,
}

impl SendMessage {
    /// The request of `tenant_id` owned by `api_key_id`. The tenant's `sender_ids`, when it
    /// has any, are the only `from` values allowed (`sender_not_allowed`).
    pub fn into_request(
        self,
        api_key_id: String,
        tenant_id: &str,
        tenant: Option<&Tenant>,
    ) -> Result<SendRequest, Rejection> {
        if let (Some(t), Some(from)) = (tenant, self.from.as_deref())
            && !t.sender_ids.is_empty()
            && !t.sender_ids.iter().any(|s| s == from)
        {
            return Err(Rejection::new(
                "sender_not_allowed",
                format!(
                    "tenant '{}' may send from {} only, not '{from}'",
                    t.id,
                    t.sender_ids.join(", ")
                ),
            ));
        }
        let send_at = match self.send_at.as_deref() {
            Some(s) => Some(
                crate::clock::parse_rfc3339(s).map_err(|e| Rejection::new("invalid_send_at", e))?,
            ),
            None => None,
        };
        Ok(SendRequest {
            to: self.to,
            text: self.text,
            from: self.from,
            encoding: self.encoding,
            callback_url: self.callback_url,
            callback_statuses: self.callback_statuses.unwrap_or_default(),
            validity: self.validity,
            send_at,
            priority: self.priority.unwrap_or_default(),
            idempotency_key: self.idempotency_key,
            api_key_id: Some(api_key_id),
            tenant: Some(tenant_id.to_owned()),
            skip_optout: false,
        })
    }
}
