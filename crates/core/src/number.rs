//! Phone numbers and sender ids, parsed once at the edge.
//!
//! The queue stores [`Msisdn`], never a free-form string: anything that reaches the dispatcher
//! is already a valid E.164 number (ITU-T E.164: `+`, country code, at most 15 digits).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a destination or sender was refused; surfaced to API clients as `invalid_number`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The text is not an international number (`+` and digits, or `00` and digits).
    #[error("'{0}' is not an international number: write it in E.164 form, e.g. +4915112345678")]
    NotInternational(String),
    /// The digits do not form a number of any known country (bad country code or length).
    #[error("'{0}' is not a valid phone number: {1}")]
    Invalid(String, String),
    /// A sender id that is neither a number nor 1–11 alphanumeric characters.
    #[error(
        "'{0}' is not a valid sender id: use a phone number or 1 to 11 letters, digits and spaces"
    )]
    InvalidSender(String),
}

/// A mobile subscriber number in E.164 form (`+4915112345678`).
///
/// Built only through [`Msisdn::parse`], so holding one proves the number has a known country
/// code and a plausible length.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

/// Whether a number pattern covers a number: `+4930123` that number, `+4930*` every number
/// starting so, `12345` a short code; the leading `+` is optional on both sides (networks
/// differ in how they give numbers). Tenant inbound routes and inbound rules use it.
pub fn pattern_matches(pattern: &str, number: &str) -> bool {
    let number = number.trim_start_matches('+');
    match pattern.strip_suffix('*') {
        Some(prefix) => number.starts_with(prefix.trim_start_matches('+')),
        None => number == pattern.trim_start_matches('+'),
    }
}

/// A number as people write it where a `+` is awkward (a mail address, a Kannel query
/// string where an unescaped `+` arrives as a space): `4915112345678` and `004915112345678`
/// mean `+4915112345678`. Anything else is returned as written, for [`Msisdn::parse`] to
/// refuse with its reason.
pub fn assume_international(n: &str) -> String {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match n.strip_prefix("00") {
        Some(rest) if digits(rest) => format!("+{rest}"),
        _ if digits(n) => format!("+{n}"),
        _ => n.to_owned(),
    }
}

impl Msisdn {
    /// Parses `+4915112345678`, `004915112345678` or with spaces, dashes, dots and parentheses
    /// (`+49 151 1234-5678`) into E.164.
    pub fn parse(input: &str) -> Result<Self, NumberError> {
        let trimmed = input.trim();
        let mut digits = String::with_capacity(trimmed.len());
        let rest = if let Some(r) = trimmed.strip_prefix('+') {
            r
        } else if let Some(r) = trimmed.strip_prefix("00") {
            r
        } else {
            return Err(NumberError::NotInternational(input.to_owned()));
        };
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(NumberError::NotInternational(input.to_owned())),
            }
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(NumberError::Invalid(
                input.to_owned(),
                format!(
                    "E.164 numbers have 7 to 15 digits, this one has {}",
                    digits.len()
                ),
            ));
        }
        let e164 = format!("+{digits}");
        let parsed = phonenumber::parse(None, &e164)
            .map_err(|e| NumberError::Invalid(input.to_owned(), e.to_string()))?;
        if parsed.national().value() == 0 {
            return Err(NumberError::Invalid(
                input.to_owned(),
                "no subscriber digits".into(),
            ));
        }
        Ok(Self(e164))
    }

    /// Loads the number metadata `phonenumber` reads lazily on its first parse (about a second
    /// in a debug build, tens of milliseconds in release) so that cost is paid at start-up,
    /// not by the first API request. Blocking: call it from a blocking thread.
    pub fn warm_up() {
        let _ = phonenumber::parse(None, "+4915112345678");
    }

    /// The number with its leading `+`, as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, as SMPP (TON international) and modems (type 0x91) carry them.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The ISO 3166 country of the number when it belongs to exactly one region (`"DE"`),
    /// for routing by country.
    pub fn country(&self) -> Option<String> {
        let parsed = phonenumber::parse(None, &self.0).ok()?;
        parsed.country().id().map(|id| format!("{id:?}"))
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({})", self.0)
    }
}

impl FromStr for Msisdn {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Msisdn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Msisdn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The originator shown on the handset: a number or an alphanumeric id (3GPP TS 23.040 §9.1.2.5
/// allows 11 GSM characters in an alphanumeric address).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum SenderId {
    /// An international number, sent with TON 1 / NPI 1.
    Number(Msisdn),
    /// A short code (3–8 digits), sent with TON 3 (network specific).
    ShortCode(String),
    /// Letters and digits, sent with TON 5 (alphanumeric).
    Alphanumeric(String),
}

impl SenderId {
    /// Parses a sender as a number when it starts with `+`/`00`, a short code when it is 3–8
    /// digits, otherwise as an alphanumeric id of 1–11 ASCII letters, digits, spaces or `-_.`.
    pub fn parse(input: &str) -> Result<Self, NumberError> {
        let s = input.trim();
        if s.starts_with('+') || s.starts_with("00") {
            return Msisdn::parse(s).map(Self::Number);
        }
        if (3..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Self::ShortCode(s.to_owned()));
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.');
        if (1..=11).contains(&s.chars().count())
            && s.chars().all(ok_char)
            && s.chars().any(|c| c.is_ascii_alphabetic())
        {
            return Ok(Self::Alphanumeric(s.to_owned()));
        }
        Err(NumberError::InvalidSender(input.to_owned()))
    }

    /// The sender as stored and shown (`+49…`, `12345`, `ACME`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Number(n) => n.as_str(),
            Self::ShortCode(s) | Self::Alphanumeric(s) => s,
        }
    }
}

impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn digits_without_a_plus_are_taken_as_international() {
        assert_eq!(assume_international("4915112345678"), "+4915112345678");
        assert_eq!(assume_international("004915112345678"), "+4915112345678");
        assert_eq!(assume_international("+4915112345678"), "+4915112345678");
        assert_eq!(assume_international("12ab"), "12ab");
    }

    use super::*;

    #[test]
    fn patterns_match_numbers_and_prefixes_with_or_without_plus() {
        assert!(pattern_matches("+4930123", "4930123"));
        assert!(pattern_matches("4930*", "+49301234"));
        assert!(!pattern_matches("+4930*", "+4940123"));
        assert!(!pattern_matches("+4930123", "+49301234"));
        assert!(pattern_matches("12345", "12345"));
    }

    #[test]
    fn international_numbers_in_common_spellings_parse_to_e164() {
        for s in [
            "+4915112345678",
            "004915112345678",
            "+49 151 1234-5678",
            " +49 (151) 12345678 ",
        ] {
            assert_eq!(Msisdn::parse(s).unwrap().as_str(), "+4915112345678", "{s}");
        }
        assert_eq!(
            Msisdn::parse("+14155552671").unwrap().country().as_deref(),
            Some("US")
        );
        assert_eq!(
            Msisdn::parse("+4915112345678").unwrap().digits(),
            "4915112345678"
        );
    }

    #[test]
    fn national_or_garbled_numbers_are_refused_with_a_reason() {
        assert!(matches!(
            Msisdn::parse("015112345678"),
            Err(NumberError::NotInternational(_))
        ));
        assert!(matches!(
            Msisdn::parse("+49abc"),
            Err(NumberError::NotInternational(_))
        ));
        assert!(matches!(
            Msisdn::parse("+12"),
            Err(NumberError::Invalid(..))
        ));
        assert!(matches!(
            Msisdn::parse("+1234567890123456"),
            Err(NumberError::Invalid(..))
        ));
        assert!(Msisdn::parse("").is_err());
    }

    #[test]
    fn senders_are_numbers_short_codes_or_short_alphanumerics() {
        assert!(matches!(
            SenderId::parse("+4915112345678"),
            Ok(SenderId::Number(_))
        ));
        assert!(matches!(
            SenderId::parse("12345"),
            Ok(SenderId::ShortCode(_))
        ));
        assert!(matches!(
            SenderId::parse("ACME Alerts"),
            Ok(SenderId::Alphanumeric(_))
        ));
        assert!(SenderId::parse("This Is Too Long").is_err());
        assert!(SenderId::parse("").is_err());
        assert!(SenderId::parse("ÄÖÜ").is_err());
    }
}
