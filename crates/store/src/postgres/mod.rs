//! The PostgreSQL backend: the same group-commit writer and topic modules as SQLite
//! (`../sql/`, compiled here against [`db`]), over one write connection and a read pool.
//!
//! What differs from SQLite lives here: placeholders (`$1` instead of `?`), JSON functions,
//! the schema (`migrations/postgres/`), and what several nodes on one database need: every
//! write transaction first takes one transaction-level advisory lock, so commits that append
//! events happen one after another across nodes and an event sequence number is never
//! committed after a larger one (the outbox cursors read `events` in `seq` order and would
//! skip it otherwise); migrations run under a session advisory lock, so nodes starting
//! together do not apply them twice.

/// What the shared SQL modules are compiled against here.
pub(crate) mod db {
    use std::borrow::Cow;

    pub(crate) type Db = sqlx::Postgres;
    pub(crate) type Conn = sqlx::PgConnection;
    pub(crate) type DbRow = sqlx::postgres::PgRow;
    pub(crate) type Pool = sqlx::PgPool;
    pub(crate) type ConnectOpts = sqlx::postgres::PgConnectOptions;

    /// The query with its `?` placeholders numbered `$1`, `$2`, … (quoted text left alone).
    pub(crate) fn dialect(sql: &str) -> Cow<'_, str> {
        if !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let (mut n, mut quoted) = (0, false);
        for ch in sql.chars() {
            match ch {
                '\'' => {
                    quoted = !quoted;
                    out.push(ch);
                }
                '?' if !quoted => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(ch),
            }
        }
        Cow::Owned(out)
    }

    /// The text of JSON member `key` of a TEXT column.
    pub(crate) fn json_get(column: &str, key: &str) -> String {
        format!("(({column})::jsonb ->> '{key}')")
    }

    /// A TEXT column's JSON with member `key` set to the empty string.
    pub(crate) fn json_blank(column: &str, key: &str) -> String {
        format!("(jsonb_set(({column})::jsonb, '{{{key}}}', '\"\"'))::text")
    }

    /// Several nodes share the database.
    pub(crate) const SINGLE_NODE: bool = false;

    /// A claim passes over rows another node's claim has locked instead of waiting for them.
    pub(crate) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

    /// Taken first in every write transaction (see the module doc).
    pub(crate) const BATCH_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7353001)");

    /// One migration brings a fresh database to the SQLite schema's version 11; later ones
    /// keep the numbers of their SQLite twins.
    pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
        (
            11,
            "init",
            include_str!("../../migrations/postgres/0001_init.sql"),
        ),
        (
            12,
            "nodes",
            include_str!("../../migrations/postgres/0012_nodes.sql"),
        ),
        (
            13,
            "inbound_rules",
            include_str!("../../migrations/postgres/0013_inbound_rules.sql"),
        ),
        (
            14,
            "binary",
            include_str!("../../migrations/postgres/0014_binary.sql"),
        ),
        (
            15,
            "inbound_binary",
            include_str!("../../migrations/postgres/0015_inbound_binary.sql"),
        ),
    ];

    #[cfg(test)]
    mod tests {
        #[test]
        fn placeholders_are_numbered_outside_quotes() {
            assert_eq!(
                super::dialect("SELECT '?' , a FROM t WHERE b = ? AND c IN (?, ?)"),
                "SELECT '?' , a FROM t WHERE b = $1 AND c IN ($2, $3)"
            );
            assert_eq!(super::dialect("SELECT 1"), "SELECT 1");
        }
    }
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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::db_err;
use crate::rows::*;
use writer::Writer;

/// The PostgreSQL store.
pub use store::DbStore as PgStore;

/// Tuning of the PostgreSQL backend.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Most operations committed together. Default 512.
    pub max_batch: usize,
    /// Read connections. Default 8.
    pub readers: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_batch: 512,
            readers: 8,
        }
    }
}

/// Splits smsgate's own `schema=NAME` parameter off a PostgreSQL URL: the schema the store
/// lives in (created if missing), so several gateways or test runs can share one database.
fn split_schema(url: &str) -> StoreResult<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", name)) => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(StoreError::Database(format!(
                        "bad schema '{name}' in store url: use letters, digits and _"
                    )));
                }
                schema = Some(name.to_owned());
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, schema))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db`, optionally
    /// `?schema=NAME`) and applies migrations.
    pub async fn open(url: &str, options: PgOptions) -> StoreResult<Self> {
        let (plain, schema) = split_schema(url)?;
        // `smsgate/SCHEMA` in pg_stat_activity tells the operator which gateway a connection is.
        let app = match &schema {
            Some(s) => format!("smsgate/{s}"),
            None => "smsgate".to_owned(),
        };
        let mut base = PgConnectOptions::from_str(&plain)
            .map_err(|e| StoreError::Database(format!("bad store url: {e}")))?
            .application_name(&app)
            .disable_statement_logging();
        if let Some(schema) = &schema {
            let mut conn = base.connect().await.map_err(connect_err)?;
            sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&mut conn)
                .await
                .map_err(db_err)?;
            conn.close().await.map_err(db_err)?;
            base = base.options([("search_path", schema.as_str())]);
        }
        let mut conn = base.connect().await.map_err(connect_err)?;
        sqlx::query("SELECT pg_advisory_lock(7353000)")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
        let migrated = migrate::run(&mut conn, now_ms()).await;
        sqlx::query("SELECT pg_advisory_unlock(7353000)")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(base.clone())
            .await
            .map_err(connect_err)?;
        Ok(Self {
            writer: Writer::spawn_reconnecting(conn, options.max_batch, base),
            pool,
            claim_cursor: std::sync::Mutex::default(),
            node: store::new_node_id(),
        })
    }
}

/// A failed connection, said so that the operator knows where to look.
fn connect_err(e: sqlx::Error) -> StoreError {
    StoreError::Database(format!("cannot connect to PostgreSQL: {e}"))
}
