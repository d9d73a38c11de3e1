//! Durable storage for smsgate: the [`smsgate_core::store::Store`] trait on SQLite (the
//! embedded default, one file under `./smsgate-data/`).
//!
//! # Durability
//! SQLite runs in WAL mode with `synchronous = FULL`: every commit fsyncs the WAL before it
//! returns, so a message acknowledged to a client survives a power cut, not only a process
//! crash. The cost is one fsync per commit, which group commit spreads over every write that
//! arrived meanwhile (see `docs/benchmarks.md`).
//!
//! # Group commit
//! One writer task owns the only write connection. Write calls send an operation to it and
//! wait; the writer drains everything queued, runs it in one transaction, commits once and then
//! answers every caller. If one operation fails, the batch is rolled back and each operation is
//! retried in a transaction of its own, so one bad write never fails its neighbours. Reads use
//! a pool of read-only connections, which WAL lets run beside the writer.
//!
//! # Layout
//! - [`open`], [`open_all`]: open a store (and the IoT engine's store) from a URL.
//! - `migrate`: embedded migrations and the runner (`schema_migrations` table).
//! - `sqlite`: the backend: `writer` (group commit), then one module per topic, each with its
//!   writes and reads: `messages` (the outbound lifecycle), `claim` (fair claiming), `receipts`
//!   and `receipt_retry` (delivery receipts), `events` (timeline and outbox), `webhooks`,
//!   `keys` (API keys), `inbound` (received SMS), `northbound` (the SMPP server's submissions,
//!   long-message parts and client feeds, migration 0002) and `iot` (the IoT engine's tables,
//!   migration 0003).

mod migrate;
mod sqlite;

use std::sync::Arc;

use smsgate_core::northbound::NorthboundStore;
use smsgate_core::store::{Store, StoreError};
use smsgate_iot::store::IotStore;

pub use sqlite::{SqliteOptions, SqliteStore};

/// Opens the store a URL names, creating the file and applying migrations.
///
/// `sqlite://smsgate-data/smsgate.db` (relative to the working directory),
/// `sqlite:///var/lib/smsgate/smsgate.db` (absolute) or `sqlite::memory:` (tests).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open_all(url).await?.store)
}

/// The faces of one backend: the message store, the IoT engine's store and the northbound
/// servers' store, over the same database (so each commits its messages and outbox events
/// together with its own changes).
#[derive(Clone)]
pub struct Backend {
    /// Messages, keys, webhooks, outbox.
    pub store: Arc<dyn Store>,
    /// Devices, rules, alerts, commands, telemetry.
    pub iot: Arc<dyn IotStore>,
    /// What the SMPP server keeps beside messages: submissions, parts, client feeds.
    pub northbound: Arc<dyn NorthboundStore>,
}

/// Opens the backend a URL names (see [`open`]).
pub async fn open_all(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        let store = Arc::new(SqliteStore::open(url, SqliteOptions::default()).await?);
        return Ok(Backend {
            store: Arc::clone(&store) as Arc<dyn Store>,
            iot: Arc::clone(&store) as Arc<dyn IotStore>,
            northbound: store,
        });
    }
    Err(StoreError::Database(format!(
        "unsupported store url '{url}': use sqlite://path/to/file.db"
    )))
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}
