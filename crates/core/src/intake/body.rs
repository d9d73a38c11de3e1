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
    /// The text; encoded as GSM 7-bit when every character fits, otherwise UCS-2. Leave it
    /// out for binary.
    #[serde(default)]
    pub text: String,
    /// Binary SMS instead of a text: the octets as hex or base64, sent byte for byte as
    /// 8-bit data (split with concatenation when long).
    #[serde(default)]
    pub binary: Option<String>,
    /// With `binary`: user data header elements as hex, without the length octet (e.g.
    /// `0504 0b84 23f0` for ports); the gateway adds concatenation itself.
    #[serde(default)]
    pub udh: Option<String>,
    /// With `binary`: application port addressing (16-bit ports, IEI 0x05), e.g. `{"dest":
    /// 2948, "source": 9200}` for WAP push.
    #[serde(default)]
    pub port: Option<Port>,
    /// With `binary`: the data coding octet, 8-bit codings only (`4`, `245` = 8-bit class 1,
    /// …). Default 4, or `0xF4 + message_class`.
    #[serde(default)]
    pub data_coding: Option<u8>,
    /// With `binary`: message class 0–3 (0 flash, 1 ME, 2 SIM, 3 TE).
    #[serde(default)]
    pub message_class: Option<u8>,
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

/// Application port addressing of a binary SMS (3GPP TS 23.040 §9.2.3.24.4).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Destination port.
    pub dest: u16,
    /// Source port (default: the destination port).
    #[serde(default)]
    pub source: Option<u16>,
}

/// The octets of `binary` as written: hex (spaces allowed) or base64.
fn octets(s: &str) -> Result<Vec<u8>, Rejection> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len().is_multiple_of(2)
        && !compact.is_empty()
        && compact.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(v) = hex::decode(&compact)
    {
        return Ok(v);
    }
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Rejection::new("invalid_binary", "binary is neither hex nor base64"))
}

/// The binary part of a send: payload as hex for `text`, and its [`Binary`].
fn binary_of(m: &SendMessage, data: &str) -> Result<(String, crate::message::Binary), Rejection> {
    if !m.text.is_empty() {
        return Err(Rejection::new(
            "invalid_binary",
            "give text or binary, not both",
        ));
    }
    let payload = octets(data)?;
    let mut udh = match m.udh.as_deref() {
        Some(h) => {
            let compact: String = h.chars().filter(|c| !c.is_whitespace()).collect();
            hex::decode(&compact)
                .map_err(|_| Rejection::new("invalid_udh", "udh is not hex octets"))?
        }
        None => Vec::new(),
    };
    if let Some(p) = m.port {
        let [d1, d0] = p.dest.to_be_bytes();
        let [s1, s0] = p.source.unwrap_or(p.dest).to_be_bytes();
        udh.extend_from_slice(&[0x05, 0x04, d1, d0, s1, s0]);
    }
    super::prepare::binary_elements(&udh)?;
    let data_coding = match (m.data_coding, m.message_class) {
        (Some(dc), _) => dc,
        (None, Some(c @ 0..=3)) => 0xF4 | c,
        (None, Some(c)) => {
            return Err(Rejection::new(
                "invalid_message_class",
                format!("message_class {c}: use 0 to 3"),
            ));
        }
        (None, None) => 0x04,
    };
    // 8-bit: general coding groups 00xx with alphabet 01, or the F group with bit 2 set.
    let eight_bit =
        (data_coding & 0xC0 == 0 && data_coding & 0x0C == 0x04) || data_coding & 0xF4 == 0xF4;
    if !eight_bit {
        return Err(Rejection::new(
            "invalid_data_coding",
            format!(
                "data_coding {data_coding} is not an 8-bit coding (e.g. 4, or 244-247 with a class)"
            ),
        ));
    }
    Ok((
        crate::message::Binary::hex(&payload),
        crate::message::Binary { data_coding, udh },
    ))
}

impl SendMessage {
    /// The request of `tenant_id` owned by `api_key_id`. The tenant's `sender_ids`, when it
    /// has any, are the only `from` values allowed (`sender_not_allowed`).
    pub fn into_request(
        mut self,
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
        let (text, binary) = match self.binary.as_deref() {
            Some(data) => {
                let (hex, b) = binary_of(&self, data)?;
                (hex, Some(b))
            }
            None if self.udh.is_some()
                || self.port.is_some()
                || self.data_coding.is_some()
                || self.message_class.is_some() =>
            {
                return Err(Rejection::new(
                    "invalid_binary",
                    "udh, port, data_coding and message_class go with binary",
                ));
            }
            None => (std::mem::take(&mut self.text), None),
        };
        let send_at = match self.send_at.as_deref() {
            Some(s) => Some(
                crate::clock::parse_rfc3339(s).map_err(|e| Rejection::new("invalid_send_at", e))?,
            ),
            None => None,
        };
        Ok(SendRequest {
            to: self.to,
            text,
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
            binary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(v: serde_json::Value) -> Result<SendRequest, Rejection> {
        serde_json::from_value::<SendMessage>(v)
            .unwrap()
            .into_request("k".into(), "t", None)
    }

    #[test]
    fn binary_is_hex_or_base64_with_its_header_and_coding() {
        let r = send(
            serde_json::json!({"to": "+4915112345678", "binary": "0102 ff",
            "port": {"dest": 2948}, "message_class": 0}),
        )
        .unwrap();
        assert_eq!(r.text, "0102ff");
        let b = r.binary.unwrap();
        assert_eq!(b.data_coding, 0xF4);
        assert_eq!(b.udh, vec![0x05, 0x04, 0x0B, 0x84, 0x0B, 0x84]);
        let r =
            send(serde_json::json!({"to": "+49151", "binary": "AQL/", "data_coding": 4})).unwrap();
        assert_eq!(r.text, "0102ff", "base64 too");
    }

    #[test]
    fn bad_binary_is_refused_with_its_reason() {
        let code = |v| send(v).unwrap_err().code;
        assert_eq!(
            code(serde_json::json!({"to": "+49151", "text": "x", "binary": "01"})),
            "invalid_binary"
        );
        assert_eq!(
            code(serde_json::json!({"to": "+49151", "binary": "%%"})),
            "invalid_binary"
        );
        assert_eq!(
            code(serde_json::json!({"to": "+49151", "binary": "01", "udh": "000300ff01"})),
            "invalid_udh",
            "concatenation is the gateway's"
        );
        assert_eq!(
            code(serde_json::json!({"to": "+49151", "binary": "01", "udh": "0504"})),
            "invalid_udh",
            "an element shorter than it says"
        );
        assert_eq!(
            code(serde_json::json!({"to": "+49151", "binary": "01", "data_coding": 8})),
            "invalid_data_coding"
        );
        assert_eq!(
            code(serde_json::json!({"to": "+49151", "text": "x", "port": {"dest": 1}})),
            "invalid_binary"
        );
    }
}
