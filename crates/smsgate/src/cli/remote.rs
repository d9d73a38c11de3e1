//! The commands that only talk to a running gateway over HTTP (`send`, `route`, `sessions`,
//! `status`, `messages`), and [`Remote`], the flags every such command shares, so none of them
//! ever opens the store behind the gateway's back.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::client::Client;

/// Where a running gateway is, for remote commands.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// Gateway URL.
    #[arg(long, env = "SMSGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key.
    #[arg(
        long,
        env = "SMSGATE_KEY",
        default_value = "",
        hide_default_value = true
    )]
    pub key: String,
}

/// `smsgate send`: one message from flags, or a whole CSV file through the batch endpoint.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// Destination (E.164).
    #[arg(long, required_unless_present = "file")]
    pub to: Option<String>,
    /// Sender id.
    #[arg(long)]
    pub from: Option<String>,
    /// CSV file for a bulk send.
    #[arg(long, conflicts_with_all = ["to", "text"])]
    pub file: Option<PathBuf>,
    /// The text.
    #[arg(required_unless_present = "file")]
    pub text: Option<String>,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// `smsgate route`: asks the gateway's live route table, so the answer is the one in force.
#[derive(Args, Debug)]
pub struct RouteArgs {
    /// Destination (E.164).
    pub to: String,
    /// Sender id the message would carry.
    #[arg(long)]
    pub from: Option<String>,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// `smsgate status`: one message and its timeline, to see where it is and why.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Message id.
    pub id: String,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// `smsgate messages`: the newest messages, one line each, for a quick look at the queue.
#[derive(Args, Debug)]
pub struct MessagesArgs {
    /// Only this status.
    #[arg(long)]
    pub status: Option<String>,
    /// How many.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// Runs `send`: a single `POST /v1/messages`, or `send_file` for `--file`.
pub async fn send(a: SendArgs) -> anyhow::Result<()> {
    let SendArgs {
        to,
        from,
        file,
        text,
        remote,
    } = a;
    let client = Client::new(&remote.url, &remote.key)?;
    match file {
        Some(f) => send_file(&client, &f).await,
        None => {
            let body = json!({"to": to, "text": text, "from": from});
            let r = client.post("/v1/messages", &body).await?;
            println!(
                "{} queued ({} part(s), {})",
                r["id"].as_str().unwrap_or("?"),
                r["segments"],
                r["encoding"].as_str().unwrap_or("?")
            );
            Ok(())
        }
    }
}

/// Runs `route`: prints the connectors the gateway would try, in order, and its reason.
pub async fn route(a: RouteArgs) -> anyhow::Result<()> {
    let RouteArgs { to, from, remote } = a;
    let client = Client::new(&remote.url, &remote.key)?;
    let mut path = format!("/v1/routes?to={}", urlencode(&to));
    if let Some(f) = &from {
        path.push_str(&format!("&from={}", urlencode(f)));
    }
    let r = client.get(&path).await?;
    let m = &r["match"];
    let names: Vec<&str> = m["connectors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    println!("to:         {}", m["to"].as_str().unwrap_or(&to));
    if names.is_empty() {
        println!("connectors: none");
    } else {
        println!("connectors: {}", names.join(" → "));
    }
    println!("why:        {}", m["reason"].as_str().unwrap_or("?"));
    Ok(())
}

/// Runs `sessions`: the SMPP server's bound clients as a table (admin key).
pub async fn sessions(remote: Remote) -> anyhow::Result<()> {
    let client = Client::new(&remote.url, &remote.key)?;
    let r = client.get("/v1/smpp/sessions").await?;
    let sessions = r["sessions"].as_array().cloned().unwrap_or_default();
    if sessions.is_empty() {
        println!("no SMPP client is bound");
        return Ok(());
    }
    println!(
        "{:<8} {:<15} {:<12} {:<5} {:<22} since",
        "session", "system_id", "bind", "tls", "peer"
    );
    for s in &sessions {
        println!(
            "{:<8} {:<15} {:<12} {:<5} {:<22} {}",
            s["session"],
            s["system_id"].as_str().unwrap_or(""),
            s["bind"].as_str().unwrap_or(""),
            if s["tls"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            s["peer"].as_str().unwrap_or(""),
            s["bound_at"].as_str().unwrap_or(""),
        );
    }
    Ok(())
}

/// Runs `status`.
pub async fn status(a: StatusArgs) -> anyhow::Result<()> {
    let StatusArgs { id, remote } = a;
    let client = Client::new(&remote.url, &remote.key)?;
    let m = client.get(&format!("/v1/messages/{id}")).await?;
    print_message(&m);
    Ok(())
}

/// Runs `messages`: id, status, destination and the start of the text, newest first.
pub async fn messages(a: MessagesArgs) -> anyhow::Result<()> {
    let MessagesArgs {
        status,
        limit,
        remote,
    } = a;
    let client = Client::new(&remote.url, &remote.key)?;
    let mut path = format!("/v1/messages?limit={limit}");
    if let Some(s) = status {
        path.push_str(&format!("&status={s}"));
    }
    let page = client.get(&path).await?;
    for m in page["data"].as_array().into_iter().flatten() {
        println!(
            "{}  {:<11}  {:<16}  {}",
            m["id"].as_str().unwrap_or(""),
            m["status"].as_str().unwrap_or(""),
            m["to"].as_str().unwrap_or(""),
            m["text"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect::<String>()
        );
    }
    Ok(())
}

/// Percent-encodes a query value (`+` in E.164 numbers must not become a space).
pub(crate) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_message(m: &Value) {
    let s = |k: &str| m[k].as_str().unwrap_or("-").to_owned();
    println!("id:        {}", s("id"));
    println!("to:        {}", s("to"));
    println!("status:    {}", s("status"));
    println!("parts:     {} ({})", m["segments"], s("encoding"));
    println!("connector: {}", s("connector"));
    if let Some(code) = m["error_code"].as_str() {
        println!("error:     {code}: {}", s("error_message"));
    }
    println!("timeline:");
    for e in m["events"].as_array().into_iter().flatten() {
        let detail = e["detail"]
            .as_str()
            .map(|d| format!("  ({d})"))
            .unwrap_or_default();
        println!(
            "  {}  {}{detail}",
            e["at"].as_str().unwrap_or(""),
            e["event"].as_str().unwrap_or("")
        );
    }
}

async fn send_file(client: &Client, path: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows =
        crate::csv::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if rows
        .first()
        .is_some_and(|r| r.first().map(|c| c.trim()) == Some("to"))
    {
        rows.remove(0);
    }
    if rows.is_empty() {
        bail!("{} has no rows (columns: to,text[,from])", path.display());
    }
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} sent to the queue, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut accepted, mut rejected) = (0usize, Vec::new());
    for (chunk_no, chunk) in rows.chunks(500).enumerate() {
        let messages: Vec<Value> = chunk
            .iter()
            .map(|r| {
                json!({"to": r.first().map(|s| s.trim()), "text": r.get(1),
                       "from": r.get(2).map(|s| s.trim()).filter(|s| !s.is_empty())})
            })
            .collect();
        let res = client
            .post("/v1/messages/batch", &json!({"messages": messages}))
            .await?;
        accepted += res["accepted"].as_u64().unwrap_or(0) as usize;
        for e in res["messages"].as_array().into_iter().flatten() {
            if e["status"] == "rejected" {
                let line = chunk_no * 500 + e["index"].as_u64().unwrap_or(0) as usize + 1;
                rejected.push(format!(
                    "row {line}: {}",
                    e["error"]["message"].as_str().unwrap_or("?")
                ));
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    println!("{accepted} queued, {} rejected", rejected.len());
    for r in &rejected {
        println!("  {r}");
    }
    Ok(())
}
