//! What the Twilio-compatible API and the webhook pipeline share: the ids Twilio clients see
//! (`AC…` account SIDs per API key, `SM…` message SIDs), Twilio's status names, and the
//! `StatusCallback` a message sent through that API gets — form-encoded Twilio fields signed
//! with `X-Twilio-Signature` as Twilio's own `RequestValidator` checks it.
//!
//! The signing key is the account's *auth token for callbacks*: the SHA-256 hex of the API
//! key (the key's stored hash, which also signs its per-message JSON callbacks). Twilio keeps
//! the same split between the credential a client sends (an API key) and the account's auth
//! token that signs webhooks; the gateway never stores the API key itself.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::message::{Message, MessageId, Status};

/// A `callback_url` with this prefix is a Twilio `StatusCallback`: the pipeline POSTs Twilio's
/// form fields, signed with `X-Twilio-Signature`, to the URL after it.
pub const CALLBACK_PREFIX: &str = "twilio+";

/// A delivery URL `twilio-in+<tenant>+<url>` POSTs an inbound SMS in Twilio's format to
/// `<url>`; the `<Message>`s of its TwiML answer go back to the sender in `<tenant>`'s name.
pub const INBOUND_PREFIX: &str = "twilio-in+";

/// The header Twilio signs webhooks with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Twilio's API version in every path and resource.
pub const API_VERSION: &str = "2010-04-01";

/// The Account SID of an API key: `AC` + 32 hex, derived from the key id so it needs no
/// storage and never changes.
pub fn account_sid(key_id: &str) -> String {
    let h = Sha256::digest(format!("smsgate-twilio-account:{key_id}").as_bytes());
    format!("AC{}", &hex::encode(h)[..32])
}

/// The Message SID of a message: `SM` + its UUID's 32 hex digits.
pub fn message_sid(id: MessageId) -> String {
    format!("SM{}", id.to_string().replace('-', ""))
}

/// The message a Message SID names, when it is one of ours.
pub fn parse_message_sid(sid: &str) -> Option<MessageId> {
    let hex = sid.strip_prefix("SM")?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    dashed.parse().ok()
}

/// Twilio's name for a status: `scheduled` for a message held for a later time, `canceled`
/// with one l, and `failed` for an expired one (Twilio has no `expired`).
pub fn status_name(status: Status, send_at: i64, now: i64) -> &'static str {
    match status {
        Status::Queued if send_at > now => "scheduled",
        Status::Queued => "queued",
        Status::Sending => "sending",
        Status::Sent => "sent",
        Status::Delivered => "delivered",
        Status::Undelivered => "undelivered",
        Status::Failed | Status::Expired => "failed",
        Status::Canceled => "canceled",
    }
}

/// Twilio's `ErrorCode` for a message that did not arrive: 30003 (unreachable handset) for
/// `undelivered`, 30008 (unknown error) for `failed`, 30001 (queue overflow / expired) for an
/// expired one; none otherwise.
pub fn error_code(status: Status) -> Option<u32> {
    match status {
        Status::Undelivered => Some(30003),
        Status::Failed => Some(30008),
        Status::Expired => Some(30001),
        _ => None,
    }
}

/// The `StatusCallback` form fields for `m` reaching `status`, in Twilio's names.
pub fn callback_fields(m: &Message, status: Status) -> Vec<(&'static str, String)> {
    let sid = message_sid(m.id);
    let name = status_name(status, 0, 0).to_owned();
    let mut fields = vec![
        (
            "AccountSid",
            m.api_key_id.as_deref().map(account_sid).unwrap_or_default(),
        ),
        ("ApiVersion", API_VERSION.to_owned()),
        ("From", m.from.clone().unwrap_or_default()),
        ("MessageSid", sid.clone()),
        ("MessageStatus", name.clone()),
        ("SmsSid", sid),
        ("SmsStatus", name),
        ("To", m.to.clone()),
    ];
    if let Some(code) = error_code(status) {
        fields.push(("ErrorCode", code.to_string()));
    }
    fields
}

/// The form Twilio POSTs to a number's `sms_url` for an inbound SMS.
pub fn inbound_fields(
    id: &str,
    from: &str,
    to: &str,
    text: &str,
    tenant: &str,
) -> Vec<(&'static str, String)> {
    let sid = id
        .parse::<MessageId>()
        .map(message_sid)
        .unwrap_or_else(|_| format!("SM{id}"));
    vec![
        ("AccountSid", account_sid(&format!("tenant:{tenant}"))),
        ("ApiVersion", API_VERSION.to_owned()),
        ("Body", text.to_owned()),
        ("From", from.to_owned()),
        ("MessageSid", sid.clone()),
        ("NumMedia", "0".to_owned()),
        ("NumSegments", "1".to_owned()),
        ("SmsMessageSid", sid.clone()),
        ("SmsSid", sid),
        ("SmsStatus", "received".to_owned()),
        ("To", to.to_owned()),
    ]
}

/// The texts of the `<Message>` verbs of a TwiML answer (`<Message>text</Message>` or
/// `<Message><Body>text</Body></Message>`), entities decoded; none for `<Response/>`.
pub fn twiml_messages(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Message") {
        let after = &rest[start + "<Message".len()..];
        let Some(close) = after.find('>') else { break };
        if after[..close].ends_with('/') {
            rest = &after[close + 1..];
            continue;
        }
        let inner_start = &after[close + 1..];
        let Some(end) = inner_start.find("</Message>") else {
            break;
        };
        let mut inner = &inner_start[..end];
        if let (Some(b), Some(e)) = (inner.find("<Body>"), inner.find("</Body>"))
            && b < e
        {
            inner = &inner[b + "<Body>".len()..e];
        }
        let text = inner
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        let text = text.trim();
        if !text.is_empty() {
            out.push(text.to_owned());
        }
        rest = &inner_start[end..];
    }
    out
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form(fields: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `X-Twilio-Signature` of a POST to `url` with form `body`: base64 of HMAC-SHA1 keyed with
/// the auth token over the URL followed by every parameter name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, body: &str) -> String {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in &params {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_round_trip_and_are_twilio_shaped() {
        let id = MessageId::new();
        let sid = message_sid(id);
        assert_eq!(sid.len(), 34);
        assert_eq!(parse_message_sid(&sid), Some(id));
        assert_eq!(parse_message_sid("SMnothex"), None);
        let ac = account_sid("key_abc");
        assert!(ac.starts_with("AC") && ac.len() == 34, "{ac}");
        assert_eq!(ac, account_sid("key_abc"));
        assert_ne!(ac, account_sid("key_abd"));
    }

    #[test]
    fn twiml_answers_become_texts() {
        assert_eq!(
            twiml_messages(
                "<?xml version=\"1.0\"?><Response><Message>Thanks &amp; bye</Message>\
                 <Message to=\"+1\"><Body> Two </Body></Message><Message/></Response>"
            ),
            vec!["Thanks & bye".to_owned(), "Two".to_owned()]
        );
        assert!(twiml_messages("<Response/>").is_empty());
        assert!(twiml_messages("not xml at all").is_empty());
    }

    #[test]
    fn the_signature_is_twilios() {
        // The example of Twilio's security documentation: auth token 12345, this URL and
        // these parameters; the value is what the official `twilio` Python package's
        // `RequestValidator.compute_signature` gives for them.
        let body = form(&[
            ("CallSid", "CA1234567890ABCDE".into()),
            ("Caller", "+12349013030".into()),
            ("Digits", "1234".into()),
            ("From", "+12349013030".into()),
            ("To", "+18005551212".into()),
        ]);
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &body
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
