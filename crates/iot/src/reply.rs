//! What a person (a contact) may text the gateway: `ACK`, `ACK 42`, `STATUS pump-3`.
//! Case-insensitive; `#42` and surrounding punctuation are accepted as people type them.

/// A contact's SMS, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersonCommand {
    /// Acknowledge the one open alert sent to me, or alert `n`; the second word after `ACK n`
    /// is the contact's PIN, for contacts that have one (`ACK 42 7391`).
    Ack(Option<i64>, Option<String>),
    /// Send me the last readings of a device (id or name).
    Status(String),
    /// Anything else; ignored.
    Other,
}

/// Reads a contact's SMS.
pub fn parse(text: &str) -> PersonCommand {
    let mut words = text.split_whitespace();
    let Some(first) = words.next() else {
        return PersonCommand::Other;
    };
    let first = first.trim_end_matches(['.', '!', ',']);
    let rest: Vec<&str> = words.collect();
    if first.eq_ignore_ascii_case("ack") || first.eq_ignore_ascii_case("ok") {
        let id = |n: &str| {
            n.trim_start_matches('#')
                .trim_end_matches(['.', '!'])
                .parse::<i64>()
                .ok()
        };
        return match rest.as_slice() {
            [] => PersonCommand::Ack(None, None),
            [n] => id(n).map_or(PersonCommand::Other, |id| {
                PersonCommand::Ack(Some(id), None)
            }),
            [n, pin] => id(n).map_or(PersonCommand::Other, |id| {
                PersonCommand::Ack(Some(id), Some((*pin).to_owned()))
            }),
            _ => PersonCommand::Other,
        };
    }
    if first.eq_ignore_ascii_case("status") && !rest.is_empty() {
        return PersonCommand::Status(rest.join(" "));
    }
    PersonCommand::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_and_status_queries_are_understood() {
        assert_eq!(parse("ACK"), PersonCommand::Ack(None, None));
        assert_eq!(parse(" ack. "), PersonCommand::Ack(None, None));
        assert_eq!(parse("Ack 42"), PersonCommand::Ack(Some(42), None));
        assert_eq!(parse("ACK #7"), PersonCommand::Ack(Some(7), None));
        assert_eq!(
            parse("ACK 42 7391"),
            PersonCommand::Ack(Some(42), Some("7391".into()))
        );
        assert_eq!(
            parse("STATUS pump-3"),
            PersonCommand::Status("pump-3".into())
        );
        assert_eq!(
            parse("status Pump 3"),
            PersonCommand::Status("Pump 3".into())
        );
    }

    #[test]
    fn other_texts_are_ignored() {
        assert_eq!(parse(""), PersonCommand::Other);
        assert_eq!(parse("ACK forty"), PersonCommand::Other);
        assert_eq!(parse("ACK 1 2 3"), PersonCommand::Other);
        assert_eq!(parse("STATUS"), PersonCommand::Other);
        assert_eq!(parse("acknowledged"), PersonCommand::Other);
    }
}
