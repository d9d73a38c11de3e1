//! Rule conditions in CEL (Common Expression Language, via `cel-interpreter`).
//!
//! A condition sees every reading whose name is an identifier as a variable (`temp > 80 &&
//! pressure < 2`), all readings as the map `readings` (`has(readings.door)`,
//! `readings["flow-rate"] > 3`), the device as `device` (`device.group == "north"`,
//! `"outdoor" in device.tags`, `device.metadata.limit`), and `now` (Unix ms).
//!
//! A condition that refers to a reading the device has not sent, or that does not give a
//! boolean, is *undecided*: it neither raises nor clears an alert.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map};
use cel_interpreter::{Context, Program, Value};

use crate::error::IotError;
use crate::model::Device;
use crate::telemetry::Readings;

/// Longest condition source.
pub const MAX_CONDITION: usize = 1024;

/// Deepest nesting of `(`, `[` and `{` (and of unary `!`/`-` runs) a condition may have.
pub const MAX_NESTING: usize = 32;

/// The deepest bracket nesting in `source` (brackets inside string literals count too: a
/// condition that needs 32 levels is not a condition a person writes).
fn nesting(source: &str) -> usize {
    let (mut depth, mut max, mut run) = (0usize, 0usize, 0usize);
    for c in source.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        run = if c == '!' || c == '-' {
            run + 1
        } else if c.is_whitespace() {
            run
        } else {
            0
        };
        max = max.max(run);
    }
    max
}

/// A compiled condition.
pub struct Condition {
    source: String,
    program: Program,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl Condition {
    /// Compiles `source`; `field` names the rule field in the error (`condition`, `clear`).
    pub fn compile(field: &str, source: &str) -> Result<Self, IotError> {
        let invalid = |why: String| {
            IotError::invalid(
                "invalid_condition",
                format!("{field} '{source}' is not a valid CEL expression: {why}"),
            )
        };
        if source.trim().is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if source.len() > MAX_CONDITION {
            return Err(invalid(format!("longer than {MAX_CONDITION} characters")));
        }
        // The parser recurses per nesting level; a stack overflow is not a panic that
        // `catch_unwind` could stop, so deep nesting is refused before parsing.
        if nesting(source) > MAX_NESTING {
            return Err(invalid(format!("nested deeper than {MAX_NESTING} levels")));
        }
        // The parser is third-party code fed by API users: a panic in it must not take the
        // gateway down.
        let program = catch_unwind(|| Program::compile(source))
            .map_err(|_| invalid("the parser gave up".into()))?
            .map_err(|e| invalid(e.to_string().lines().next().unwrap_or("").to_owned()))?;
        Ok(Self {
            source: source.to_owned(),
            program,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates over a device's readings: `Some(bool)`, or `None` when undecided.
    pub fn eval(&self, device: &Device, readings: &Readings, now: i64) -> Option<bool> {
        let mut ctx = Context::default();
        let mut map: HashMap<Key, Value> = HashMap::with_capacity(readings.len());
        for (k, r) in readings {
            let v = json_to_cel(&r.value);
            if is_identifier(k) {
                ctx.add_variable_from_value(k.clone(), v.clone());
            }
            map.insert(Key::String(Arc::new(k.clone())), v);
        }
        ctx.add_variable_from_value("readings", Value::Map(Map { map: Arc::new(map) }));
        ctx.add_variable_from_value("device", device_value(device));
        ctx.add_variable_from_value("now", Value::Int(now));
        match catch_unwind(AssertUnwindSafe(|| self.program.execute(&ctx))) {
            Ok(Ok(Value::Bool(b))) => Some(b),
            _ => None,
        }
    }
}

fn is_identifier(k: &str) -> bool {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
        "readings",
        "device",
        "now",
    ];
    let mut c = k.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && !RESERVED.contains(&k)
}

fn device_value(d: &Device) -> Value {
    let mut m: HashMap<Key, Value> = HashMap::new();
    let s = |v: &str| Value::String(Arc::new(v.to_owned()));
    m.insert(Key::from("id"), s(&d.id));
    m.insert(Key::from("name"), s(&d.name));
    m.insert(Key::from("number"), s(&d.number));
    m.insert(
        Key::from("group"),
        d.group.as_deref().map(s).unwrap_or(Value::Null),
    );
    m.insert(
        Key::from("tags"),
        Value::List(Arc::new(d.tags.iter().map(|t| s(t)).collect())),
    );
    m.insert(
        Key::from("metadata"),
        json_to_cel(&serde_json::Value::Object(d.metadata.clone())),
    );
    Value::Map(Map { map: Arc::new(m) })
}

/// A JSON value as CEL sees it: integers stay `int`, other numbers are `double`.
pub fn json_to_cel(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        serde_json::Value::Object(o) => {
            let map: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::parse;

    #[test]
    fn deep_or_long_conditions_are_refused_before_the_parser_sees_them() {
        let deep = format!("{}temp > 1{}", "(".repeat(2000), ")".repeat(2000));
        let e = Condition::compile("condition", &deep[..MAX_CONDITION.min(deep.len())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested deeper"), "{e}");
        let negations = format!("{}true", "!".repeat(500));
        assert!(Condition::compile("condition", &negations).is_err());
        let long = format!("temp > 1{}", " && temp > 1".repeat(200));
        assert!(
            Condition::compile("condition", &long)
                .unwrap_err()
                .to_string()
                .contains("longer")
        );
        assert!(Condition::compile("condition", "((temp > 80) && (pressure < 2))").is_ok());
    }

    fn device() -> Device {
        serde_json::from_value(serde_json::json!({
            "id": "pump-3", "name": "Pump 3", "number": "+4915100000003",
            "group": "north", "tags": ["outdoor"], "metadata": {"limit": 90}
        }))
        .unwrap()
    }

    fn eval(src: &str, text: &str) -> Option<bool> {
        let r = parse(text, crate::model::Format::Auto, None).unwrap();
        Condition::compile("condition", src)
            .unwrap()
            .eval(&device(), &r, 0)
    }

    #[test]
    fn conditions_see_readings_as_variables_and_as_a_map() {
        assert_eq!(
            eval("temp > 80 && pressure < 2", "temp=85.2 pressure=1.5"),
            Some(true)
        );
        assert_eq!(
            eval("temp > 80 && pressure < 2", "temp=85 pressure=2.5"),
            Some(false)
        );
        assert_eq!(eval("T > 80.5", "T=85"), Some(true));
        assert_eq!(eval("has(readings.door)", "T=1 door=open"), Some(true));
        assert_eq!(eval("readings['flow-rate'] > 3", "flow-rate=4"), Some(true));
        assert_eq!(eval("door == 'open'", "door=open"), Some(true));
    }

    #[test]
    fn conditions_see_the_device() {
        assert_eq!(eval("device.group == 'north'", "T=1"), Some(true));
        assert_eq!(eval("'outdoor' in device.tags", "T=1"), Some(true));
        assert_eq!(eval("T > device.metadata.limit", "T=95"), Some(true));
    }

    #[test]
    fn missing_readings_and_non_booleans_are_undecided() {
        assert_eq!(eval("temp > 80", "T=85"), None);
        assert_eq!(eval("T + 1", "T=85"), None);
        assert_eq!(eval("door > 3", "door=open"), None);
    }

    #[test]
    fn bad_expressions_are_refused_with_a_code() {
        for src in ["T > > 80", "", "(((", "T >", "'unterminated"] {
            match Condition::compile("condition", src) {
                Err(IotError::Invalid { code, message }) => {
                    assert_eq!(code, "invalid_condition");
                    assert!(message.contains("condition"), "{message}");
                }
                other => panic!("{src}: {other:?}"),
            }
        }
    }
}
