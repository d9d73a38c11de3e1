//! The meanings of `+CME ERROR` (3GPP TS 27.007 §9.2) and `+CMS ERROR` (3GPP TS 27.005 §3.2.5)
//! codes, and how a send failure is classified from them.
//!
//! With `AT+CMEE=1` modems report numbers; with `AT+CMEE=2` (or by vendor whim) they report the
//! text. Both forms are kept: [`CmeError::code`] is `None` when only text came.

use std::fmt;

/// A `+CME ERROR: <err>` final result code (3GPP TS 27.007 §9.2): an equipment or network
/// failure of a general command (PIN, registration, storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmeError {
    /// The numeric `<err>` (3GPP TS 27.007 §9.2.1), when the modem gave a number.
    pub code: Option<u16>,
    /// What the modem sent after the colon, trimmed.
    pub text: String,
}

/// A `+CMS ERROR: <err>` final result code (3GPP TS 27.005 §3.2.5): a failure of an SMS
/// command, either a network cause (0..=127, 3GPP TS 24.011 §E.2), a TP-FCS value (128..=255,
/// 3GPP TS 23.040 §9.2.3.22) or a modem error (300..).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmsError {
    /// The numeric `<err>`, when the modem gave a number.
    pub code: Option<u16>,
    /// What the modem sent after the colon, trimmed.
    pub text: String,
}

impl CmeError {
    /// Parses the part after `+CME ERROR:`.
    pub fn parse(rest: &str) -> Self {
        let text = rest.trim().to_owned();
        Self {
            code: text.parse().ok(),
            text,
        }
    }

    /// 3GPP TS 27.007 §9.2 text for the code, or the modem's own text.
    pub fn meaning(&self) -> &str {
        self.code.and_then(cme_meaning).unwrap_or(&self.text)
    }

    /// `incorrect password` (16): a wrong PIN was given; trying again uses up SIM attempts.
    pub fn is_wrong_password(&self) -> bool {
        self.code == Some(16) || self.text.eq_ignore_ascii_case("incorrect password")
    }
}

impl CmsError {
    /// Parses the part after `+CMS ERROR:`.
    pub fn parse(rest: &str) -> Self {
        let text = rest.trim().to_owned();
        Self {
            code: text.parse().ok(),
            text,
        }
    }

    /// 3GPP TS 27.005 §3.2.5 / TS 24.011 §E.2 / TS 23.040 §9.2.3.22 text for the code, or the
    /// modem's own text.
    pub fn meaning(&self) -> &str {
        self.code.and_then(cms_meaning).unwrap_or(&self.text)
    }

    /// What a sender should do about this error (see [`SendClass`]).
    pub fn class(&self) -> SendClass {
        match self.code {
            // Network causes: the number or the subscription is the problem (TS 24.011 §E.2).
            Some(1 | 8 | 10 | 21 | 29 | 30 | 50 | 69 | 96 | 97 | 98 | 99) => SendClass::Permanent,
            // TP-FCS: invalid SME address, barred, duplicate, unsupported TP-VP(F), bad TP-DCS/PID.
            Some(0x80..=0x8F | 0x90..=0x9F | 0xC3 | 0xC4 | 0xC5 | 0xC6 | 0xC7) => {
                SendClass::Permanent
            }
            // Modem: invalid PDU / text parameter.
            Some(304 | 305) => SendClass::Permanent,
            // This modem cannot send now, another may: SIM problems, no network, no SMSC.
            Some(310..=318 | 330 | 331) => SendClass::Unavailable,
            _ => SendClass::Temporary,
        }
    }
}

impl fmt::Display for CmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(c) => write!(f, "+CME ERROR {c} ({})", self.meaning()),
            None => write!(f, "+CME ERROR ({})", self.text),
        }
    }
}

impl fmt::Display for CmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(c) => write!(f, "+CMS ERROR {c} ({})", self.meaning()),
            None => write!(f, "+CMS ERROR ({})", self.text),
        }
    }
}

/// How a failed send should be handled by whoever queued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendClass {
    /// Retry later on this modem.
    Temporary,
    /// Retrying will not help (bad number, barred, invalid PDU).
    Permanent,
    /// This modem cannot send (no SIM, no network, no SMSC): another connector may.
    Unavailable,
    /// The PDU was written but its answer never came: the network may have it.
    Ambiguous,
}

/// 3GPP TS 27.007 §9.2.1 / §9.2.2 `+CME ERROR` texts.
fn cme_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        0 => "phone failure",
        1 => "no connection to phone",
        2 => "phone-adaptor link reserved",
        3 => "operation not allowed",
        4 => "operation not supported",
        5 => "PH-SIM PIN required",
        6 => "PH-FSIM PIN required",
        7 => "PH-FSIM PUK required",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        13 => "SIM failure",
        14 => "SIM busy",
        15 => "SIM wrong",
        16 => "incorrect password",
        17 => "SIM PIN2 required",
        18 => "SIM PUK2 required",
        20 => "memory full",
        21 => "invalid index",
        22 => "not found",
        23 => "memory failure",
        24 => "text string too long",
        25 => "invalid characters in text string",
        26 => "dial string too long",
        27 => "invalid characters in dial string",
        30 => "no network service",
        31 => "network timeout",
        32 => "network not allowed - emergency calls only",
        40 => "network personalisation PIN required",
        41 => "network personalisation PUK required",
        100 => "unknown",
        _ => return None,
    })
}

/// 3GPP TS 27.005 §3.2.5 `+CMS ERROR` texts, with the network causes of TS 24.011 §E.2 and the
/// TP-FCS values of TS 23.040 §9.2.3.22 that modems pass through.
fn cms_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        1 => "unassigned (unallocated) number",
        8 => "operator determined barring",
        10 => "call barred",
        21 => "short message transfer rejected",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        29 => "facility rejected",
        30 => "unknown subscriber",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "congestion",
        47 => "resources unavailable, unspecified",
        50 => "requested facility not subscribed",
        69 => "requested facility not implemented",
        81 => "invalid short message transfer reference value",
        95 => "invalid message, unspecified",
        96 => "invalid mandatory information",
        97 => "message type non-existent or not implemented",
        98 => "message not compatible with short message protocol state",
        99 => "information element non-existent or not implemented",
        111 => "protocol error, unspecified",
        127 => "interworking, unspecified",
        0x80 => "telematic interworking not supported",
        0x81 => "short message type 0 not supported",
        0x82 => "cannot replace short message",
        0x8F => "unspecified TP-PID error",
        0x90 => "data coding scheme (alphabet) not supported",
        0x91 => "message class not supported",
        0x9F => "unspecified TP-DCS error",
        0xA0 => "command cannot be actioned",
        0xA1 => "command unsupported",
        0xAF => "unspecified TP-Command error",
        0xB0 => "TPDU not supported",
        0xC0 => "SC busy",
        0xC1 => "no SC subscription",
        0xC2 => "SC system failure",
        0xC3 => "invalid SME address",
        0xC4 => "destination SME barred",
        0xC5 => "SM rejected - duplicate SM",
        0xC6 => "TP-VPF not supported",
        0xC7 => "TP-VP not supported",
        0xD0 => "SIM SMS storage full",
        0xD1 => "no SMS storage capability in SIM",
        0xD2 => "error in MS",
        0xD3 => "memory capacity exceeded",
        0xD4 => "SIM application toolkit busy",
        0xD5 => "SIM data download error",
        0xFF => "unspecified error cause",
        300 => "ME failure",
        301 => "SMS service of ME reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        312 => "PH-SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy",
        315 => "SIM wrong",
        316 => "SIM PUK required",
        317 => "SIM PIN2 required",
        318 => "SIM PUK2 required",
        320 => "memory failure",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        500 => "unknown error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_verbose_forms_both_parse() {
        let e = CmsError::parse(" 42");
        assert_eq!(e.code, Some(42));
        assert_eq!(e.meaning(), "congestion");
        assert_eq!(e.class(), SendClass::Temporary);
        let v = CmeError::parse("incorrect password");
        assert_eq!(v.code, None);
        assert!(v.is_wrong_password());
        assert!(CmeError::parse("16").is_wrong_password());
    }

    #[test]
    fn cms_classes_follow_the_cause() {
        assert_eq!(CmsError::parse("1").class(), SendClass::Permanent);
        assert_eq!(CmsError::parse("195").class(), SendClass::Permanent); // 0xC3
        assert_eq!(CmsError::parse("331").class(), SendClass::Unavailable);
        assert_eq!(CmsError::parse("500").class(), SendClass::Temporary);
        assert_eq!(CmsError::parse("x").class(), SendClass::Temporary);
    }
}
