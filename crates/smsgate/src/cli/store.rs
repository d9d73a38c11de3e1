//! `smsgate store copy`: moves a stopped gateway's data to PostgreSQL (README, "Scaling out"),
//! with a progress bar per table and the counts of both sides at the end.

use anyhow::{Context, bail};
use clap::Subcommand;

/// `smsgate store …`.
#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Copy every message, event, key, webhook, inbound SMS, opt-out and IoT record of a
    /// stopped gateway to an empty PostgreSQL store, then compare the counts.
    Copy {
        /// The store to copy from, e.g. `sqlite://smsgate-data/smsgate.db`.
        #[arg(long)]
        from: String,
        /// The empty PostgreSQL store to copy to, e.g. `postgres://smsgate@db/smsgate`.
        #[arg(long)]
        to: String,
    },
}

/// Runs a `store` command.
pub async fn run(action: StoreAction) -> anyhow::Result<()> {
    match action {
        StoreAction::Copy { from, to } => copy(&from, &to).await,
    }
}

async fn copy(from: &str, to: &str) -> anyhow::Result<()> {
    // A SQLite source must exist (opening would create it) and its gateway be stopped: the
    // data directory lock says so, and keeps it from starting while the copy runs.
    let _lock = match smsgate_connectors::sqlite_dir(from) {
        Some(dir) => {
            let file = from
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default();
            if !std::path::Path::new(file).is_file() {
                bail!("there is no SQLite store at {file} (--from)");
            }
            Some(
                crate::data_lock::lock(&dir)
                    .context("the gateway must be stopped to copy its store")?,
            )
        }
        None => None,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:24} {bar:40} {pos}/{len} rows, {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut current = String::new();
    let done = smsgate_store::copy::copy(from, to, |table, copied, total| {
        if table != current {
            current = table.to_owned();
            bar.reset();
            bar.set_length(total);
            bar.set_message(table.to_owned());
        }
        bar.set_position(copied);
    })
    .await
    .with_context(|| format!("copying {from} to {to}"))?;
    bar.finish_and_clear();
    println!("{:<24} {:>12} {:>12}", "table", "source", "copied");
    for c in &done {
        println!("{:<24} {:>12} {:>12}", c.table, c.source, c.destination);
    }
    let rows: u64 = done.iter().map(|c| c.destination).sum();
    println!(
        "copied {rows} rows in {} tables; every count matches. Point [store] url at {to} and \
         start the gateway (several nodes may share it).",
        done.len()
    );
    Ok(())
}
