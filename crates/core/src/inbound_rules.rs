//! Keyword routing of inbound SMS (`[[inbound_rules]]`): what Kannel calls an sms-service. A
//! rule matches by recipient number or prefix, first word, or regular expression, within a
//! tenant or for all; the first match wins and its actions run: an automatic reply to the
//! sender and/or a forward of the text to another number. Placeholders in both texts:
//! `{from}`, `{to}`, `{text}` (the whole message), `{rest}` (the text after the keyword).
//!
//! Rules run in the compliance loop, after STOP/START/HELP (a STOP is never routed), and the
//! messages they queue are committed with the loop's cursor: a crash neither loses nor
//! repeats an answer. Every inbound message still reaches webhooks and the IoT engine as
//! before.

use regex::Regex;
use serde::Deserialize;

use crate::message::InboundMessage;

/// One `[[inbound_rules]]` entry as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRuleConfig {
    /// Only inbound SMS of this tenant (default: any).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Only SMS to this number, or to numbers starting with it when it ends in `*`.
    #[serde(default)]
    pub to: Option<String>,
    /// Only SMS whose first word is this (case-insensitive).
    #[serde(default)]
    pub keyword: Option<String>,
    /// Only SMS whose text matches this regular expression.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Answer the sender with this text.
    #[serde(default)]
    pub reply: Option<String>,
    /// Forward to this number (E.164).
    #[serde(default)]
    pub forward: Option<String>,
    /// The forwarded text. Default `"From {from}: {text}"`.
    #[serde(default)]
    pub forward_text: Option<String>,
}

/// A checked rule.
#[derive(Clone, Debug)]
pub struct InboundRule {
    config: InboundRuleConfig,
    pattern: Option<Regex>,
}

/// What a matching rule asks for: `(to, text)` of each SMS to queue.
pub type Actions = Vec<(String, String)>;

fn fill(template: &str, m: &InboundMessage, rest: &str) -> String {
    template
        .replace("{from}", &m.from)
        .replace("{to}", &m.to)
        .replace("{rest}", rest)
        .replace("{text}", &m.text)
}

impl InboundRule {
    /// Checks a rule; the error names it by its position (`[[inbound_rules]] #2`).
    pub fn new(index: usize, config: InboundRuleConfig) -> Result<Self, String> {
        let at = format!("[[inbound_rules]] #{}", index + 1);
        if config.reply.is_none() && config.forward.is_none() {
            return Err(format!("{at} has no action: give it a reply or a forward"));
        }
        if config.to.is_none() && config.keyword.is_none() && config.pattern.is_none() {
            return Err(format!(
                "{at} matches every SMS: give it a to, keyword or pattern"
            ));
        }
        if let Some(f) = &config.forward {
            crate::number::Msisdn::parse(f).map_err(|e| format!("{at} forward '{f}': {e}"))?;
        }
        let pattern = config
            .pattern
            .as_deref()
            .map(|p| {
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("{at} pattern: {e}"))
            })
            .transpose()?;
        Ok(Self { config, pattern })
    }

    /// The SMS to queue when the rule matches `m`, or `None`.
    pub fn apply(&self, m: &InboundMessage) -> Option<Actions> {
        let c = &self.config;
        if c.tenant
            .as_ref()
            .is_some_and(|t| m.tenant.as_ref() != Some(t))
        {
            return None;
        }
        if c.to
            .as_ref()
            .is_some_and(|p| !crate::number::pattern_matches(p, &m.to))
        {
            return None;
        }
        let text = m.text.trim();
        let (first, rest) = text
            .split_once(char::is_whitespace)
            .map_or((text, ""), |(f, r)| (f, r.trim()));
        if c.keyword
            .as_ref()
            .is_some_and(|k| !first.eq_ignore_ascii_case(k.trim()))
        {
            return None;
        }
        if self.pattern.as_ref().is_some_and(|p| !p.is_match(text)) {
            return None;
        }
        let rest = if c.keyword.is_some() { rest } else { text };
        let mut out = Vec::new();
        if let Some(r) = &c.reply {
            out.push((m.from.clone(), fill(r, m, rest)));
        }
        if let Some(to) = &c.forward {
            let t = c.forward_text.as_deref().unwrap_or("From {from}: {text}");
            out.push((to.clone(), fill(t, m, rest)));
        }
        Some(out)
    }
}

/// Checks every rule of the config.
pub fn compile(rules: &[InboundRuleConfig]) -> Result<Vec<InboundRule>, String> {
    rules
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, r)| InboundRule::new(i, r))
        .collect()
}

/// The actions of the first rule that matches.
pub fn route(rules: &[InboundRule], m: &InboundMessage) -> Option<Actions> {
    rules.iter().find_map(|r| r.apply(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;

    fn sms(to: &str, text: &str, tenant: Option<&str>) -> InboundMessage {
        InboundMessage {
            id: MessageId::new(),
            from: "+4915112345678".into(),
            to: to.into(),
            text: text.into(),
            connector: "sim".into(),
            received_at: 0,
            incomplete: false,
            tenant: tenant.map(str::to_owned),
        }
    }

    fn rule(v: serde_json::Value) -> InboundRuleConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_first_matching_rule_answers_and_forwards_with_placeholders() {
        let rules = compile(&[
            rule(serde_json::json!({"keyword": "price", "reply": "Price of {rest}: 3 EUR"})),
            rule(
                serde_json::json!({"to": "+4930555*", "forward": "+4915199999999",
                                     "reply": "Thanks, {from}"}),
            ),
        ])
        .unwrap();
        let a = route(&rules, &sms("+4930555000", "PRICE apples", None)).unwrap();
        assert_eq!(
            a,
            vec![("+4915112345678".into(), "Price of apples: 3 EUR".into())]
        );
        let a = route(&rules, &sms("+4930555000", "hello there", None)).unwrap();
        assert_eq!(
            a,
            vec![
                ("+4915112345678".into(), "Thanks, +4915112345678".into()),
                (
                    "+4915199999999".into(),
                    "From +4915112345678: hello there".into()
                ),
            ]
        );
        assert!(route(&rules, &sms("+4940000000", "hello", None)).is_none());
    }

    #[test]
    fn tenant_and_pattern_narrow_a_rule_and_bad_rules_are_refused() {
        let rules = compile(&[rule(serde_json::json!({
            "tenant": "acme", "pattern": "^ORDER \\d+$", "reply": "Order received"}))])
        .unwrap();
        assert!(route(&rules, &sms("+1", "ORDER 42", Some("acme"))).is_some());
        assert!(route(&rules, &sms("+1", "ORDER 42", Some("bolt"))).is_none());
        assert!(route(&rules, &sms("+1", "ORDER x", Some("acme"))).is_none());
        let e = compile(&[rule(serde_json::json!({"keyword": "x"}))]).unwrap_err();
        assert!(e.contains("no action"), "{e}");
        let e = compile(&[rule(serde_json::json!({"reply": "x"}))]).unwrap_err();
        assert!(e.contains("every SMS"), "{e}");
        let e = compile(&[rule(serde_json::json!({"pattern": "(", "reply": "x"}))]).unwrap_err();
        assert!(e.contains("#1 pattern"), "{e}");
    }
}
