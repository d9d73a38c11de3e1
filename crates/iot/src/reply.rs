//! What a person (a contact) may text the gateway: `ACK`, `ACK 42`, `STATUS pump-3`.
//! Case-insensitive; `#42` and surrounding punctuation are accepted as people type them.

/// A contact's SMS, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersonCommand {
    /// Acknowledge the one open alert sent to me, or alert `n`.
    Ack(Option<i64>),
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
        return match rest.as_slice() {
            [] => PersonCommand::Ack(None),
            [n] => match n
                .trim_start_matches('#')
                .trim_end_matches(['.', '!'])
                .parse()
            {
                Ok(id) => PersonCommand::Ack(Some(id)),
                Err(_) => PersonCommand::Other,
            },
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
        assert_eq!(parse("ACK"), PersonCommand::Ack(None));
        assert_eq!(parse(" ack. "), PersonCommand::Ack(None));
        assert_eq!(parse("Ack 42"), PersonCommand::Ack(Some(42)));
        assert_eq!(parse("ACK #7"), PersonCommand::Ack(Some(7)));
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
        assert_eq!(parse("ACK 1 2"), PersonCommand::Other);
        assert_eq!(parse("STATUS"), PersonCommand::Other);
        assert_eq!(parse("acknowledged"), PersonCommand::Other);
    }
}
