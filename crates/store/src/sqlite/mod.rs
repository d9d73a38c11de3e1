//! The SQLite backend: a group-commit writer and a read-only pool over one WAL database file.
//!
//! The topic modules (`../sql/`) are shared with PostgreSQL and compiled here against
//! [`db`]; this module holds what only SQLite has: opening the file with its pragmas and
//! permissions, and its migrations.

/// What the shared SQL modules are compiled against here.
pub(crate) mod db {
    use std::borrow::Cow;

    pub(crate) type Db = sqlx::Sqlite;
    pub(crate) type Conn = sqlx::SqliteConnection;
    pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
    pub(crate) type Pool = sqlx::SqlitePool;
    pub(crate) type ConnectOpts = sqlx::sqlite::SqliteConnectOptions;

    /// One writer per file: nothing to take before a write transaction.
    pub(crate) const BATCH_LOCK: Option<&str> = None;

    /// One node per data directory (the gateway locks it).
    pub(crate) const SINGLE_NODE: bool = true;

    /// One writer: nothing else can hold a row the claim looks at.
    pub(crate) const SKIP_LOCKED: &str = "";

    /// SQLite takes the `?` placeholders as written.
    pub(crate) fn dialect(sql: &str) -> Cow<'_, str> {
        Cow::Borrowed(sql)
    }

    /// The text of JSON member `key` of a TEXT column.
    pub(crate) fn json_get(column: &str, key: &str) -> String {
        format!("json_extract({column}, '$.{key}')")
    }

    /// A TEXT column's JSON with member `key` set to the empty string.
    pub(crate) fn json_blank(column: &str, key: &str) -> String {
        format!("json_set({column}, '$.{key}', '')")
    }

    /// `(version, name, SQL)`, in order. Never edit a released entry: add a new one.
    pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
        (1, "init", include_str!("../../migrations/0001_init.sql")),
        (
            2,
            "northbound",
            include_str!("../../migrations/0002_northbound.sql"),
        ),
        (3, "iot", include_str!("../../migrations/0003_iot.sql")),
        (
            4,
            "fair_claims",
            include_str!("../../migrations/0004_fair_claims.sql"),
        ),
        (
            5,
            "receipt_retry",
            include_str!("../../migrations/0005_receipt_retry.sql"),
        ),
        (
            6,
            "part_content",
            include_str!("../../migrations/0006_part_content.sql"),
        ),
        (
            7,
            "status_filters",
            include_str!("../../migrations/0007_status_filters.sql"),
        ),
        (
            8,
            "tenants",
            include_str!("../../migrations/0008_tenants.sql"),
        ),
        (
            9,
            "optouts",
            include_str!("../../migrations/0009_optouts.sql"),
        ),
        (
            10,
            "consents",
            include_str!("../../migrations/0010_consents.sql"),
        ),
        (
            11,
            "quiet_hours",
            include_str!("../../migrations/0011_quiet_hours.sql"),
        ),
        (12, "nodes", include_str!("../../migrations/0012_nodes.sql")),
        (
            13,
            "inbound_rules",
            include_str!("../../migrations/0013_inbound_rules.sql"),
        ),
        (
            14,
            "binary",
            include_str!("../../migrations/0014_binary.sql"),
        ),
        (
            15,
            "inbound_binary",
            include_str!("../../migrations/0015_inbound_binary.sql"),
        ),
    ];
}

#[path = "../sql/claim.rs"]
mod claim;
#[path = "../sql/events.rs"]
mod events;
#[path = "../sql/inbound.rs"]
mod inbound;
#[path = "../sql/inbound_rules.rs"]
mod inbound_rules;
#[path = "../sql/iot.rs"]
mod iot;
#[path = "../sql/keys.rs"]
mod keys;
#[path = "../sql/messages.rs"]
mod messages;
#[path = "../sql/migrate.rs"]
mod migrate;
#[path = "../sql/nodes.rs"]
mod nodes;
#[path = "../sql/northbound.rs"]
mod northbound;
#[path = "../sql/optouts.rs"]
mod optouts;
#[path = "../sql/receipt_retry.rs"]
mod receipt_retry;
#[path = "../sql/receipts.rs"]
mod receipts;
#[path = "../sql/retention.rs"]
mod retention;
#[path = "../sql/store.rs"]
mod store;
#[path = "../sql/webhooks.rs"]
mod webhooks;
#[path = "../sql/writer.rs"]
mod writer;

use std::str::FromStr;
use std::time::Duration;

use smsgate_core::store::{StoreError, StoreResult};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::db_err;
use crate::rows::*;
use writer::Writer;

/// The SQLite store.
pub use store::DbStore as SqliteStore;

/// Applies the SQLite migrations to `conn` (the canonical schema `store copy` reads).
pub(crate) async fn migrate_connection(conn: &mut sqlx::SqliteConnection) -> StoreResult<()> {
    migrate::run(conn, 0).await.map(|_| ())
}

/// Tuning of the SQLite backend.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Most operations committed together. Default 512.
    pub max_batch: usize,
    /// Read connections. Default 4.
    pub readers: u32,
    /// `FULL` (default) fsyncs every commit; `NORMAL` survives a process crash but may lose the
    /// last commits on power loss.
    pub synchronous_full: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_batch: 512,
            readers: 4,
            synchronous_full: true,
        }
    }
}

/// Sets a file's or directory's permission bits (Unix; elsewhere a no-op).
fn restrict(path: &std::path::Path, mode: u32) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
            StoreError::Database(format!(
                "cannot set permissions {mode:o} on {}: {e}",
                path.display()
            ))
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str, options: SqliteOptions) -> StoreResult<Self> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("bad store url '{url}': {e}")))?;
        let file = base.get_filename().to_path_buf();
        if let Some(parent) = file.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
            // A directory we made holds message bodies and key hashes: owner only. One that
            // existed (say /var/lib) is the operator's to set.
            restrict(parent, 0o700)?;
        }
        let sync = if options.synchronous_full {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        };
        let write_opts = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sync)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16000")
            .disable_statement_logging();
        let mut conn = write_opts.connect().await.map_err(db_err)?;
        // The database and its WAL files: owner only (SQLite creates later WAL files with the
        // database's mode).
        for suffix in ["", "-wal", "-shm"] {
            let mut name = file.clone().into_os_string();
            name.push(suffix);
            let path = std::path::PathBuf::from(name);
            if path.is_file() {
                restrict(&path, 0o600)?;
            }
        }
        migrate::run(&mut conn, now_ms()).await?;
        let read_opts = base
            .journal_mode(SqliteJournalMode::Wal)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(read_opts)
            .await
            .map_err(db_err)?;
        Ok(Self {
            writer: Writer::spawn(conn, options.max_batch),
            pool,
            claim_cursor: std::sync::Mutex::default(),
            node: store::new_node_id(),
        })
    }
}
