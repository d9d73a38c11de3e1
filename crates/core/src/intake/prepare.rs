//! Validation and pricing: a [`SendRequest`] as a channel wrote it becomes a [`NewMessage`]
//! (numbers in E.164, text encoded and counted, times resolved) or a [`Rejection`] with a stable
//! code. Pure: no store, no clock (time is passed in).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::message::{MessageId, NewMessage, Priority, Status};
use crate::number::{Msisdn, SenderId};

/// Limits applied at intake (`[limits]` in the config file).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeLimits {
    /// Most SMS parts one message may take. Default 10 (1,530 GSM characters).
    pub max_segments: u32,
    /// Longest `validity`. Default `"7d"`.
    #[serde(with = "humantime_serde")]
    pub max_validity: Duration,
    /// Validity of a message that names none, like an SMSC's default validity period: it stops
    /// retries and receipt waits from going on forever. Default `"48h"`.
    #[serde(with = "humantime_serde")]
    pub default_validity: Duration,
    /// Furthest `send_at` in the future. Default `"30d"`.
    #[serde(with = "humantime_serde")]
    pub max_schedule: Duration,
    /// Backpressure: when this many messages wait in the queue, the API answers 429 with
    /// `Retry-After` instead of accepting more. `0` turns the bound off. Default 5,000,000.
    pub max_queued: u64,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            max_segments: 10,
            max_validity: Duration::from_secs(7 * 24 * 3600),
            default_validity: Duration::from_secs(48 * 3600),
            max_schedule: Duration::from_secs(30 * 24 * 3600),
            max_queued: 5_000_000,
        }
    }
}

/// A send request as any channel hands it over, still unvalidated.
#[derive(Clone, Debug, Default)]
pub struct SendRequest {
    /// Destination as written.
    pub to: String,
    /// Text.
    pub text: String,
    /// Sender as written.
    pub from: Option<String>,
    /// Force an encoding (`gsm7`, `ucs2`).
    pub encoding: Option<String>,
    /// Per-message webhook URL.
    pub callback_url: Option<String>,
    /// Status names the callback URL should get (empty: all), as written.
    pub callback_statuses: Vec<String>,
    /// Validity as written (`"1h"`).
    pub validity: Option<String>,
    /// Earliest send time, Unix ms.
    pub send_at: Option<i64>,
    /// Urgency.
    pub priority: Priority,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// The submitting API key.
    pub api_key_id: Option<String>,
    /// The tenant the message belongs to.
    pub tenant: Option<String>,
    /// Sent even to an opted-out recipient: only the confirmation of a STOP itself.
    pub skip_optout: bool,
    /// 8-bit data: `text` is then the payload as hex (see [`crate::message::Binary`]).
    pub binary: Option<crate::message::Binary>,
}

/// Why a request was refused; `code` is what API clients match on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// Stable machine-readable code (`invalid_number`, `text_too_long`, …).
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Rejection {
    /// A refusal with its stable code and a sentence saying what to change.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Validates and prices a request: numbers to E.164, text encoded and counted, times checked.
pub fn prepare(req: SendRequest, limits: &IntakeLimits, now: i64) -> Result<NewMessage, Rejection> {
    let to = Msisdn::parse(&req.to).map_err(|e| Rejection::new("invalid_number", e.to_string()))?;
    let from = match req.from.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) => {
            Some(SenderId::parse(f).map_err(|e| Rejection::new("invalid_sender", e.to_string()))?)
        }
    };
    if req.text.is_empty() {
        return Err(Rejection::new(
            "empty_text",
            "text is empty: an SMS needs at least one character",
        ));
    }
    let forced = match req.encoding.as_deref() {
        None | Some("") | Some("auto") => None,
        Some(e) => Some(e.parse::<smsgate_sms::Encoding>().map_err(|_| {
            Rejection::new(
                "invalid_encoding",
                format!("unknown encoding '{e}': use gsm7 or ucs2"),
            )
        })?),
    };
    let (est_encoding, est_segments) = match &req.binary {
        Some(b) => ("binary", binary_segments(&req.text, b)?),
        None => {
            let est = smsgate_sms::estimate(&req.text, forced)
                .map_err(|e| Rejection::new("unencodable_text", e.to_string()))?;
            (est.encoding.as_str(), est.segments)
        }
    };
    if est_segments as u32 > limits.max_segments {
        return Err(Rejection::new(
            "text_too_long",
            format!(
                "the text needs {} SMS parts in {}; the limit is {} parts (limits.max_segments)",
                est_segments, est_encoding, limits.max_segments
            ),
        ));
    }
    if let Some(url) = &req.callback_url {
        // A Twilio StatusCallback (`twilio+https://…`) or a Kannel dlr-url (`kannel+…`) is
        // checked as the URL it calls.
        let plain = url
            .strip_prefix(crate::twilio::CALLBACK_PREFIX)
            .or_else(|| url.strip_prefix(crate::kannel::CALLBACK_PREFIX))
            .unwrap_or(url);
        check_url(plain).map_err(|m| Rejection::new("invalid_callback_url", m))?;
    }
    let callback_statuses = parse_statuses(&req.callback_statuses)
        .map_err(|m| Rejection::new("invalid_callback_statuses", m))?;
    if !callback_statuses.is_empty() && req.callback_url.is_none() {
        return Err(Rejection::new(
            "invalid_callback_statuses",
            "callback_statuses needs a callback_url to send them to",
        ));
    }
    let send_at = match req.send_at {
        Some(t) if t > now + limits.max_schedule.as_millis() as i64 => {
            return Err(Rejection::new(
                "invalid_send_at",
                format!(
                    "send_at is more than {} ahead",
                    humantime::format_duration(limits.max_schedule)
                ),
            ));
        }
        Some(t) => t.max(now),
        None => now,
    };
    let expires_at = match req.validity.as_deref() {
        None | Some("") => Some(send_at + limits.default_validity.as_millis() as i64),
        Some(v) => {
            let d = humantime::parse_duration(v).map_err(|e| {
                Rejection::new(
                    "invalid_validity",
                    format!("validity '{v}': {e}; write e.g. \"1h\" or \"30m\""),
                )
            })?;
            if d.is_zero() || d > limits.max_validity {
                return Err(Rejection::new(
                    "invalid_validity",
                    format!(
                        "validity must be between 1s and {}",
                        humantime::format_duration(limits.max_validity)
                    ),
                ));
            }
            Some(send_at + d.as_millis() as i64)
        }
    };
    if let Some(k) = &req.idempotency_key
        && (k.is_empty() || k.len() > 255)
    {
        return Err(Rejection::new(
            "invalid_idempotency_key",
            "idempotency_key must be 1 to 255 characters",
        ));
    }
    Ok(NewMessage {
        id: MessageId::new(),
        api_key_id: req.api_key_id,
        tenant: req.tenant,
        to,
        from,
        text: req.text,
        encoding: est_encoding.to_owned(),
        segments: est_segments as u32,
        priority: req.priority,
        callback_url: req.callback_url,
        callback_statuses,
        idempotency_key: req.idempotency_key,
        created_at: now,
        send_at,
        expires_at,
        deferred: None,
        binary: req.binary,
    })
}

/// The parts a binary payload (`text` as hex) takes with its header elements; refuses what
/// cannot be sent as given: odd or non-hex payloads, a header that does not parse or claims
/// concatenation itself (the split adds it).
fn binary_segments(hex: &str, b: &crate::message::Binary) -> Result<usize, Rejection> {
    let payload = crate::message::Binary::payload(hex)
        .ok_or_else(|| Rejection::new("invalid_binary", "binary is not hex octets"))?;
    if payload.is_empty() {
        return Err(Rejection::new("empty_text", "binary has no octets"));
    }
    let elements = binary_elements(&b.udh)?;
    let seg = smsgate_sms::segment_binary_with(
        &payload,
        &elements,
        &smsgate_sms::SegmentOptions::default(),
    )
    .map_err(|e| Rejection::new("invalid_udh", e.to_string()))?;
    Ok(seg.segments)
}

/// The information elements of a sender's header octets (without UDHL).
pub fn binary_elements(udh: &[u8]) -> Result<Vec<smsgate_sms::udh::InformationElement>, Rejection> {
    if udh.is_empty() {
        return Ok(Vec::new());
    }
    let mut with_len = Vec::with_capacity(udh.len() + 1);
    with_len.push(udh.len() as u8);
    with_len.extend_from_slice(udh);
    let (parsed, used) = smsgate_sms::Udh::parse(&with_len)
        .map_err(|e| Rejection::new("invalid_udh", format!("udh does not parse: {e}")))?;
    if used != with_len.len() {
        return Err(Rejection::new(
            "invalid_udh",
            "udh has octets after its elements",
        ));
    }
    if parsed.elements.iter().any(|e| e.id == 0x00 || e.id == 0x08) {
        return Err(Rejection::new(
            "invalid_udh",
            "udh must not carry a concatenation element: long data is split by the gateway",
        ));
    }
    Ok(parsed.elements)
}

/// Status names as a client wrote them (`["delivered", "failed"]`) to statuses, without
/// repeats; an unknown name is an error that lists the known ones.
pub fn parse_statuses(names: &[String]) -> Result<Vec<Status>, String> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let s: Status = n.trim().parse().map_err(|_| {
            let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status '{n}'; known: {}", known.join(", "))
        })?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// A webhook target must be an absolute http(s) URL.
pub fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(format!("'{url}' must be an http:// or https:// URL")),
        Err(e) => Err(format!("'{url}' is not a URL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(to: &str, text: &str) -> SendRequest {
        SendRequest {
            to: to.into(),
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_request_becomes_a_priced_queued_message() {
        let m = prepare(
            req("+49 151 12345678", "Hello"),
            &IntakeLimits::default(),
            1000,
        )
        .unwrap();
        assert_eq!(m.to.as_str(), "+4915112345678");
        assert_eq!((m.encoding.as_str(), m.segments), ("gsm7", 1));
        assert_eq!(
            (m.send_at, m.expires_at),
            (1000, Some(1000 + 48 * 3_600_000))
        );
        let u = prepare(
            req("+4915112345678", "Grüße 🚀"),
            &IntakeLimits::default(),
            0,
        )
        .unwrap();
        assert_eq!(u.encoding, "ucs2");
    }

    #[test]
    fn bad_requests_are_refused_with_stable_codes() {
        let l = IntakeLimits::default();
        let code = |r: SendRequest| prepare(r, &l, 0).unwrap_err().code;
        assert_eq!(code(req("12345", "x")), "invalid_number");
        assert_eq!(code(req("+4915112345678", "")), "empty_text");
        assert_eq!(
            code(req("+4915112345678", &"a".repeat(153 * 10 + 1))),
            "text_too_long"
        );
        let mut r = req("+4915112345678", "x");
        r.validity = Some("soon".into());
        assert_eq!(code(r), "invalid_validity");
        let mut r = req("+4915112345678", "x");
        r.callback_url = Some("ftp://x".into());
        assert_eq!(code(r), "invalid_callback_url");
        let mut r = req("+4915112345678", "x");
        r.from = Some("Way Too Long Sender".into());
        assert_eq!(code(r), "invalid_sender");
        let mut r = req("+4915112345678", "€");
        r.encoding = Some("latin9".into());
        assert_eq!(code(r), "invalid_encoding");
    }

    #[test]
    fn the_segment_limit_is_named_in_the_error() {
        let l = IntakeLimits {
            max_segments: 2,
            ..Default::default()
        };
        let e = prepare(req("+4915112345678", &"a".repeat(400)), &l, 0).unwrap_err();
        assert!(
            e.message.contains("3 SMS parts") && e.message.contains("limit is 2"),
            "{e}"
        );
    }

    #[test]
    fn validity_counts_from_the_scheduled_time() {
        let mut r = req("+4915112345678", "x");
        r.validity = Some("1h".into());
        r.send_at = Some(10_000);
        let m = prepare(r, &IntakeLimits::default(), 0).unwrap();
        assert_eq!(m.expires_at, Some(10_000 + 3_600_000));
    }
}

#[cfg(test)]
mod binary_tests {
    use super::*;

    #[test]
    fn binary_is_priced_with_its_header_and_held_to_max_segments() {
        let limits = IntakeLimits {
            max_segments: 2,
            ..IntakeLimits::default()
        };
        let req = |octets: usize| SendRequest {
            to: "+4915112345678".into(),
            text: "ab".repeat(octets),
            binary: Some(crate::message::Binary {
                data_coding: 4,
                udh: vec![0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0],
            }),
            ..SendRequest::default()
        };
        let one = prepare(req(133), &limits, 0).unwrap();
        assert_eq!((one.segments, one.encoding.as_str()), (1, "binary"));
        assert_eq!(prepare(req(134), &limits, 0).unwrap().segments, 2);
        assert_eq!(
            prepare(req(257), &limits, 0).unwrap_err().code,
            "text_too_long"
        );
    }
}
