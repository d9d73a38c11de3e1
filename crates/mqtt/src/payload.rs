//! What the bridge receives, decoded: a send (the JSON of `POST /v1/messages`) becomes a
//! [`SendRequest`] for the intake, a device command the IoT engine's [`CommandRequest`]; a
//! payload that cannot become one is a [`Refusal`], published to `{prefix}/errors` by
//! [`error_payload`]. Pure: no client, no store.

use serde::Deserialize;
use serde_json::json;
use smsgate_core::intake::SendRequest;
use smsgate_core::store::Tenant;
use smsgate_iot::engine::CommandRequest;

/// Largest payload decoded; a larger one is refused (`payload_too_large`).
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// How much of a refused payload `{prefix}/errors` repeats.
pub const ERROR_EXCERPT: usize = 512;

/// Why something received was refused for good: the sender must change it. Acknowledged to
/// the broker (a redelivery would be refused again) and published to `{prefix}/errors`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Stable machine-readable code, the same as the REST API's where one exists
    /// (`invalid_number`, `sender_not_allowed`, …).
    pub code: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<smsgate_core::intake::Rejection> for Refusal {
    fn from(r: smsgate_core::intake::Rejection) -> Self {
        Self::new(r.code, r.message)
    }
}

/// The payload of `{prefix}/send`: the body of `POST /v1/messages`, the same type.
pub type SendPayload = smsgate_core::intake::SendMessage;

/// Parses a JSON payload of type `T`; the refusal says where it is wrong.
fn json<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, Refusal> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Refusal::new(
            "payload_too_large",
            format!(
                "the payload has {} bytes, at most {MAX_PAYLOAD} are read",
                payload.len()
            ),
        ));
    }
    let text = std::str::from_utf8(payload)
        .map_err(|_| Refusal::new("invalid_payload", "the payload is not UTF-8 text"))?;
    serde_json::from_str(text).map_err(|e| {
        Refusal::new(
            "invalid_payload",
            format!("the payload is not the JSON expected: {e}"),
        )
    })
}

/// Decodes a send payload.
pub fn decode_send(payload: &[u8]) -> Result<SendPayload, Refusal> {
    json(payload)
}

/// Decodes a device command payload (`{"command": "OFF", "expect"?, "error_pattern"?,
/// "timeout"?, "encoding"?}`, as `POST /v1/devices/{id}/commands`).
pub fn decode_command(payload: &[u8]) -> Result<CommandRequest, Refusal> {
    json(payload)
}

/// The request a send payload makes for `tenant` (its `sender_ids` apply, as in the REST
/// API). `api_key_id` is `mqtt:{tenant}`: the channel's "key", for routes and fair claiming.
pub fn to_request(p: SendPayload, tenant: &Tenant) -> Result<SendRequest, Refusal> {
    Ok(p.into_request(api_key_id(&tenant.id), &tenant.id, Some(tenant))?)
}

/// The `api_key_id` of messages the bridge queues for `tenant`.
pub fn api_key_id(tenant: &str) -> String {
    format!("mqtt:{tenant}")
}

/// The JSON published to `{prefix}/errors`: `{"topic", "error": {"code", "message"},
/// "payload"}`, the payload as (lossy) text cut to [`ERROR_EXCERPT`] bytes.
pub fn error_payload(topic: &str, refusal: &Refusal, payload: &[u8]) -> Vec<u8> {
    let cut = &payload[..payload.len().min(ERROR_EXCERPT)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if payload.len() > ERROR_EXCERPT {
        text.push('…');
    }
    json!({
        "topic": topic,
        "error": {"code": refusal.code, "message": refusal.message},
        "payload": text,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(senders: &[&str]) -> Tenant {
        Tenant {
            id: "acme".into(),
            sender_ids: senders.iter().map(|s| (*s).to_owned()).collect(),
            ..Tenant::default()
        }
    }

    #[test]
    fn a_send_payload_becomes_the_request_of_the_tenant() {
        let p = decode_send(
            br#"{"to":"+4915112345678","text":"hi","from":"ACME","priority":"high",
                "send_at":"2030-01-01T00:00:00Z","idempotency_key":"k1","validity":"1h",
                "callback_statuses":["delivered"]}"#,
        )
        .unwrap();
        let r = to_request(p, &tenant(&["ACME"])).unwrap();
        assert_eq!(r.to, "+4915112345678");
        assert_eq!(r.from.as_deref(), Some("ACME"));
        assert_eq!(r.priority, smsgate_core::message::Priority::High);
        assert_eq!(r.send_at, Some(1_893_456_000_000));
        assert_eq!(r.idempotency_key.as_deref(), Some("k1"));
        assert_eq!(r.api_key_id.as_deref(), Some("mqtt:acme"));
        assert_eq!(r.tenant.as_deref(), Some("acme"));
        assert_eq!(r.callback_statuses, vec!["delivered"]);
    }

    #[test]
    fn bad_payloads_are_refused_with_a_code() {
        let code = |p: &[u8]| decode_send(p).unwrap_err().code;
        assert_eq!(code(b"not json"), "invalid_payload");
        // No text is a valid shape (binary has none); the intake refuses it as empty_text.
        assert!(decode_send(b"{\"to\":\"+49151\"}").is_ok());
        assert_eq!(
            code(br#"{"to":"+49151","text":"x","colour":"red"}"#),
            "invalid_payload"
        );
        assert_eq!(code(&[0xff, 0xfe]), "invalid_payload");
        assert_eq!(code(&vec![b' '; MAX_PAYLOAD + 1]), "payload_too_large");
        let p = decode_send(br#"{"to":"+4915112345678","text":"x","from":"EVIL"}"#).unwrap();
        assert_eq!(
            to_request(p, &tenant(&["ACME"])).unwrap_err().code,
            "sender_not_allowed"
        );
        let p = decode_send(br#"{"to":"+4915112345678","text":"x","send_at":"soon"}"#).unwrap();
        assert_eq!(
            to_request(p, &tenant(&[])).unwrap_err().code,
            "invalid_send_at"
        );
    }

    #[test]
    fn commands_decode_like_the_rest_api() {
        let c = decode_command(br#"{"command":"OFF","expect":"^OK","timeout":"2m"}"#).unwrap();
        assert_eq!(c.command, "OFF");
        assert_eq!(c.timeout, Some(std::time::Duration::from_secs(120)));
        assert!(decode_command(br#"{"cmd":"OFF"}"#).is_err());
    }

    #[test]
    fn the_error_payload_names_topic_code_and_a_cut_payload() {
        let r = Refusal::new("invalid_payload", "bad");
        let v: serde_json::Value =
            serde_json::from_slice(&error_payload("p/send", &r, b"oops")).unwrap();
        assert_eq!(v["topic"], "p/send");
        assert_eq!(v["error"]["code"], "invalid_payload");
        assert_eq!(v["payload"], "oops");
        let long = vec![b'a'; ERROR_EXCERPT * 2];
        let v: serde_json::Value =
            serde_json::from_slice(&error_payload("p/send", &r, &long)).unwrap();
        assert_eq!(
            v["payload"].as_str().unwrap().chars().count(),
            ERROR_EXCERPT + 1
        );
    }
}
