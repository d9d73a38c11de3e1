//! Alert SMS texts from minijinja templates: `{{device.name}}: temperature {{temp}} C`.
//!
//! A template sees each reading's value by name (`{{temp}}`), `readings` (value and unit),
//! `summary` (`T=85C P=1.5bar`), `device`, `rule` (`id`, `name`), `alert` (`id`, `severity`,
//! `level`) and `severity`. A name the context lacks renders as nothing.

use minijinja::Environment;
use serde_json::{Value, json};

use crate::error::IotError;
use crate::model::{Alert, Device, Rule};
use crate::telemetry::{Readings, summary};

/// The alert text when a rule names no template.
pub const DEFAULT_ALERT: &str =
    "{{severity|upper}} {{rule.name}}: {{device.name}} {{summary}}. Reply ACK {{alert.id}}";

/// The resolution text when a rule names no `resolved_template`.
pub const DEFAULT_RESOLVED: &str =
    "RESOLVED {{rule.name}}: {{device.name}} {{summary}} (alert {{alert.id}})";

/// The silent-device alert text when a silence rule names no template.
pub const DEFAULT_SILENCE: &str = "{{severity|upper}} {{rule.name}}: {{device.name}} silent since {{last_seen}}. Reply ACK {{alert.id}}";

/// Longest template source: an SMS text needs no more.
pub const MAX_TEMPLATE: usize = 1024;

/// Work one rendering may do (minijinja fuel: about one unit per instruction): plenty for a
/// text, nothing like enough for `{% for i in range(100000) %}` on the one IoT task.
const FUEL: u64 = 20_000;

/// Longest rendered text kept (the intake refuses longer SMS anyway).
const MAX_OUTPUT: usize = 2000;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(16);
    env
}

/// Checks that `source` compiles; `field` names the rule field in the error.
pub fn check(field: &str, source: &str) -> Result<(), IotError> {
    if source.len() > MAX_TEMPLATE {
        return Err(IotError::invalid(
            "invalid_template",
            format!("{field} is longer than {MAX_TEMPLATE} characters"),
        ));
    }
    let env = env();
    env.template_from_str(source).map(|_| ()).map_err(|e| {
        IotError::invalid(
            "invalid_template",
            format!("{field} is not a valid template: {e}"),
        )
    })
}

/// The values a template sees.
pub fn context(
    device: &Device,
    rule: &Rule,
    alert: &Alert,
    readings: &Readings,
    last_seen: &str,
) -> Value {
    let mut ctx = serde_json::Map::new();
    for (k, r) in readings {
        ctx.insert(k.clone(), r.value.clone());
    }
    ctx.insert("readings".into(), json!(readings));
    ctx.insert("summary".into(), json!(summary(readings)));
    ctx.insert(
        "device".into(),
        json!({"id": device.id, "name": device.name, "number": device.number,
               "group": device.group, "tags": device.tags, "metadata": device.metadata}),
    );
    ctx.insert("rule".into(), json!({"id": rule.id, "name": rule.name}));
    ctx.insert(
        "alert".into(),
        json!({"id": alert.id, "severity": alert.severity.as_str(), "level": alert.level + 1,
               "state": alert.state.as_str()}),
    );
    ctx.insert("severity".into(), json!(alert.severity.as_str()));
    ctx.insert("last_seen".into(), json!(last_seen));
    Value::Object(ctx)
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_OUTPUT) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// Renders `source` over `ctx`; a template that fails at run time falls back to `fallback`.
pub fn render(source: &str, fallback: &str, ctx: &Value) -> String {
    let env = env();
    let ctx = minijinja::Value::from(minijinja::value::Serde(ctx));
    match env.render_str(source, &ctx) {
        Ok(s) => cut(s.trim()),
        Err(e) => {
            tracing::warn!(error = %e, "alert template failed; using the default text");
            env.render_str(fallback, &ctx)
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| fallback.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertState, RuleKind, Severity};

    fn fixtures() -> (Device, Rule, Alert) {
        let d: Device = serde_json::from_value(json!({
            "id": "pump-3", "name": "Pump 3", "number": "+4915100000003"}))
        .unwrap();
        let r: Rule = serde_json::from_value(json!({"id": "hot", "name": "Overheat",
            "condition": "temp > 80"}))
        .unwrap();
        let a = Alert {
            id: 42,
            rule_id: "hot".into(),
            device_id: "pump-3".into(),
            kind: RuleKind::Condition,
            severity: Severity::Critical,
            state: AlertState::Open,
            level: 0,
            text: String::new(),
            readings: Default::default(),
            raised_at: 0,
            acked_at: None,
            acked_by: None,
            resolved_at: None,
            next_escalation_at: None,
            notified: vec![],
            skipped: vec![],
            owner: None,
        };
        (d, r, a)
    }

    #[test]
    fn the_issue_example_renders() {
        let (d, r, a) = fixtures();
        let readings = crate::telemetry::parse("temp=85.2C", Default::default(), None).unwrap();
        let ctx = context(&d, &r, &a, &readings, "");
        assert_eq!(
            render(
                "{{device.name}}: temperature {{temp}} C",
                DEFAULT_ALERT,
                &ctx
            ),
            "Pump 3: temperature 85.2 C"
        );
        assert_eq!(
            render(DEFAULT_ALERT, DEFAULT_ALERT, &ctx),
            "CRITICAL Overheat: Pump 3 temp=85.2C. Reply ACK 42"
        );
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel_and_the_default_text_is_sent() {
        let (d, r, a) = fixtures();
        let readings = crate::telemetry::parse("temp=85.2C", Default::default(), None).unwrap();
        let ctx = context(&d, &r, &a, &readings, "");
        let started = std::time::Instant::now();
        let text = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            DEFAULT_ALERT,
            &ctx,
        );
        assert_eq!(text, "CRITICAL Overheat: Pump 3 temp=85.2C. Reply ACK 42");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(check("template", &"x".repeat(MAX_TEMPLATE + 1)).is_err());
    }

    #[test]
    fn bad_templates_are_refused_and_missing_names_render_empty() {
        assert!(matches!(
            check("template", "{{ device.name"),
            Err(IotError::Invalid {
                code: "invalid_template",
                ..
            })
        ));
        let (d, r, a) = fixtures();
        let ctx = context(&d, &r, &a, &Default::default(), "");
        assert_eq!(render("x{{nothing}}y", DEFAULT_ALERT, &ctx), "xy");
    }
}
