//! Telemetry parsing: the text of a device's SMS into named readings.
//!
//! Three formats (see [`Format`]):
//! - `key=value` pairs separated by `;`, `,` or whitespace: `T=85.2C;P=1.5bar, door=open`;
//! - a JSON object: `{"temp": 85.2, "pump": {"on": true}}` (nested keys joined with `_`);
//! - a regular expression with named captures: `TEMP (?P<temp>\S+) PRESS (?P<pressure>\S+)`.
//!
//! Every value goes through [`parse_value`]: a number with an optional unit (`85.2C`, `-3`,
//! `1.5 bar` is two tokens, `1.5bar` one), `true`/`false`, or text.

use std::collections::BTreeMap;

use regex::Regex;

use crate::model::{Format, Reading};

/// Readings by name, sorted so texts and summaries are stable.
pub type Readings = BTreeMap<String, Reading>;

/// Why a text gave no readings, in words for the telemetry history.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing to read.
    #[error("the message is empty")]
    Empty,
    /// More readings than [`MAX_READINGS`] in one message.
    #[error("{0} readings in one message; at most 64 are read")]
    TooMany(usize),
    /// A `kv` device sent something that is not `key=value`.
    #[error("'{0}' is not key=value")]
    NotKeyValue(String),
    /// No `key=value` pair at all (format `auto`).
    #[error("no key=value pair found")]
    NoPairs,
    /// A `json` device sent something that is not a JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// The device's pattern did not match.
    #[error("the text does not match the device's pattern")]
    NoMatch,
    /// `format = "regex"` without a pattern.
    #[error("format regex needs a pattern")]
    NoPattern,
}

/// Parses `text` in `format`; `pattern` is used for [`Format::Regex`].
pub fn parse(text: &str, format: Format, pattern: Option<&Regex>) -> Result<Readings, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let readings = match format {
        Format::Auto if text.starts_with('{') => parse_json(text),
        Format::Auto => parse_kv(text, false),
        Format::Kv => parse_kv(text, true),
        Format::Json => parse_json(text),
        Format::Regex => match pattern {
            Some(re) => parse_regex(text, re),
            None => Err(ParseError::NoPattern),
        },
    }?;
    if readings.len() > MAX_READINGS {
        return Err(ParseError::TooMany(readings.len()));
    }
    Ok(readings)
}

/// Readings one message may carry: every reading is kept per device and shown to every rule
/// and template, so a long (or hostile) message must not grow them without bound.
pub const MAX_READINGS: usize = 64;

/// Whether `key` can name a reading: a letter or `_` first, then letters, digits, `_`, `-`, `.`.
pub fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && key.len() <= 64
}

fn parse_kv(text: &str, strict: bool) -> Result<Readings, ParseError> {
    // `T = 85` is one pair: glue whitespace around '=' first.
    let mut glued = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            let mut ws = String::from(c);
            while let Some(&n) = chars.peek() {
                if !n.is_whitespace() {
                    break;
                }
                ws.push(n);
                chars.next();
            }
            if chars.peek() != Some(&'=') && !glued.ends_with('=') {
                glued.push_str(&ws);
            }
        } else {
            glued.push(c);
        }
    }
    let mut out = Readings::new();
    for token in glued
        .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        match token.split_once('=') {
            Some((k, v)) if is_key(k) && !v.is_empty() => {
                out.insert(k.to_owned(), parse_value(v));
            }
            _ if strict => return Err(ParseError::NotKeyValue(token.to_owned())),
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(ParseError::NoPairs);
    }
    Ok(out)
}

fn parse_json(text: &str) -> Result<Readings, ParseError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let serde_json::Value::Object(map) = v else {
        return Err(ParseError::NotJson("the top level is not an object".into()));
    };
    let mut out = Readings::new();
    flatten("", map, &mut out, 0);
    if out.is_empty() {
        return Err(ParseError::NotJson("the object has no usable key".into()));
    }
    Ok(out)
}

fn flatten(
    prefix: &str,
    map: serde_json::Map<String, serde_json::Value>,
    out: &mut Readings,
    depth: usize,
) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}_{k}")
        };
        if !is_key(&key) {
            continue;
        }
        match v {
            serde_json::Value::Object(inner) if depth < 4 => flatten(&key, inner, out, depth + 1),
            serde_json::Value::String(s) => {
                out.insert(key, parse_value(&s));
            }
            other => {
                out.insert(
                    key,
                    Reading {
                        value: other,
                        unit: None,
                    },
                );
            }
        }
    }
}

fn parse_regex(text: &str, re: &Regex) -> Result<Readings, ParseError> {
    let caps = re.captures(text).ok_or(ParseError::NoMatch)?;
    let mut out = Readings::new();
    for name in re.capture_names().flatten() {
        if let Some(m) = caps.name(name)
            && is_key(name)
        {
            out.insert(name.to_owned(), parse_value(m.as_str()));
        }
    }
    if out.is_empty() {
        return Err(ParseError::NoMatch);
    }
    Ok(out)
}

/// Reads one value: a number with an optional unit, a boolean, or text.
pub fn parse_value(raw: &str) -> Reading {
    let raw = raw.trim();
    let split = number_prefix_len(raw);
    if split > 0 {
        let (num, unit) = raw.split_at(split);
        let unit = unit.trim();
        let unit_ok = unit.is_empty()
            || unit
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, '%' | '°' | '/' | '²' | '³'));
        if unit_ok && let Some(value) = number_value(num) {
            return Reading {
                value,
                unit: (!unit.is_empty()).then(|| unit.to_owned()),
            };
        }
    }
    let value = match raw.to_ascii_lowercase().as_str() {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::String(raw.to_owned()),
    };
    Reading { value, unit: None }
}

/// Length of the leading `[+-]digits[.digits][e[+-]digits]` of `s` (0 when none).
fn number_prefix_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > frac_start {
            digits += j - frac_start;
            i = j;
        }
    }
    if digits == 0 {
        return 0;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

fn number_value(num: &str) -> Option<serde_json::Value> {
    if !num.contains(['.', 'e', 'E'])
        && let Ok(i) = num.parse::<i64>()
    {
        return Some(serde_json::Value::from(i));
    }
    let f: f64 = num.parse().ok()?;
    serde_json::Number::from_f64(f).map(serde_json::Value::Number)
}

/// `T=85.2C P=1.5bar` — the readings in one short line for SMS and logs.
pub fn summary(readings: &Readings) -> String {
    readings
        .iter()
        .map(|(k, r)| {
            let v = match &r.value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}={v}{}", r.unit.as_deref().unwrap_or(""))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(r: &Readings, k: &str) -> (serde_json::Value, Option<String>) {
        let x = &r[k];
        (x.value.clone(), x.unit.clone())
    }

    #[test]
    fn key_value_pairs_with_every_separator_and_units() {
        let r = parse("T=85.2C;P=1.5bar, door=open  rpm=1200", Format::Auto, None).unwrap();
        assert_eq!(num(&r, "T"), (json!(85.2), Some("C".into())));
        assert_eq!(num(&r, "P"), (json!(1.5), Some("bar".into())));
        assert_eq!(num(&r, "door"), (json!("open"), None));
        assert_eq!(num(&r, "rpm"), (json!(1200), None));
        let r = parse("T = -3.5 hum=40%", Format::Kv, None).unwrap();
        assert_eq!(num(&r, "T"), (json!(-3.5), None));
        assert_eq!(num(&r, "hum"), (json!(40), Some("%".into())));
        assert_eq!(summary(&r), "T=-3.5 hum=40%");
    }

    #[test]
    fn auto_skips_words_but_kv_refuses_them() {
        let r = parse("ALARM T=85", Format::Auto, None).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            parse("ALARM T=85", Format::Kv, None),
            Err(ParseError::NotKeyValue("ALARM".into()))
        );
        assert_eq!(
            parse("hello there", Format::Auto, None),
            Err(ParseError::NoPairs)
        );
        assert_eq!(parse("  ", Format::Auto, None), Err(ParseError::Empty));
    }

    #[test]
    fn json_objects_are_flattened_and_strings_read_as_values() {
        let r = parse(
            r#"{"temp": 85.5, "pump": {"on": true}, "p": "2.5bar", "bad key": 1}"#,
            Format::Auto,
            None,
        )
        .unwrap();
        assert_eq!(num(&r, "temp"), (json!(85.5), None));
        assert_eq!(num(&r, "pump_on"), (json!(true), None));
        assert_eq!(num(&r, "p"), (json!(2.5), Some("bar".into())));
        assert!(!r.contains_key("bad key"));
        assert!(matches!(
            parse("[1,2]", Format::Json, None),
            Err(ParseError::NotJson(_))
        ));
        assert!(matches!(
            parse("T=1", Format::Json, None),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn regex_named_captures_become_readings() {
        let re = Regex::new(r"TEMP (?P<temp>\S+) PRESS (?P<pressure>\S+)").unwrap();
        let r = parse(
            "STATION 4 TEMP 21.5C PRESS 1013hPa",
            Format::Regex,
            Some(&re),
        )
        .unwrap();
        assert_eq!(num(&r, "temp"), (json!(21.5), Some("C".into())));
        assert_eq!(num(&r, "pressure"), (json!(1013), Some("hPa".into())));
        assert_eq!(
            parse("nothing", Format::Regex, Some(&re)),
            Err(ParseError::NoMatch)
        );
        assert_eq!(parse("x", Format::Regex, None), Err(ParseError::NoPattern));
    }

    #[test]
    fn values_are_numbers_only_when_the_rest_is_a_unit() {
        assert_eq!(parse_value("1e3").value, json!(1000.0));
        assert_eq!(parse_value("12ab3").value, json!("12ab3"));
        assert_eq!(parse_value("85°C").unit.as_deref(), Some("°C"));
        assert_eq!(parse_value("-").value, json!("-"));
        assert_eq!(parse_value(".5").value, json!(0.5));
        assert_eq!(parse_value("TRUE").value, json!(true));
        assert_eq!(parse_value("99999999999999999999").value, json!(1e20));
    }
}
