//! What the engine is asked to run and what it answers: [`Command`], [`Response`],
//! [`CommandError`].

use std::fmt;
use std::time::Duration;

use super::line::Final;

/// One AT command line (ITU-T V.250 §5.2), optionally with the PDU that follows the `> ` prompt
/// (`AT+CMGS`, `AT+CMGW`: 3GPP TS 27.005 §3.5.1, §3.5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The line without its `<CR>`, e.g. `AT+CMGR=3`.
    pub line: String,
    /// Hex PDU written after the prompt and ended with Ctrl-Z.
    pub pdu: Option<String>,
    /// How long the modem may take to answer the line (or to show the prompt).
    pub timeout: Duration,
    /// With a PDU: how long it may take after the PDU, when the network is involved.
    pub pdu_timeout: Duration,
}

impl Command {
    /// A plain command.
    pub fn new(line: impl Into<String>, timeout: Duration) -> Self {
        Self {
            line: line.into(),
            pdu: None,
            timeout,
            pdu_timeout: timeout,
        }
    }

    /// A command whose PDU follows the `> ` prompt: `timeout` until the prompt,
    /// `pdu_timeout` from the PDU to the final result code.
    pub fn with_pdu(
        line: impl Into<String>,
        pdu: impl Into<String>,
        timeout: Duration,
        pdu_timeout: Duration,
    ) -> Self {
        Self {
            line: line.into(),
            pdu: Some(pdu.into()),
            timeout,
            pdu_timeout,
        }
    }

    /// The prefix of this command's information responses, e.g. `+CMGS` for `AT+CMGS=23` and
    /// `+CREG` for `AT+CREG?` (3GPP TS 27.007 §4.1). A line with this prefix while the command
    /// runs is its answer, even when the same prefix is also an unsolicited code (`+CREG`).
    pub fn response_prefix(&self) -> Option<&str> {
        let rest = self.line.get(2..)?;
        if !self.line[..2].eq_ignore_ascii_case("AT") {
            return None;
        }
        let first = rest.as_bytes().first()?;
        if *first != b'+' && *first != b'^' {
            return None;
        }
        let end = rest.find(['=', '?', ';']).unwrap_or(rest.len());
        Some(&rest[..end])
    }
}

/// The modem's complete answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Information lines in order (e.g. `+CMGR: 0,,24` and the PDU line after it).
    pub lines: Vec<String>,
    /// The final result code.
    pub result: Final,
}

impl Response {
    /// Whether the result code is `OK`.
    pub fn is_ok(&self) -> bool {
        self.result == Final::Ok
    }

    /// The text after `<prefix>:` of the first line with that prefix, trimmed
    /// (`value("+CSQ")` of `+CSQ: 21,99` is `21,99`).
    pub fn value(&self, prefix: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| {
            l.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        })
    }

    /// The first line that is not a `+XXX:` line (the answer of `AT+CGMI`, `AT+CGSN`, …).
    pub fn plain(&self) -> Option<&str> {
        self.lines
            .iter()
            .map(String::as_str)
            .find(|l| !(l.starts_with('+') && l.contains(':')))
    }
}

/// How far a command got before its time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The command line was written; nothing final came back.
    Command,
    /// The line of `AT+CMGS` was written but the `> ` prompt never came; nothing was sent to
    /// the network (the engine wrote ESC to leave text entry).
    Prompt,
    /// The PDU was written but its result never came: the network may have the message.
    Pdu,
}

/// Why a command did not produce a [`Response`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No final result code within the command's timeout; the modem may be hung.
    #[error("no answer to the command within its timeout (stage {stage:?})")]
    Timeout {
        /// How far it got.
        stage: Stage,
    },
    /// The engine was reset (transport reopened) while the command was queued or running.
    #[error("the modem link was reset before the command finished")]
    Aborted,
}

impl fmt::Display for super::line::Final {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Final::Ok => f.write_str("OK"),
            Final::Error => f.write_str("ERROR"),
            Final::Cme(e) => e.fmt(f),
            Final::Cms(e) => e.fmt(f),
            Final::Call(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_prefixes_come_from_the_command_name() {
        let t = Duration::from_secs(1);
        assert_eq!(
            Command::new("AT+CMGS=23", t).response_prefix(),
            Some("+CMGS")
        );
        assert_eq!(Command::new("AT+CREG?", t).response_prefix(), Some("+CREG"));
        assert_eq!(Command::new("at+cgmi", t).response_prefix(), Some("+cgmi"));
        assert_eq!(
            Command::new("AT^SYSINFO", t).response_prefix(),
            Some("^SYSINFO")
        );
        assert_eq!(Command::new("ATE0", t).response_prefix(), None);
        assert_eq!(Command::new("A", t).response_prefix(), None);
    }
}
