//! The simulator's text control language, one command per line — what `smsgate sim modem`
//! reads on its standard input, and what tests may use too:
//!
//! | command | effect |
//! |---|---|
//! | `mo <from> <text…>` | a phone texts the modem (long texts arrive as concatenated parts) |
//! | `mo-during-send <from> <text…>` | the same, delivered in the middle of the next `AT+CMGS` |
//! | `hang [<duration>]` | stop answering, for a while (`5s`, `500ms`, `2m`) or until `unhang` |
//! | `unhang` | answer again |
//! | `fail-next <code>` | answer the next send with `+CMS ERROR: <code>` |
//! | `latency <duration>` | delay every answer |
//! | `report delivered\|undelivered\|none` | what status reports say |
//! | `status` | counters |

use std::time::Duration;

use super::{ReportOutcome, Simulator};

/// Parses `5s`, `250ms`, `2m` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| (&s[..i], &s[i..]));
    let n: u64 = num.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

/// Runs one control line; returns what to print, or why the line was not understood.
pub fn apply(sim: &Simulator, line: &str) -> Result<String, String> {
    let line = line.trim();
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    let from_text = || {
        rest.split_once(' ')
            .map(|(f, t)| (f.to_owned(), t.to_owned()))
            .ok_or_else(|| format!("usage: {cmd} <from> <text>"))
    };
    match cmd {
        "" => Ok(String::new()),
        "mo" => {
            let (from, text) = from_text()?;
            let parts = sim.inject_mo(&from, &text).map_err(|e| e.to_string())?;
            Ok(format!("delivered {parts} part(s) from {from}"))
        }
        "mo-during-send" => {
            let (from, text) = from_text()?;
            sim.inject_mo_during_next_send(&from, &text);
            Ok(format!("will deliver from {from} during the next send"))
        }
        "hang" if rest.is_empty() => {
            sim.hang(None);
            Ok("hanging until `unhang`".into())
        }
        "hang" => {
            let d = parse_duration(rest).ok_or("usage: hang [<duration>]")?;
            sim.hang(Some(d));
            Ok(format!("hanging for {d:?}"))
        }
        "unhang" => {
            sim.unhang();
            Ok("answering again".into())
        }
        "fail-next" => {
            let code = rest.parse().map_err(|_| "usage: fail-next <cms code>")?;
            sim.fail_next_send(code);
            Ok(format!("the next send fails with +CMS ERROR: {code}"))
        }
        "latency" => {
            let d = parse_duration(rest).ok_or("usage: latency <duration>")?;
            sim.set_latency(d);
            Ok(format!("latency {d:?}"))
        }
        "report" => {
            let r = match rest {
                "delivered" => ReportOutcome::Delivered,
                "undelivered" => ReportOutcome::Undelivered,
                "none" => ReportOutcome::None,
                _ => return Err("usage: report delivered|undelivered|none".into()),
            };
            sim.set_report(r);
            Ok(format!("status reports: {rest}"))
        }
        "status" => {
            let s = sim.stats();
            Ok(format!(
                "sent {} part(s), stored {}, waiting {}, reads {}, deletes {}, acks {}, reports {}, pin attempts {}{}{}",
                s.sent.len(),
                s.stored,
                s.waiting,
                s.reads,
                s.deletes,
                s.acks,
                s.reports,
                s.pin_attempts,
                if s.puk_required { ", PUK required" } else { "" },
                if s.hanging { ", hanging" } else { "" },
            ))
        }
        other => Err(format!(
            "unknown command '{other}'; use mo, mo-during-send, hang, unhang, fail-next, latency, report, status"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5h"), None);
    }
}
