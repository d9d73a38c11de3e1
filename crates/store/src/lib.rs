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
//! - [`open`]: opens a store from a URL (`sqlite://path`).
//! - `migrate`: embedded migrations and the runner (`schema_migrations` table).
//! - `sqlite`: the backend: `writer` (group commit), `write` (write operations), `read`
//!   (queries and row mapping).

mod migrate;
mod sqlite;

use std::sync::Arc;

use smsgate_core::store::{Store, StoreError};

pub use sqlite::{SqliteOptions, SqliteStore};

/// Opens the store a URL names, creating the file and applying migrations.
///
/// `sqlite://smsgate-data/smsgate.db` (relative to the working directory),
/// `sqlite:///var/lib/smsgate/smsgate.db` (absolute) or `sqlite::memory:` (tests).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url, SqliteOptions::default()).await?;
        return Ok(Arc::new(store));
    }
    Err(StoreError::Database(format!(
        "unsupported store url '{url}': use sqlite://path/to/file.db"
    )))
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}
