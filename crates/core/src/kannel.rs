//! What Kannel's `sendsms` users rely on beyond the request itself: `dlr-mask` (which delivery
//! reports they want) and `dlr-url` (a GET with Kannel's `%` escapes filled in per report).
//! Shared by the Kannel-compatible listener (which stores the wish) and the webhook pipeline
//! (which makes the GET).
//!
//! A message sent with a `dlr-url` keeps it as its callback URL with the [`CALLBACK_PREFIX`]
//! and its mask's statuses as the callback filter; the pipeline fills the escapes when a
//! status arrives and GETs the result, retried like every webhook.

use crate::message::{Message, Status};

/// A `callback_url` with this prefix is a Kannel `dlr-url` template.
pub const CALLBACK_PREFIX: &str = "kannel+";

/// A delivery URL `kannel-in+<tenant>+<url>` GETs a filled-in sms-service `get-url`; a
/// non-empty text answer goes back to the sender in `<tenant>`'s name (the delivery's body
/// holds `{"phone", "ours"}`).
pub const SERVICE_PREFIX: &str = "kannel-in+";

/// Kannel's DLR types (`dlr-mask` bits and `%d`).
pub mod dlr {
    /// Delivered to the phone.
    pub const DELIVERED: u8 = 1;
    /// Not delivered (the SMSC gave up, or the message expired).
    pub const FAILED: u8 = 2;
    /// Buffered at the SMSC (an intermediate report).
    pub const BUFFERED: u8 = 4;
    /// Accepted by the SMSC (`submit_sm_resp` OK).
    pub const SMSC_SUBMIT: u8 = 8;
    /// Rejected by the SMSC.
    pub const SMSC_REJECT: u8 = 16;
}

/// The DLR type a status is reported as, when it is one Kannel reports.
pub fn dlr_type(status: Status) -> Option<u8> {
    match status {
        Status::Delivered => Some(dlr::DELIVERED),
        Status::Undelivered | Status::Expired => Some(dlr::FAILED),
        Status::Sent => Some(dlr::SMSC_SUBMIT),
        Status::Failed => Some(dlr::SMSC_REJECT),
        Status::Queued | Status::Sending | Status::Canceled => None,
    }
}

/// The statuses a `dlr-mask` asks for (bit 4, buffered, has no status of its own here).
pub fn mask_statuses(mask: u8) -> Vec<Status> {
    let mut out = Vec::new();
    for s in [
        Status::Delivered,
        Status::Undelivered,
        Status::Expired,
        Status::Sent,
        Status::Failed,
    ] {
        if dlr_type(s).is_some_and(|t| mask & t != 0) {
            out.push(s);
        }
    }
    out
}

/// Kannel's `%q`/`%Q`: the number with a leading `00` written as `+`.
fn plus(n: &str) -> String {
    match n.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => n.to_owned(),
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, as Kannel writes `%t`.
fn kannel_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The `dlr-url` with its escapes filled in for `m` reaching `status` at `at` (Unix ms):
/// `%d` type, `%p`/`%P` receiver/sender, `%q`/`%Q` the same with `00` as `+`, `%t`/`%T`
/// time, `%A` the SMSC's answer, `%I` the message id, `%F` the error code, `%i` the
/// connector, `%s`/`%a` the text, `%c` coding, `%o` the account, `%%` a percent sign. Values
/// are URL-encoded; an unknown escape is left as written.
pub fn dlr_url(template: &str, m: &Message, status: Status, at: i64) -> String {
    let t = dlr_type(status).unwrap_or(0);
    let answer = match status {
        Status::Sent => "ACK/".to_owned(),
        Status::Delivered => "DELIVRD".to_owned(),
        Status::Failed => format!("NACK/{}", m.error_code.as_deref().unwrap_or("")),
        _ => m
            .error_message
            .clone()
            .unwrap_or_else(|| status.as_str().to_ascii_uppercase()),
    };
    let from = m.from.clone().unwrap_or_default();
    expand(template, |e| {
        Some(match e {
            'd' => t.to_string(),
            'p' => enc(&m.to),
            'P' => enc(&from),
            'q' => enc(&plus(&m.to)),
            'Q' => enc(&plus(&from)),
            't' => enc(&kannel_time(at)),
            'T' => (at / 1000).to_string(),
            'A' => enc(&answer),
            'I' => enc(&m.id.to_string()),
            'F' => enc(m.error_code.as_deref().unwrap_or("")),
            'i' => enc(m.connector.as_deref().unwrap_or("")),
            's' | 'a' => enc(&m.text),
            'c' => if m.encoding == "ucs2" { "2" } else { "0" }.to_owned(),
            'o' => enc(m.api_key_id.as_deref().unwrap_or("")),
            _ => return None,
        })
    })
}

/// `template` with each `%x` replaced by `value(x)`; `%%` is a percent sign, and an escape
/// `value` does not know (`None`) is left as written.
fn expand(template: &str, value: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('%'),
            Some('%') => out.push('%'),
            Some(e) => match value(e) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('%');
                    out.push(e);
                }
            },
        }
    }
    out
}

/// A `get-url` with Kannel's sms-service escapes filled in for an inbound SMS from `phone`
/// to `ours`: `%p` the phone, `%P` our number, `%q`/`%Q` the same with `00` as `+`, `%a` the
/// whole text, `%k` its first word, `%r` the rest, `%s` the second word, `%t`/`%T` the time
/// (`at`, Unix ms), `%i` the connector, `%I` the message id, `%%` a percent sign; values
/// URL-encoded, unknown escapes left as written.
pub fn service_url(
    template: &str,
    phone: &str,
    ours: &str,
    text: &str,
    connector: &str,
    id: &str,
    at: i64,
) -> String {
    let mut words = text.split_whitespace();
    let keyword = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    let rest = text
        .trim_start()
        .strip_prefix(keyword)
        .unwrap_or("")
        .trim_start();
    expand(template, |e| {
        Some(match e {
            'p' => enc(phone),
            'P' => enc(ours),
            'q' => enc(&plus(phone)),
            'Q' => enc(&plus(ours)),
            'a' => enc(text),
            'k' => enc(keyword),
            'r' => enc(rest),
            's' => enc(second),
            't' => enc(&kannel_time(at)),
            'T' => (at / 1000).to_string(),
            'i' => enc(connector),
            'I' => enc(id),
            _ => return None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageId, Priority};

    fn message() -> Message {
        Message {
            id: MessageId::new(),
            api_key_id: Some("kannel:tester".into()),
            tenant: None,
            to: "+4915112345678".into(),
            from: Some("0049301234".into()),
            text: "Hi & bye".into(),
            encoding: "gsm7".into(),
            segments: 1,
            status: Status::Delivered,
            priority: Priority::Normal,
            callback_url: None,
            callback_statuses: Vec::new(),
            idempotency_key: None,
            created_at: 0,
            updated_at: 0,
            send_at: 0,
            expires_at: None,
            attempts: 1,
            connector: Some("sim".into()),
            error_code: None,
            error_message: None,
            undelivered_via: Vec::new(),
            binary: None,
        }
    }

    #[test]
    fn escapes_are_filled_and_encoded() {
        let m = message();
        let u = dlr_url(
            "http://app/dlr?type=%d&to=%p&from=%Q&ts=%T&t=%t&text=%a&id=%I&x=%Z&pct=%%",
            &m,
            Status::Delivered,
            1_700_000_000_000,
        );
        assert_eq!(
            u,
            format!(
                "http://app/dlr?type=1&to=%2B4915112345678&from=%2B49301234&ts=1700000000\
                 &t=2023-11-14+22%3A13%3A20&text=Hi+%26+bye&id={}&x=%Z&pct=%",
                m.id
            )
        );
        assert!(dlr_url("?a=%A", &m, Status::Sent, 0).ends_with("ACK%2F"));
    }

    #[test]
    fn a_get_url_gets_the_inbound_sms() {
        let u = service_url(
            "http://app/svc?from=%p&to=%P&kw=%k&rest=%r&all=%a&at=%T",
            "+4915112345678",
            "+4930555000",
            "PRICE of gold",
            "sim",
            "id1",
            1_700_000_000_000,
        );
        assert_eq!(
            u,
            "http://app/svc?from=%2B4915112345678&to=%2B4930555000&kw=PRICE&rest=of+gold\
             &all=PRICE+of+gold&at=1700000000"
        );
    }

    #[test]
    fn the_mask_picks_the_reports() {
        assert_eq!(mask_statuses(1), vec![Status::Delivered]);
        assert_eq!(
            mask_statuses(3),
            vec![Status::Delivered, Status::Undelivered, Status::Expired]
        );
        assert_eq!(mask_statuses(8), vec![Status::Sent]);
        assert_eq!(mask_statuses(4), Vec::<Status>::new());
        assert_eq!(mask_statuses(31).len(), 5);
    }
}
