//! `smsgate devices …` and `smsgate alerts …`: the IoT devices, their commands and alerts from a
//! terminal, through a running gateway's API (the engine owns the state, so the CLI never opens
//! the store behind its back). The contacts, groups and rules they are alerted through are in
//! [`registry`].

pub mod registry;

use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use crate::cli::remote::Remote;
use crate::client::Client;

/// `devices` subcommands.
#[derive(Subcommand, Debug)]
pub enum DevicesAction {
    /// List devices with their last readings.
    List {
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one device: registry entry, last readings and recent telemetry.
    Show {
        /// Device id.
        id: String,
        /// How many telemetry messages to show.
        #[arg(long, default_value_t = 10)]
        history: u32,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Register a device (or replace the one with this id).
    Add {
        /// Device id (letters, digits, `-`, `_`, `.`).
        id: String,
        /// Its SIM's number (E.164); only this number can feed its telemetry.
        #[arg(long)]
        number: String,
        /// Display name used in alert texts.
        #[arg(long)]
        name: Option<String>,
        /// Device group that rules can target.
        #[arg(long)]
        group: Option<String>,
        /// Tags that rules can target (repeat the option).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Telemetry format: `kv` (`T=85.2C;P=1.9`), `json` or `regex` (with --pattern).
        #[arg(long)]
        format: Option<String>,
        /// Regular expression with named captures, for `--format regex`.
        #[arg(long)]
        pattern: Option<String>,
        /// Commands it accepts, comma separated (e.g. `OFF,ON,STATUS`).
        #[arg(long, value_delimiter = ',')]
        commands: Vec<String>,
        /// Expected interval between its messages (e.g. `1h`); silence raises `silent` alerts.
        #[arg(long)]
        heartbeat: Option<String>,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a device.
    Remove {
        /// Device id.
        id: String,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Send a command to a device and, with --wait, follow it until the device answers.
    Command {
        /// Device id.
        id: String,
        /// The command text, e.g. `OFF`.
        command: String,
        /// Regular expression the reply must match to count as acknowledged.
        #[arg(long)]
        expect: Option<String>,
        /// Time the device has to answer, e.g. `2m`.
        #[arg(long)]
        timeout: Option<String>,
        /// Wait until the command is acknowledged, failed or timed out.
        #[arg(long)]
        wait: bool,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `alerts` subcommands.
#[derive(Subcommand, Debug)]
pub enum AlertsAction {
    /// List alerts, newest first.
    List {
        /// Only this state: `open`, `acknowledged` or `resolved`.
        #[arg(long)]
        state: Option<String>,
        /// Only this device.
        #[arg(long)]
        device: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Acknowledge an alert (stops its escalation), as a reply `ACK <id>` would.
    Ack {
        /// Alert number.
        id: i64,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
}

/// Runs a `devices` subcommand.
pub async fn devices(action: DevicesAction) -> anyhow::Result<()> {
    match action {
        DevicesAction::List { remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let all = client.get("/v1/devices").await?;
            let rows = all.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("no devices (add one with `smsgate devices add ID --number +…`)");
            }
            for d in rows {
                println!(
                    "{:<16} {:<16} {:<20} last seen {:<20} {}",
                    d["id"].as_str().unwrap_or(""),
                    d["number"].as_str().unwrap_or(""),
                    d["name"].as_str().unwrap_or(""),
                    d["last_seen_at"].as_str().unwrap_or("never"),
                    readings(&d["readings"])
                );
            }
            Ok(())
        }
        DevicesAction::Show {
            id,
            history,
            remote,
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let d = client.get(&format!("/v1/devices/{}", seg(&id))).await?;
            println!("device:     {}", d["id"].as_str().unwrap_or(&id));
            println!("name:       {}", d["name"].as_str().unwrap_or(""));
            println!("number:     {}", d["number"].as_str().unwrap_or(""));
            if let Some(g) = d["group"].as_str() {
                println!("group:      {g}");
            }
            if let Some(t) = d["tags"].as_array().filter(|t| !t.is_empty()) {
                println!("tags:       {}", list(t));
            }
            if let Some(c) = d["commands"].as_array().filter(|c| !c.is_empty()) {
                println!("commands:   {}", list(c));
            }
            println!(
                "last seen:  {}",
                d["last_seen_at"].as_str().unwrap_or("never")
            );
            println!("readings:   {}", readings(&d["readings"]));
            let t = client
                .get(&format!(
                    "/v1/devices/{}/telemetry?limit={}",
                    seg(&id),
                    history.clamp(1, 500)
                ))
                .await?;
            let rows = t["data"].as_array().cloned().unwrap_or_default();
            if !rows.is_empty() {
                println!("telemetry (newest first):");
            }
            for r in rows {
                let status = r["status"].as_str().unwrap_or("");
                let detail = match r["reason"].as_str() {
                    Some(why) => format!("{status}: {why}"),
                    None => status.to_owned(),
                };
                println!(
                    "  {}  {:<40} {}",
                    r["received_at"].as_str().unwrap_or(""),
                    r["text"].as_str().unwrap_or(""),
                    detail
                );
            }
            Ok(())
        }
        DevicesAction::Add {
            id,
            number,
            name,
            group,
            tags,
            format,
            pattern,
            commands,
            heartbeat,
            remote,
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("number".into(), json!(number));
            body.insert("name".into(), json!(name.unwrap_or_else(|| id.clone())));
            let optional = [
                ("group", group),
                ("format", format),
                ("pattern", pattern),
                ("heartbeat", heartbeat),
            ];
            for (k, v) in optional {
                if let Some(v) = v {
                    body.insert(k.into(), json!(v));
                }
            }
            body.insert("tags".into(), json!(tags));
            body.insert("commands".into(), json!(commands));
            let body = Value::Object(body);
            // PUT creates or replaces, so running the same `add` twice converges.
            let d = client
                .put(&format!("/v1/devices/{}", seg(&id)), &body)
                .await?;
            println!(
                "device {} registered for {}",
                d["id"].as_str().unwrap_or(&id),
                d["number"].as_str().unwrap_or("")
            );
            Ok(())
        }
        DevicesAction::Remove { id, remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            client.delete(&format!("/v1/devices/{}", seg(&id))).await?;
            println!("device {id} removed");
            Ok(())
        }
        DevicesAction::Command {
            id,
            command,
            expect,
            timeout,
            wait,
            remote,
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let mut body = json!({"command": command});
            if let Some(e) = expect {
                body["expect"] = json!(e);
            }
            if let Some(t) = timeout {
                body["timeout"] = json!(t);
            }
            let path = format!("/v1/devices/{}/commands", seg(&id));
            let mut c = client.post(&path, &body).await?;
            let cid = c["id"].as_i64().unwrap_or_default();
            println!(
                "command {cid} to {id}: {} (answer due by {})",
                c["state"].as_str().unwrap_or("?"),
                c["deadline"].as_str().unwrap_or("?")
            );
            if !wait {
                return Ok(());
            }
            let mut last = c["state"].as_str().unwrap_or("").to_owned();
            loop {
                let state = c["state"].as_str().unwrap_or("").to_owned();
                if state != last {
                    println!("command {cid}: {state}");
                    last = state.clone();
                }
                match state.as_str() {
                    "acknowledged" => {
                        println!("reply: {}", c["reply"].as_str().unwrap_or(""));
                        return Ok(());
                    }
                    "failed" | "timed_out" => {
                        let why = c["error"]
                            .as_str()
                            .or(c["reply"].as_str())
                            .unwrap_or("no answer");
                        bail!("command {cid} {state}: {why}");
                    }
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                c = client.get(&format!("{path}/{cid}")).await?;
            }
        }
    }
}

/// Runs an `alerts` subcommand.
pub async fn alerts(action: AlertsAction) -> anyhow::Result<()> {
    match action {
        AlertsAction::List {
            state,
            device,
            limit,
            remote,
        } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let mut path = format!("/v1/alerts?limit={}", limit.clamp(1, 500));
            if let Some(s) = state {
                path.push_str(&format!("&state={}", seg(&s)));
            }
            if let Some(d) = device {
                path.push_str(&format!("&device={}", seg(&d)));
            }
            let page = client.get(&path).await?;
            let rows = page["data"].as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("no alerts");
            }
            for a in rows {
                println!(
                    "#{:<5} {:<13} {:<9} {:<14} level {}  {}  {}",
                    a["id"],
                    a["state"].as_str().unwrap_or(""),
                    a["severity"].as_str().unwrap_or(""),
                    a["device_id"].as_str().unwrap_or(""),
                    a["level"],
                    a["raised_at"].as_str().unwrap_or(""),
                    a["text"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        AlertsAction::Ack { id, remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let a = client
                .post(&format!("/v1/alerts/{id}/ack"), &json!({}))
                .await?;
            println!(
                "alert #{id} {}",
                a["state"].as_str().unwrap_or("acknowledged")
            );
            Ok(())
        }
    }
}

/// `T=85.2 C, P=1.9` from a readings object (`{"T": {"value": 85.2, "unit": "C"}}`).
fn readings(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return String::new();
    };
    map.iter()
        .map(|(k, r)| {
            let value = match &r["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match r["unit"].as_str() {
                Some(u) if !u.is_empty() => format!("{k}={value} {u}"),
                _ => format!("{k}={value}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(v: &[Value]) -> String {
    v.iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Percent-encodes a path segment or query value.
fn seg(v: &str) -> String {
    crate::cli::remote::urlencode(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_show_values_with_units_and_plain_values() {
        let v = json!({"T": {"value": 85.2, "unit": "C"}, "door": {"value": "open"}});
        assert_eq!(readings(&v), "T=85.2 C, door=open");
        assert_eq!(readings(&Value::Null), "");
    }
}
