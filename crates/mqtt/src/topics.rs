//! The bridge's topic tree under `topic_prefix`, and the parse of the topics it receives on.
//! Pure: no client, no broker.
//!
//! | topic | direction | what |
//! |---|---|---|
//! | `{prefix}/send` | in | a send for `[mqtt] tenant` |
//! | `{prefix}/send/{tenant}` | in | a send for a tenant of `[mqtt] tenants` |
//! | `{prefix}/devices/{id}/commands` | in | a command to an IoT device |
//! | `{prefix}/errors` | out | why something received was refused |
//! | `{prefix}/messages/{id}/status` | out | `message.status` events |
//! | `{prefix}/inbound/{number}` | out | `message.inbound`: SMS received on `number` |
//! | `{prefix}/alerts/{raised, escalated, acknowledged, resolved}` | out | `alert.*` |
//! | `{prefix}/devices/{id}/telemetry` | out | `device.telemetry` |
//! | `{prefix}/devices/{id}/commands/{command}/{state}` | out | `command.*` |
//! | `{prefix}/events/{event}` | out | any other event (`optout.created`, …) |
//!
//! The command subscription is exact (`{prefix}/devices/+/commands`, no `#`), so the command
//! results published one level further down never come back to the bridge.

/// Characters that may not appear inside one topic level the bridge builds: the separator,
/// the wildcards (a subscriber could not name them literally) and what MQTT forbids.
fn is_special(c: char) -> bool {
    matches!(c, '/' | '+' | '#' | '\0') || c.is_whitespace() || c.is_control()
}

/// Whether `s` can be one topic level as it is: not empty, no `/`, `+`, `#`, spaces or
/// control characters.
pub fn is_plain_level(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(is_special)
}

/// `s` made into one topic level: a leading `+` dropped (numbers are written without it, as
/// `+` is a wildcard in subscriptions), every other special character as `_`, and `_` for an
/// empty value.
pub fn level(s: &str) -> String {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() {
        return "_".into();
    }
    s.chars()
        .map(|c| if is_special(c) { '_' } else { c })
        .collect()
}

/// Checks `[mqtt] topic_prefix`: one or more plain levels joined by `/`.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must not be empty".into());
    }
    if prefix.starts_with('$') {
        return Err(format!(
            "'{prefix}': topics starting with '$' are the broker's"
        ));
    }
    if prefix.split('/').all(is_plain_level) {
        Ok(())
    } else {
        Err(format!(
            "'{prefix}' must be levels joined by '/', without '+', '#', spaces, empty levels \
             or a leading or trailing '/'"
        ))
    }
}

/// What a received topic asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// `{prefix}/send` (`tenant: None`: the configured one) or `{prefix}/send/{tenant}`.
    Send {
        /// The tenant the topic names.
        tenant: Option<String>,
    },
    /// `{prefix}/devices/{device}/commands`.
    Command {
        /// The device id.
        device: String,
    },
}

/// The topic tree under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// The tree under `prefix` (checked by [`check_prefix`]).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The subscriptions, each taken with QoS 1.
    pub fn subscriptions(&self) -> [String; 3] {
        let p = &self.prefix;
        [
            format!("{p}/send"),
            format!("{p}/send/+"),
            format!("{p}/devices/+/commands"),
        ]
    }

    /// Where refusals go.
    pub fn errors(&self) -> String {
        format!("{}/errors", self.prefix)
    }

    /// `{prefix}/` followed by `rest`.
    pub fn under(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    /// What a topic the bridge received on asks for; `None` for a topic it does not serve.
    pub fn parse(&self, topic: &str) -> Option<Inbound> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let levels: Vec<&str> = rest.split('/').collect();
        match levels.as_slice() {
            ["send"] => Some(Inbound::Send { tenant: None }),
            ["send", t] if !t.is_empty() => Some(Inbound::Send {
                tenant: Some((*t).to_owned()),
            }),
            ["devices", d, "commands"] if !d.is_empty() => Some(Inbound::Command {
                device: (*d).to_owned(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_topics_parse_to_what_they_ask() {
        let t = Topics::new("gw/eu");
        assert_eq!(t.parse("gw/eu/send"), Some(Inbound::Send { tenant: None }));
        assert_eq!(
            t.parse("gw/eu/send/acme"),
            Some(Inbound::Send {
                tenant: Some("acme".into())
            })
        );
        assert_eq!(
            t.parse("gw/eu/devices/pump-1/commands"),
            Some(Inbound::Command {
                device: "pump-1".into()
            })
        );
        for other in [
            "gw/eu/send/",
            "gw/eu/send/a/b",
            "gw/eu/devices/pump-1/commands/3/sent",
            "gw/eu/devices//commands",
            "gw/eusend",
            "gw/send",
            "other/eu/send",
            "gw/eu/errors",
        ] {
            assert_eq!(t.parse(other), None, "{other}");
        }
    }

    #[test]
    fn subscriptions_do_not_match_the_command_results() {
        let t = Topics::new("p");
        let subs = t.subscriptions();
        assert_eq!(subs[2], "p/devices/+/commands");
        assert_eq!(t.parse("p/devices/d/commands/1/acknowledged"), None);
    }

    #[test]
    fn levels_lose_plus_and_wildcards() {
        assert_eq!(level("+4915112345678"), "4915112345678");
        assert_eq!(level("a/b+c#d e"), "a_b_c_d_e");
        assert_eq!(level(""), "_");
        assert!(is_plain_level("acme-1"));
        assert!(!is_plain_level("a/b") && !is_plain_level("") && !is_plain_level("a#"));
    }

    #[test]
    fn prefixes_are_checked() {
        check_prefix("smsgate").unwrap();
        check_prefix("site/gw-1").unwrap();
        for bad in ["", "/a", "a/", "a//b", "a/+", "a/#", "$SYS", "a b"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
