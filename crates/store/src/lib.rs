//! Durable storage for smsgate: the [`smsgate_core::store::Store`] trait (and the IoT and
//! northbound stores) on SQLite, the embedded default (one file under `./smsgate-data/`), and
//! on PostgreSQL, for several gateway nodes on one database.
//!
//! # Durability
//! SQLite runs in WAL mode with `synchronous = FULL`: every commit fsyncs the WAL before it
//! returns, so a message acknowledged to a client survives a power cut, not only a process
//! crash. PostgreSQL commits are durable by its own WAL (`synchronous_commit = on`, its
//! default). The cost is one fsync per commit, which group commit spreads over every write
//! that arrived meanwhile (see `docs/benchmarks.md`).
//!
//! # Group commit
//! One writer task owns the only write connection. Write calls send an operation to it and
//! wait; the writer drains everything queued, runs it in one transaction, commits once and then
//! answers every caller. If one operation fails, the batch is rolled back and each operation is
//! retried in a transaction of its own, so one bad write never fails its neighbours. Reads use
//! a pool of connections beside the writer (read-only ones on SQLite, which WAL allows).
//!
//! # One SQL, two backends
//! The topic modules under `sql/` hold every query once. `sqlite` and `postgres` each compile
//! them (`#[path]` modules) against their own `db` module: the sqlx types, the placeholder
//! style (`?` numbered `$1…` on PostgreSQL by `sql!`, once per call site), the JSON
//! functions, the migrations, and what PostgreSQL needs for several nodes (see its docs).
//!
//! # Layout
//! - [`open`], [`open_all`]: open a store (and the IoT engine's store) from a URL:
//!   `sqlite://…` or `postgres://…`.
//! - `rows`: row decoding both backends share.
//! - `sqlite`, `postgres`: opening each database, its `db` module and migrations.
//! - `sql`: `writer` (group commit), `migrate` (the runner), `store` (the trait impls), then
//!   one module per topic, each with its writes and reads: `messages` (the outbound
//!   lifecycle), `claim` (fair claiming), `receipts` and `receipt_retry` (delivery receipts),
//!   `events` (timeline and outbox), `webhooks`, `keys` (API keys), `inbound` (received SMS),
//!   `northbound` (the SMPP server's submissions, long-message parts and client feeds), `iot`
//!   (the IoT engine's tables), `optouts`, `retention`, `nodes` (node beats and leases).
//! - [`copy`]: `smsgate store copy`, a stopped gateway's data to PostgreSQL.

// The topic modules under `sql/` are compiled once per backend (see `sqlite` and `postgres`),
// on purpose: one source of SQL, two type systems.
#![allow(clippy::duplicate_mod)]

/// A literal query's text for the backend the calling module is compiled for (`?`
/// placeholders become `$1`, `$2`, … on PostgreSQL), converted once per call site.
macro_rules! sql {
    ($text:literal) => {{
        static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        TEXT.get_or_init(|| super::db::dialect($text).into_owned())
            .as_str()
    }};
}

pub mod copy;
mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;

use smsgate_core::northbound::NorthboundStore;
use smsgate_core::store::{Store, StoreError};
use smsgate_iot::store::IotStore;

pub use postgres::{PgOptions, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore};

/// Opens the store a URL names, creating the file and applying migrations.
///
/// `sqlite://smsgate-data/smsgate.db` (relative to the working directory),
/// `sqlite:///var/lib/smsgate/smsgate.db` (absolute), `sqlite::memory:` (tests), or
/// `postgres://user:password@host:5432/database` (optionally `?schema=NAME`).
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
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = Arc::new(PgStore::open(url, PgOptions::default()).await?);
        return Ok(Backend {
            store: Arc::clone(&store) as Arc<dyn Store>,
            iot: Arc::clone(&store) as Arc<dyn IotStore>,
            northbound: store,
        });
    }
    Err(StoreError::Database(format!(
        "unsupported store url '{url}': use sqlite://path/to/file.db or \
         postgres://user@host/database"
    )))
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}
