//! The operator's terminal views of a running gateway: `tail` follows the event stream
//! (`GET /v1/events/stream`) one line per event, `top` redraws rates, the queue and the
//! connectors every second from `/v1/stats` and `/v1/connectors`. Both only read the API, with
//! the [`Remote`] flags every remote command shares.
//!
//! Colour only goes to a terminal, and never when `NO_COLOR` is set (<https://no-color.org>),
//! so what `tail` prints into a pipe or a file is plain text a script can split.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::remote::Remote;
use crate::client::{Client, Refused};

/// `smsgate tail`: follows what happens in the gateway, as it happens.
#[derive(Args, Debug)]
pub struct TailArgs {
    /// Only these events: comma-separated names or prefix patterns
    /// (`message.status,alert.*`); every event the key may see when absent.
    #[arg(long)]
    pub events: Option<String>,
    /// Start after this event id (the first column of `--json`, the `id` of an event), so
    /// the log is replayed from there; by default only new events are shown.
    #[arg(long)]
    pub since: Option<i64>,
    /// Print each event's JSON (the webhook body) instead of a line of columns.
    #[arg(long)]
    pub json: bool,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// `smsgate top`: a screen of what the gateway is doing, redrawn every second.
#[derive(Args, Debug)]
pub struct TopArgs {
    /// Seconds between updates.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Exit after this many updates (for scripts; runs until Ctrl-C by default).
    #[arg(long, short = 'n')]
    pub iterations: Option<u64>,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// ANSI colours, or none: decided once for stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Colour(bool);

impl Colour {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self(!no_color && std::io::stdout().is_terminal())
    }

    /// `text` in the SGR colour `code` (`32` green, `31` red, `33` yellow).
    fn paint(self, code: &str, text: &str) -> String {
        if self.0 && !code.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Runs `tail`: prints each event until Ctrl-C, reconnecting (and resuming after the last
/// event printed, so none is lost or shown twice) when the gateway goes away.
pub async fn tail(a: TailArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.remote.url, &a.remote.key)?;
    let mut path = "/v1/events/stream".to_owned();
    if let Some(e) = &a.events {
        path.push_str(&format!("?events={}", super::remote::urlencode(e)));
    }
    let colour = Colour::for_stdout();
    let mut last = a.since;
    let mut connected = false;
    let mut backoff = Duration::from_secs(1);
    loop {
        let mut res = match client.stream(&path, last).await {
            Ok(res) => res,
            // A refusal (key, scope, pattern) will not change by trying again, and neither
            // will a wrong URL on the first try.
            Err(e) if !connected || e.downcast_ref::<Refused>().is_some() => return Err(e),
            Err(e) => {
                eprintln!("{e:#}; trying again in {}s", backoff.as_secs());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        // On stderr, so stdout carries events only; also says from when nothing is missed.
        eprintln!(
            "following {}{} (Ctrl-C to stop)",
            client.base(),
            a.events
                .as_deref()
                .map(|e| format!(", events {e}"))
                .unwrap_or_default()
        );
        connected = true;
        backoff = Duration::from_secs(1);
        let mut frames = SseFrames::default();
        let why = loop {
            match res.chunk().await {
                Ok(Some(bytes)) => {
                    for frame in frames.push(&bytes) {
                        if let Ok(id) = frame.id.parse() {
                            last = Some(id);
                        }
                        // The stream's first frame only says where it starts.
                        if frame.data.is_empty() {
                            continue;
                        }
                        let line = if a.json {
                            frame.data.clone()
                        } else {
                            event_line(&frame, colour)
                        };
                        let mut out = std::io::stdout().lock();
                        // A closed pipe (`smsgate tail | head`): done, not an error.
                        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                            return Ok(());
                        }
                    }
                }
                Ok(None) => break "the gateway closed the stream".to_owned(),
                Err(e) => break format!("the stream broke: {e}"),
            }
        };
        eprintln!("{why}; reconnecting");
    }
}

/// One server-sent event as `tail` needs it.
#[derive(Debug, Default, PartialEq)]
struct SseFrame {
    id: String,
    event: String,
    /// The JSON text of `data:`.
    data: String,
}

/// Splits a byte stream into server-sent events (comments and keepalives dropped).
#[derive(Default)]
struct SseFrames {
    buf: Vec<u8>,
}

impl SseFrames {
    /// The events that `bytes` completes.
    fn push(&mut self, bytes: &[u8]) -> Vec<SseFrame> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&raw);
            let mut frame = SseFrame::default();
            let mut any = false;
            for line in text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with(':'))
            {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                any = true;
                match field {
                    "id" => frame.id = value.to_owned(),
                    "event" => frame.event = value.to_owned(),
                    "data" => {
                        if !frame.data.is_empty() {
                            frame.data.push('\n');
                        }
                        frame.data.push_str(value);
                    }
                    _ => {}
                }
            }
            if any {
                out.push(frame);
            }
        }
        out
    }
}

/// One line for an event: time (UTC), name, the object's id, the number or device it is
/// about, its status, and a detail; coloured by outcome.
fn event_line(frame: &SseFrame, colour: Colour) -> String {
    let body: Value = serde_json::from_str(&frame.data).unwrap_or(Value::Null);
    let d = &body["data"];
    let time = body["created_at"]
        .as_str()
        .and_then(|t| t.split_once('T'))
        .map(|(_, t)| t.trim_end_matches('Z').to_owned())
        .unwrap_or_default();
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let kind = frame.event.split('.').next().unwrap_or_default();
    let (id, who, status, detail) = match (kind, frame.event.as_str()) {
        (_, "message.status") => {
            let error = match (s(&d["error_code"]), s(&d["error_message"])) {
                (c, m) if c.is_empty() && m.is_empty() => String::new(),
                (c, m) => format!(" error {c} {m}"),
            };
            (
                s(&d["id"]),
                s(&d["to"]),
                s(&d["status"]),
                format!("{}{error}", s(&d["connector"])),
            )
        }
        (_, "message.inbound") => (
            s(&d["id"]),
            s(&d["from"]),
            "received".to_owned(),
            format!("to {}: {}", s(&d["to"]), preview(&s(&d["text"]))),
        ),
        ("alert", _) => (
            format!("alert {}", s(&d["id"])),
            s(&d["device_id"]),
            s(&d["state"]),
            format!("{} {}", s(&d["severity"]), preview(&s(&d["text"]))),
        ),
        ("command", _) => (
            format!("command {}", s(&d["id"])),
            s(&d["device_id"]),
            s(&d["state"]),
            preview(&s(&d["command"])),
        ),
        (_, "device.telemetry") => {
            let readings = d["readings"]
                .as_object()
                .map(|r| {
                    r.iter()
                        .map(|(k, v)| format!("{k}={}", s(v.get("value").unwrap_or(v))))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            (
                s(&d["inbound_id"]),
                s(&d["device_id"]),
                s(&d["status"]),
                readings,
            )
        }
        ("optout" | "consent", _) => (
            String::new(),
            s(&d["number"]),
            frame
                .event
                .split_once('.')
                .map(|(_, s)| s.to_owned())
                .unwrap_or_default(),
            s(&d["sender"]),
        ),
        _ => (s(&d["id"]), String::new(), String::new(), preview(&s(d))),
    };
    let line = format!(
        "{time:<12}  {:<18} {id:<36}  {who:<16}  {status:<12} {detail}",
        frame.event
    );
    let line = line.trim_end();
    let code = match (kind, status.as_str()) {
        (_, "delivered") => "32",
        (_, "failed" | "undelivered" | "expired") => "31",
        ("alert", _) => "33",
        _ => "",
    };
    colour.paint(code, line)
}

/// The start of a text on one line.
fn preview(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// What `top` keeps from one update to compute rates at the next.
struct Sample {
    at: Instant,
    /// Messages accepted, in any status.
    accepted: u64,
    /// Inbound SMS stored.
    inbound: u64,
    /// Per connector: submitted, failed, receipts, inbound.
    connectors: Vec<(String, [u64; 4])>,
}

/// Runs `top`: redraws until Ctrl-C (or `--iterations`), with the cursor hidden meanwhile.
pub async fn top(a: TopArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.remote.url, &a.remote.key)?;
    let interval = Duration::try_from_secs_f64(a.interval)
        .ok()
        .filter(|d| *d >= Duration::from_millis(100))
        .context("--interval must be at least 0.1 seconds")?;
    let colour = Colour::for_stdout();
    let tty = colour.0 || std::io::stdout().is_terminal();
    if tty {
        print!("\x1b[?25l");
    }
    let result = tokio::select! {
        r = top_loop(&client, interval, a.iterations, colour, tty) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    if tty {
        println!("\x1b[?25h");
    }
    result
}

async fn top_loop(
    client: &Client,
    interval: Duration,
    iterations: Option<u64>,
    colour: Colour,
    tty: bool,
) -> anyhow::Result<()> {
    let mut prev: Option<Sample> = None;
    let mut n = 0u64;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (stats, connectors) =
            tokio::join!(client.get("/v1/stats"), client.get("/v1/connectors"));
        let (stats, connectors) = (stats?, connectors?);
        let sample = sample_of(&stats, &connectors);
        let screen = top_screen(
            client.base(),
            &stats,
            &connectors,
            &sample,
            prev.as_ref(),
            colour,
        );
        let mut out = std::io::stdout().lock();
        let written = if tty {
            // Home, each line cleared to its end, the rest of the screen cleared: no flicker.
            let body: String = screen.lines().map(|l| format!("{l}\x1b[K\n")).collect();
            write!(out, "\x1b[H{body}\x1b[J")
        } else {
            writeln!(out, "{screen}")
        };
        if written.and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
        prev = Some(sample);
        n += 1;
        if iterations.is_some_and(|max| n >= max) {
            return Ok(());
        }
    }
}

fn sample_of(stats: &Value, connectors: &Value) -> Sample {
    let accepted = stats["by_status"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p[1].as_u64())
        .sum();
    let connectors = connectors
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let n = |k: &str| c[k].as_u64().unwrap_or(0);
            (
                c["name"].as_str().unwrap_or("?").to_owned(),
                [n("submitted"), n("failed"), n("receipts"), n("inbound")],
            )
        })
        .collect();
    Sample {
        at: Instant::now(),
        accepted,
        inbound: stats["inbound"].as_u64().unwrap_or(0),
        connectors,
    }
}

/// The screen of one update: rates against the previous sample (blank on the first).
fn top_screen(
    base: &str,
    stats: &Value,
    connectors: &Value,
    now: &Sample,
    prev: Option<&Sample>,
    colour: Colour,
) -> String {
    let secs = prev.map(|p| now.at.duration_since(p.at).as_secs_f64().max(0.001));
    let rate = |cur: u64, old: Option<u64>| match (secs, old) {
        (Some(s), Some(o)) => format!("{:.1}", cur.saturating_sub(o) as f64 / s),
        _ => "-".to_owned(),
    };
    let clock = jiff::Timestamp::now().strftime("%H:%M:%S UTC").to_string();
    let mut out = format!("smsgate top — {base} — {clock}   (Ctrl-C to quit)\n\n");
    let submitted: u64 = now.connectors.iter().map(|c| c.1[0]).sum();
    let receipts: u64 = now.connectors.iter().map(|c| c.1[2]).sum();
    let old_sum = |i: usize| prev.map(|p| p.connectors.iter().map(|c| c.1[i]).sum::<u64>());
    out.push_str(&format!(
        "in   {:>8} msg/s accepted   {:>8} SMS/s received\n",
        rate(now.accepted, prev.map(|p| p.accepted)),
        rate(now.inbound, prev.map(|p| p.inbound)),
    ));
    out.push_str(&format!(
        "out  {:>8} submits/s      {:>8} receipts/s\n",
        rate(submitted, old_sum(0)),
        rate(receipts, old_sum(2)),
    ));
    out.push_str(&format!(
        "queue {} waiting, {} webhook deliveries to retry\n",
        stats["waiting"].as_u64().unwrap_or(0),
        stats["webhooks_pending"].as_u64().unwrap_or(0),
    ));
    let by_status: Vec<String> = stats["by_status"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{} {}", p[0].as_str().unwrap_or("?"), p[1]))
        .collect();
    out.push_str(&format!("stored {}\n\n", by_status.join(" · ")));
    out.push_str(&format!(
        "{:<20} {:<10} {:<13} {:>10} {:>9} {:>10} {:>9}\n",
        "connector", "kind", "state", "submits/s", "failed/s", "receipts/s", "in flight"
    ));
    for c in connectors.as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("?");
        let cur = now.connectors.iter().find(|x| x.0 == name).map(|x| x.1);
        let old = prev.and_then(|p| p.connectors.iter().find(|x| x.0 == name).map(|x| x.1));
        let r = |i: usize| rate(cur.map_or(0, |c| c[i]), old.map(|o| o[i]));
        let state = c["state"].as_str().unwrap_or("?");
        let code = match state {
            "bound" => "32",
            "reconnecting" => "33",
            _ => "31",
        };
        // Padded before painting, so the escape codes do not shift the columns.
        let state = colour.paint(code, &format!("{state:<13}"));
        out.push_str(&format!(
            "{:<20} {:<10} {state} {:>10} {:>9} {:>10} {:>9}\n",
            name,
            c["kind"].as_str().unwrap_or("?"),
            r(0),
            r(1),
            r(2),
            c["in_flight"].as_u64().unwrap_or(0),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks_are_joined_and_keepalives_dropped() {
        let mut f = SseFrames::default();
        assert!(
            f.push(b": keepalive\n\nid: 7\nevent: message.st")
                .is_empty()
        );
        let got = f.push(b"atus\ndata: {\"a\":1}\n\n");
        assert_eq!(
            got,
            [SseFrame {
                id: "7".into(),
                event: "message.status".into(),
                data: "{\"a\":1}".into()
            }]
        );
    }

    #[test]
    fn a_delivered_status_is_green_on_a_terminal_and_plain_elsewhere() {
        let frame = SseFrame {
            id: "3".into(),
            event: "message.status".into(),
            data:
                r#"{"id":"evt_3","event":"message.status","created_at":"2026-01-02T03:04:05.678Z",
                "data":{"id":"0190","to":"+4915112345678","status":"delivered","connector":"sim"}}"#
                    .into(),
        };
        let plain = event_line(&frame, Colour(false));
        assert!(plain.starts_with("03:04:05.678"), "{plain}");
        for part in [
            "message.status",
            "0190",
            "+4915112345678",
            "delivered",
            "sim",
        ] {
            assert!(plain.contains(part), "{plain}");
        }
        let green = event_line(&frame, Colour(true));
        assert_eq!(green, format!("\x1b[32m{plain}\x1b[0m"));
    }

    #[test]
    fn alerts_are_yellow_and_failures_red() {
        let line = |event: &str, data: &str| {
            event_line(
                &SseFrame {
                    id: "1".into(),
                    event: event.into(),
                    data: format!(r#"{{"created_at":"2026-01-02T03:04:05Z","data":{data}}}"#),
                },
                Colour(true),
            )
        };
        assert!(
            line(
                "alert.raised",
                r#"{"id":4,"device_id":"pump","state":"open"}"#
            )
            .starts_with("\x1b[33m")
        );
        assert!(line("message.status", r#"{"status":"failed"}"#).starts_with("\x1b[31m"));
        assert!(!line("message.status", r#"{"status":"sent"}"#).contains('\x1b'));
    }
}
