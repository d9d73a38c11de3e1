//! Kannel's `sendsms` interface on its own listener (`[kannel] listen`), so that scripts and
//! applications written for Kannel's smsbox switch by changing host and port:
//! `GET`/`POST /cgi-bin/sendsms` with `username`, `password`, `to` (several separated by
//! spaces), `from`, `text`, `charset`, `coding`, `validity`, `deferred`, `priority`,
//! `dlr-mask`, `dlr-url`, answered as smsbox answers (`0: Accepted for delivery`, 202; its
//! error lines and status codes). A `dlr-url` is called (GET) with Kannel's escapes filled in
//! for each report its `dlr-mask` asks for (see `smsgate_core::kannel`).
//!
//! Users (`[[kannel.users]]`) live in the config file like smsbox's `sendsms-user` groups;
//! their messages belong to `kannel:<username>` and the user's tenant.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use smsgate_core::intake::{IntakeError, SendRequest};
use smsgate_core::message::Priority;

use crate::AppState;

/// `[kannel]`: the sendsms listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KannelConfig {
    /// Where `/cgi-bin/sendsms` listens, e.g. `127.0.0.1:13013` (smsbox's usual port).
    pub listen: std::net::SocketAddr,
    /// The `sendsms-user`s.
    #[serde(default)]
    pub users: Vec<KannelUser>,
}

/// `[[kannel.users]]`: one `sendsms-user`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KannelUser {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// The tenant its messages belong to. Default `default`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The sender used when a request gives no `from` (smsbox's `default-sender` or
    /// `global-sender`); without it such a request is refused, as smsbox refuses it.
    #[serde(default)]
    pub default_sender: Option<String>,
}

fn default_tenant() -> String {
    smsgate_core::store::DEFAULT_TENANT.to_owned()
}

impl KannelConfig {
    /// Checks the users (names unique and not empty, passwords set).
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for u in &self.users {
            if u.username.is_empty() || u.password.is_empty() {
                return Err("[[kannel.users]] needs a username and a password".into());
            }
            if !seen.insert(u.username.as_str()) {
                return Err(format!("[[kannel.users]] '{}' appears twice", u.username));
            }
            if !smsgate_core::keys::valid_tenant_id(&u.tenant) {
                return Err(format!(
                    "[[kannel.users]] '{}': tenant '{}' is not a tenant id",
                    u.username, u.tenant
                ));
            }
        }
        Ok(())
    }
}

struct Kannel {
    state: Arc<AppState>,
    users: Vec<KannelUser>,
}

/// The router of the `[kannel]` listener.
pub fn router(state: Arc<AppState>, config: &KannelConfig) -> Router {
    let k = Arc::new(Kannel {
        state,
        users: config.users.clone(),
    });
    Router::new()
        .route("/cgi-bin/sendsms", get(sendsms_get).post(sendsms_post))
        .with_state(k)
}

/// An answer as smsbox writes it: a status code and one line of text.
fn answer(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        text.to_owned(),
    )
        .into_response()
}

/// `application/x-www-form-urlencoded` pairs as bytes (a `text` in `charset` is decoded
/// afterwards, so it is not read as UTF-8 here).
fn raw_pairs(s: &[u8]) -> Vec<(String, Vec<u8>)> {
    s.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|b| *b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &b""[..]),
            };
            (
                String::from_utf8_lossy(&unescape(k)).into_owned(),
                unescape(v),
            )
        })
        .collect()
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    s.get(i + 1).copied().and_then(hex),
                    s.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The request's parameters, whichever way they came.
struct Params(Vec<(String, Vec<u8>)>);

impl Params {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

async fn sendsms_get(State(k): State<Arc<Kannel>>, RawQuery(q): RawQuery) -> Response {
    let p = Params(raw_pairs(q.as_deref().unwrap_or("").as_bytes()));
    sendsms(&k, p).await
}

/// A POST carries the parameters as a form, or (smsbox's other way) as `X-Kannel-*` headers
/// with the text as the body.
async fn sendsms_post(
    State(k): State<Arc<Kannel>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut pairs = raw_pairs(q.as_deref().unwrap_or("").as_bytes());
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        pairs.extend(raw_pairs(&body));
    } else {
        for (name, value) in &headers {
            if let Some(p) = name.as_str().strip_prefix("x-kannel-") {
                pairs.push((p.to_owned(), value.as_bytes().to_vec()));
            }
        }
        if !body.is_empty() {
            pairs.push(("text".into(), body.to_vec()));
        }
    }
    sendsms(&k, Params(pairs)).await
}

/// The text in the request's `charset` (UTF-8 when none; Latin-1 and Windows-1252 as such;
/// `coding=2` with `UTF-16BE` / `UCS-2`).
fn decode_text(raw: &[u8], charset: Option<&str>) -> Result<String, String> {
    let cs = charset.unwrap_or("UTF-8").to_ascii_uppercase();
    match cs.as_str() {
        "UTF-8" | "UTF8" => {
            String::from_utf8(raw.to_vec()).map_err(|_| "text is not valid UTF-8".to_owned())
        }
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" | "WINDOWS-1252" | "CP1252" => {
            Ok(raw.iter().map(|b| *b as char).collect())
        }
        "UTF-16BE" | "UCS-2" | "UCS2" | "UTF-16" => {
            if !raw.len().is_multiple_of(2) {
                return Err("UTF-16 text has an odd number of octets".into());
            }
            let units: Vec<u16> = raw
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| "text is not valid UTF-16".into())
        }
        other => Err(format!("charset {other} is not supported")),
    }
}

async fn sendsms(k: &Kannel, p: Params) -> Response {
    let (user, pass) = (p.text("username"), p.text("password"));
    let Some(u) = k.users.iter().find(|u| {
        user.as_deref() == Some(u.username.as_str())
            && pass.as_deref().is_some_and(|pw| {
                subtle::ConstantTimeEq::ct_eq(pw.as_bytes(), u.password.as_bytes()).into()
            })
    }) else {
        tracing::info!(user = ?user, "kannel sendsms: authorization failed");
        return answer(StatusCode::FORBIDDEN, "Authorization failed for sendsms");
    };
    let Some(to) = p.text("to") else {
        return answer(StatusCode::BAD_REQUEST, "Missing receiver number, rejected");
    };
    // `+49…`, `0049…` or `49…`: an unescaped `+` arrives as a space, which separates
    // receivers, so the digits alone are common.
    let receivers: Vec<String> = to
        .split_whitespace()
        .map(smsgate_core::number::assume_international)
        .collect();
    if receivers.is_empty() {
        return answer(
            StatusCode::BAD_REQUEST,
            "Empty receiver number not allowed, rejected",
        );
    }
    let mclass = match p.text("mclass").as_deref() {
        None | Some("") => None,
        Some(m) => match m.parse::<u8>() {
            Ok(c @ 0..=3) => Some(c),
            _ => return answer(StatusCode::BAD_REQUEST, "Invalid mclass value, rejected"),
        },
    };
    // With a `udh` (its length octet first, as Kannel takes it) or `coding=1`, the text is
    // 8-bit data: its octets as given, the header's elements, class per `mclass`.
    let udh = p.get("udh").filter(|u| !u.is_empty()).map(<[u8]>::to_vec);
    let coding = p.text("coding");
    let binary = if udh.is_some() || coding.as_deref() == Some("1") {
        let elements = match udh {
            Some(u) if usize::from(u[0]) + 1 == u.len() => u[1..].to_vec(),
            Some(_) => return answer(StatusCode::BAD_REQUEST, "Invalid UDH, rejected"),
            None => Vec::new(),
        };
        match coding.as_deref() {
            None | Some("") | Some("1") => {}
            Some(_) => {
                return answer(
                    StatusCode::BAD_REQUEST,
                    "udh is carried with 8-bit data only (coding=1), rejected",
                );
            }
        }
        Some(smsgate_core::message::Binary {
            data_coding: mclass.map_or(0x04, |c| 0xF4 | c),
            udh: elements,
        })
    } else {
        None
    };
    let text = match &binary {
        Some(_) => hex::encode(p.get("text").unwrap_or_default()),
        None => match decode_text(
            p.get("text").unwrap_or_default(),
            p.text("charset").as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => return answer(StatusCode::BAD_REQUEST, &format!("{e}, rejected")),
        },
    };
    // As smsbox: a sender is needed, from the request or the user's default.
    let Some(from) = p
        .text("from")
        .filter(|f| !f.is_empty())
        .or_else(|| u.default_sender.clone())
    else {
        return answer(
            StatusCode::BAD_REQUEST,
            "Sender missing and no global set, rejected",
        );
    };
    let from = Some(from);
    let encoding = match p.text("coding").as_deref() {
        None | Some("") | Some("0") | Some("1") => None,
        Some("2") => Some("ucs2".to_owned()),
        Some(_) => return answer(StatusCode::BAD_REQUEST, "Invalid coding, rejected"),
    };
    let minutes = |name: &str| -> Result<Option<u64>, String> {
        match p.text(name) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("Invalid {name} value, rejected")),
        }
    };
    let validity = match minutes("validity") {
        Ok(v) => v.map(|m| format!("{m}m")),
        Err(e) => return answer(StatusCode::BAD_REQUEST, &e),
    };
    let now = k.state.clock.now_ms();
    let send_at = match minutes("deferred") {
        Ok(v) => v.map(|m| now + (m as i64) * 60_000),
        Err(e) => return answer(StatusCode::BAD_REQUEST, &e),
    };
    let priority = match p.text("priority").as_deref() {
        None | Some("") | Some("0") => Priority::Normal,
        Some("1" | "2" | "3") => Priority::High,
        Some(_) => return answer(StatusCode::BAD_REQUEST, "Invalid priority value, rejected"),
    };
    let mask = match p.text("dlr-mask").as_deref() {
        None | Some("") => 0,
        Some(m) => match m.parse::<u8>() {
            Ok(m) => m,
            Err(_) => return answer(StatusCode::BAD_REQUEST, "Invalid dlr-mask, rejected"),
        },
    };
    let dlr_url = p.text("dlr-url").filter(|u| !u.is_empty());
    let (callback_url, callback_statuses) = match (&dlr_url, mask) {
        (Some(url), m) if m != 0 => (
            Some(format!("{}{url}", smsgate_core::kannel::CALLBACK_PREFIX)),
            smsgate_core::kannel::mask_statuses(m)
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        ),
        _ => (None, Vec::new()),
    };
    let reqs: Vec<_> = receivers
        .iter()
        .map(|to| {
            Ok(SendRequest {
                to: to.clone(),
                text: text.clone(),
                binary: binary.clone(),
                from: from.clone(),
                encoding: encoding.clone(),
                callback_url: callback_url.clone(),
                callback_statuses: callback_statuses.clone(),
                validity: validity.clone(),
                send_at,
                priority,
                api_key_id: Some(format!("kannel:{}", u.username)),
                tenant: Some(u.tenant.clone()),
                ..SendRequest::default()
            })
        })
        .collect();
    match k.state.intake.send_many(reqs).await {
        Ok(results) => {
            if let Some(Err(r)) = results.iter().find(|r| r.is_err()) {
                // Kannel refuses the whole request for a bad receiver; the valid ones here
                // are already queued, so the answer names what was refused.
                tracing::info!(user = %u.username, code = r.code, "kannel sendsms: refused");
                let accepted = results.iter().filter(|r| r.is_ok()).count();
                return answer(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "{}, rejected ({accepted} of {} receivers accepted)",
                        r.message,
                        results.len()
                    ),
                );
            }
            k.state.tenants.accepted(&u.tenant, results.len() as u64);
            answer(StatusCode::ACCEPTED, "0: Accepted for delivery")
        }
        Err(IntakeError::QueueFull(_)) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "Message queue full, try again later",
        ),
        Err(IntakeError::Store(e)) => {
            tracing::error!(error = %e, "kannel sendsms: store error");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sending failed: store unavailable, try again later",
            )
        }
        Err(IntakeError::Rejected(r)) => {
            answer(StatusCode::BAD_REQUEST, &format!("{}, rejected", r.message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_to_octets_and_receivers_to_e164() {
        let p = raw_pairs(b"to=%2B4915112345678+004915112345679&text=K%FChl&x");
        assert_eq!(p[0].1, b"+4915112345678 004915112345679");
        assert_eq!(decode_text(&p[1].1, Some("ISO-8859-1")).unwrap(), "Kühl");
        assert!(decode_text(&p[1].1, None).is_err(), "not UTF-8");
        assert_eq!(p[2], ("x".to_owned(), Vec::new()));
        let to = String::from_utf8(p[0].1.clone()).unwrap();
        let r: Vec<String> = to
            .split_whitespace()
            .map(smsgate_core::number::assume_international)
            .collect();
        assert_eq!(r, ["+4915112345678", "+4915112345679"]);
        assert_eq!(unescape(b"100%"), b"100%");
        assert_eq!(
            decode_text(&[0x00, 0x41, 0x04, 0x10], Some("UTF-16BE")).unwrap(),
            "AА"
        );
    }
}
