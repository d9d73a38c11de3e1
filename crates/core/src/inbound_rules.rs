//! Keyword routing of inbound SMS (`[[inbound_rules]]`): what Kannel calls an sms-service. A
//! rule matches by recipient number or prefix, first word, or regular expression, within a
//! tenant or for all; the first match wins and its actions run: an automatic reply to the
//! sender, a forward of the text to another number, a signed POST of the SMS to a webhook URL
//! of the rule's own, or `iot = true`: nothing but the IoT engine's own handling (a stop for
//! later rules). Placeholders in both texts: `{from}`, `{to}`, `{text}` (the whole message),
//! `{rest}` (the text after the keyword).
//!
//! Rules come from two places: `[[inbound_rules]]` in the config (read at start, the operator's)
//! and `/v1/inbound-rules` (stored, managed by tenants and admins, see [`StoredInboundRule`]).
//! The config's rules are tried first, then the stored ones in the order they were created.
//!
//! Rules run in the compliance loop, after STOP/START/HELP (a STOP is never routed), and what
//! they queue (SMS, and the `inbound.routed` outbox event a webhook action is delivered from)
//! is committed with the loop's cursor: a crash neither loses nor repeats an answer. Every
//! inbound message still reaches the `message.inbound` subscriptions and the IoT engine as
//! before.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::message::InboundMessage;

/// One `[[inbound_rules]]` entry as written (also the body of `POST /v1/inbound-rules` and
/// the JSON a stored rule is kept as).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundRuleConfig {
    /// Only inbound SMS of this tenant (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Only SMS to this number, or to numbers starting with it when it ends in `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only SMS whose first word is this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Only SMS whose text matches this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Answer the sender with this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Forward to this number (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<String>,
    /// The forwarded text. Default `"From {from}: {text}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_text: Option<String>,
    /// POST the SMS to this URL (an `inbound.routed` event, signed and retried like every
    /// webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// The signing secret of `webhook` (16 characters at least).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// POST the SMS in Twilio's inbound format (`From`, `To`, `Body`, `MessageSid`, …,
    /// signed with `X-Twilio-Signature` keyed with `webhook_secret`) to this URL, as Twilio
    /// calls a number's `sms_url`; `<Message>`s of the TwiML answer are sent back as SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twilio_url: Option<String>,
    /// GET this URL with Kannel's sms-service escapes filled in (`%p` the phone, `%P` our
    /// number, `%a` the text, `%r` the words after the keyword, `%k` the keyword, `%t`/`%T`
    /// time, `%i` connector, `%I` message id), as Kannel's `get-url`; a non-empty plain-text
    /// answer is sent back as an SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kannel_url: Option<String>,
    /// Mail the SMS to this address (through `[smtp.replies] relay`; with the email-to-SMS
    /// listener configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Hand the SMS to the IoT engine only: no reply, no forward, no later rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub iot: bool,
}

/// A rule made through `/v1/inbound-rules`, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredInboundRule {
    /// `ir_` + random.
    pub id: String,
    /// The tenant that made it, whose rule it is (it sees, deletes and is billed for it, and
    /// its webhook is delivered under the tenant's network policy); `None`: an admin's.
    pub owner: Option<String>,
    /// What it matches and does; a tenant's rule always has `tenant` set to its owner.
    pub rule: InboundRuleConfig,
    /// Unix ms; stored rules are tried in this order.
    pub created_at: i64,
}

/// A checked rule.
#[derive(Clone, Debug)]
pub struct InboundRule {
    index: usize,
    id: Option<String>,
    owner: Option<String>,
    config: InboundRuleConfig,
    pattern: Option<Regex>,
}

/// What a matching rule asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// The rule's place in the list (1-based, as error messages name it).
    pub rule: usize,
    /// A stored rule's id (`None` for a config rule).
    pub rule_id: Option<String>,
    /// A stored rule's owner: its webhook is delivered as this tenant (see
    /// [`StoredInboundRule::owner`]); `None` for the operator's and admins' rules.
    pub owner: Option<String>,
    /// `(to, text)` of each SMS to queue.
    pub sms: Vec<(String, String)>,
    /// `(url, secret)` to POST the SMS to.
    pub webhook: Option<(String, String)>,
    /// How `webhook` is called: `json` (smsgate's event), `twilio` (Twilio's inbound form,
    /// TwiML answer) or `kannel` (a get-url, text answer).
    pub webhook_format: &'static str,
    /// The address to mail the SMS to.
    pub email: Option<String>,
}

fn fill(template: &str, m: &InboundMessage, rest: &str) -> String {
    template
        .replace("{from}", &m.from)
        .replace("{to}", &m.to)
        .replace("{rest}", rest)
        .replace("{text}", &m.text)
}

impl InboundRule {
    /// Checks a config rule; the error names it by its position (`[[inbound_rules]] #2`).
    pub fn new(index: usize, config: InboundRuleConfig) -> Result<Self, String> {
        Self::checked(
            format!("[[inbound_rules]] #{}", index + 1),
            index + 1,
            config,
        )
    }

    /// Checks a stored rule (or one about to be: the API refuses with the same message the
    /// config does).
    pub fn stored(rule: &StoredInboundRule) -> Result<Self, String> {
        let mut r = Self::checked("the rule".to_owned(), 0, rule.rule.clone())?;
        r.id = Some(rule.id.clone());
        r.owner = rule.owner.clone();
        Ok(r)
    }

    fn checked(at: String, index: usize, config: InboundRuleConfig) -> Result<Self, String> {
        if config.reply.is_none()
            && config.forward.is_none()
            && config.webhook.is_none()
            && config.twilio_url.is_none()
            && config.kannel_url.is_none()
            && config.email.is_none()
            && !config.iot
        {
            return Err(format!(
                "{at} has no action: give it a reply, forward, webhook, twilio_url, kannel_url, \
                 email or iot = true"
            ));
        }
        let urls = [&config.webhook, &config.twilio_url, &config.kannel_url]
            .iter()
            .filter(|u| u.is_some())
            .count();
        if urls > 1 {
            return Err(format!(
                "{at}: give one of webhook, twilio_url and kannel_url (a rule calls one URL)"
            ));
        }
        for (name, url) in [
            ("twilio_url", &config.twilio_url),
            ("kannel_url", &config.kannel_url),
        ] {
            if let Some(u) = url {
                let plain = u.replace('%', "");
                let ok = reqwest::Url::parse(&plain)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    return Err(format!("{at} {name} '{u}' is not an http(s) URL"));
                }
            }
        }
        if config.twilio_url.is_some()
            && config.webhook_secret.as_ref().is_none_or(|s| s.len() < 16)
        {
            return Err(format!(
                "{at} twilio_url needs webhook_secret (16 characters at least): the auth token \
                 X-Twilio-Signature is computed with"
            ));
        }
        if let Some(e) = &config.email {
            let ok = e.rsplit_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace)
            });
            if !ok {
                return Err(format!("{at} email '{e}' is not a mail address"));
            }
        }
        if config.iot && (config.reply.is_some() || config.forward.is_some()) {
            return Err(format!(
                "{at}: iot = true hands the SMS to the IoT engine alone; drop reply and forward"
            ));
        }
        if let Some(url) = &config.webhook {
            let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(format!("{at} webhook '{url}' is not an http(s) URL"));
            }
            if config.webhook_secret.as_ref().is_none_or(|s| s.len() < 16) {
                return Err(format!(
                    "{at} webhook needs webhook_secret (16 characters at least) to sign with"
                ));
            }
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
        Ok(Self {
            index,
            id: None,
            owner: None,
            config,
            pattern,
        })
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
        let mut out = Actions {
            rule: self.index,
            rule_id: self.id.clone(),
            owner: self.owner.clone(),
            ..Actions::default()
        };
        if let Some(r) = &c.reply {
            out.sms.push((m.from.clone(), fill(r, m, rest)));
        }
        if let Some(to) = &c.forward {
            let t = c.forward_text.as_deref().unwrap_or("From {from}: {text}");
            out.sms.push((to.clone(), fill(t, m, rest)));
        }
        if let (Some(url), Some(secret)) = (&c.webhook, &c.webhook_secret) {
            out.webhook = Some((url.clone(), secret.clone()));
            out.webhook_format = "json";
        }
        if let (Some(url), Some(secret)) = (&c.twilio_url, &c.webhook_secret) {
            out.webhook = Some((url.clone(), secret.clone()));
            out.webhook_format = "twilio";
        }
        if let Some(url) = &c.kannel_url {
            out.webhook = Some((url.clone(), String::new()));
            out.webhook_format = "kannel";
        }
        out.email = c.email.clone();
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

/// The stored rules that pass the checks, in order; one that no longer does (a rule stored by
/// an older version) is logged and skipped rather than stopping the others.
pub fn compile_stored(rules: &[StoredInboundRule]) -> Vec<InboundRule> {
    rules
        .iter()
        .filter_map(|r| match InboundRule::stored(r) {
            Ok(rule) => Some(rule),
            Err(e) => {
                tracing::warn!(rule = %r.id, error = %e, "skipping an inbound rule");
                None
            }
        })
        .collect()
}

/// The actions of the first rule that matches, the config's `rules` first, then `stored`.
pub fn route(rules: &[InboundRule], stored: &[InboundRule], m: &InboundMessage) -> Option<Actions> {
    rules.iter().chain(stored).find_map(|r| r.apply(m))
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
            binary: None,
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
        let a = route(&rules, &[], &sms("+4930555000", "PRICE apples", None)).unwrap();
        assert_eq!(a.rule, 1);
        assert_eq!(
            a.sms,
            vec![("+4915112345678".into(), "Price of apples: 3 EUR".into())]
        );
        let a = route(&rules, &[], &sms("+4930555000", "hello there", None)).unwrap();
        assert_eq!(a.rule, 2);
        assert_eq!(
            a.sms,
            vec![
                ("+4915112345678".into(), "Thanks, +4915112345678".into()),
                (
                    "+4915199999999".into(),
                    "From +4915112345678: hello there".into()
                ),
            ]
        );
        assert!(route(&rules, &[], &sms("+4940000000", "hello", None)).is_none());
    }

    #[test]
    fn tenant_and_pattern_narrow_a_rule_and_bad_rules_are_refused() {
        let rules = compile(&[rule(serde_json::json!({
            "tenant": "acme", "pattern": "^ORDER \\d+$", "reply": "Order received"}))])
        .unwrap();
        assert!(route(&rules, &[], &sms("+1", "ORDER 42", Some("acme"))).is_some());
        assert!(route(&rules, &[], &sms("+1", "ORDER 42", Some("bolt"))).is_none());
        assert!(route(&rules, &[], &sms("+1", "ORDER x", Some("acme"))).is_none());
        let e = compile(&[rule(serde_json::json!({"keyword": "x"}))]).unwrap_err();
        assert!(e.contains("no action"), "{e}");
        let e = compile(&[rule(serde_json::json!({"reply": "x"}))]).unwrap_err();
        assert!(e.contains("every SMS"), "{e}");
        let e = compile(&[rule(serde_json::json!({"pattern": "(", "reply": "x"}))]).unwrap_err();
        assert!(e.contains("#1 pattern"), "{e}");
    }

    #[test]
    fn a_webhook_rule_needs_a_url_and_a_secret_and_an_iot_rule_stops_the_list() {
        let hook = |url: &str, secret: Option<&str>| {
            compile(&[rule(serde_json::json!({
                "keyword": "JOIN", "webhook": url, "webhook_secret": secret}))])
        };
        let e = hook("ftp://x", Some("0123456789abcdef")).unwrap_err();
        assert!(e.contains("http(s)"), "{e}");
        let e = hook("https://crm.example.com/sms", Some("short")).unwrap_err();
        assert!(e.contains("webhook_secret"), "{e}");
        let rules = hook("https://crm.example.com/sms", Some("0123456789abcdef")).unwrap();
        let a = route(&rules, &[], &sms("+1", "join newsletter", None)).unwrap();
        assert_eq!(
            a.webhook,
            Some((
                "https://crm.example.com/sms".into(),
                "0123456789abcdef".into()
            ))
        );
        assert!(a.sms.is_empty());
        let rules = compile(&[
            rule(serde_json::json!({"keyword": "T", "iot": true})),
            rule(serde_json::json!({"to": "+1*", "reply": "thanks"})),
        ])
        .unwrap();
        let a = route(&rules, &[], &sms("+1555", "T 85", None)).unwrap();
        assert_eq!((a.rule, a.sms.len()), (1, 0), "the IoT rule ends the list");
        let e = compile(&[rule(
            serde_json::json!({"keyword": "T", "iot": true, "reply": "x"}),
        )])
        .unwrap_err();
        assert!(e.contains("IoT engine alone"), "{e}");
    }
}
