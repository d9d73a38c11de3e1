//! `smsgate store copy`: moving a stopped gateway's data to another store, e.g. from the
//! embedded SQLite file up to PostgreSQL when one node is no longer enough.
//!
//! Every table of the schema is copied row by row in pages, in the order of its rows, with the
//! column list and types of the canonical (SQLite) schema, so the copy is exact: ids, times,
//! statuses, events with their sequence numbers and the cursors in `kv` (webhook, compliance,
//! SMPP feeds) all carry over, and the gateway started on the copy goes on where the old one
//! stopped. Node rows and leases are not copied (they belong to running gateways). The
//! destination must be empty of messages, keys and inbound SMS; its seeded rows are replaced.
//! Identity sequences on PostgreSQL are moved past the copied values. The counts of both sides
//! are compared at the end.

use smsgate_core::store::{StoreError, StoreResult};
use sqlx::{Connection, Row};

use crate::db_err;

/// Rows per read and per multi-row insert (PostgreSQL allows 65 535 parameters; the widest
/// table has 25 columns).
const PAGE: i64 = 500;

/// The tables copied, in this order.
pub const TABLES: &[&str] = &[
    "tenants",
    "api_keys",
    "audit_log",
    "webhooks",
    "messages",
    "message_parts",
    "orphan_receipts",
    "events",
    "webhook_deliveries",
    "inbound_messages",
    "northbound_submissions",
    "kv",
    "optouts",
    "consents",
    "inbound_rules",
    "iot_devices",
    "iot_contacts",
    "iot_groups",
    "iot_rules",
    "iot_conditions",
    "iot_alerts",
    "iot_commands",
    "iot_telemetry",
];

/// One table's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source: u64,
    /// Rows in the destination afterwards.
    pub destination: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
}

/// A column value, typed as the schema declares it (PostgreSQL wants typed NULLs too).
#[derive(Clone, Debug)]
enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

struct Table {
    name: &'static str,
    columns: Vec<(String, Kind)>,
    key: Vec<String>,
}

/// The canonical schema: the SQLite migrations applied to an in-memory database.
async fn schema() -> StoreResult<Vec<Table>> {
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .map_err(db_err)?;
    crate::sqlite::migrate_connection(&mut conn).await?;
    let mut tables = Vec::new();
    for &name in TABLES {
        let rows = sqlx::query(&format!("PRAGMA table_info({name})"))
            .fetch_all(&mut conn)
            .await
            .map_err(db_err)?;
        let mut columns = Vec::new();
        let mut key: Vec<(i64, String)> = Vec::new();
        for r in &rows {
            let col: String = r.try_get(1).map_err(db_err)?;
            let ty: String = r.try_get(2).map_err(db_err)?;
            let pk: i64 = r.try_get(5).map_err(db_err)?;
            let kind = match ty.to_ascii_uppercase().as_str() {
                "INTEGER" | "BIGINT" => Kind::Int,
                "REAL" => Kind::Real,
                _ => Kind::Text,
            };
            if pk > 0 {
                key.push((pk, col.clone()));
            }
            columns.push((col, kind));
        }
        if columns.is_empty() {
            return Err(StoreError::Database(format!(
                "table {name} missing in the schema"
            )));
        }
        key.sort();
        tables.push(Table {
            name,
            columns,
            key: key.into_iter().map(|k| k.1).collect(),
        });
    }
    Ok(tables)
}

macro_rules! read_row {
    ($row:expr, $columns:expr, $offset:expr) => {{
        let mut out = Vec::with_capacity($columns.len());
        for (i, (_, kind)) in $columns.iter().enumerate() {
            let i = i + $offset;
            out.push(match kind {
                Kind::Int => Value::Int($row.try_get(i).map_err(db_err)?),
                Kind::Real => Value::Real($row.try_get(i).map_err(db_err)?),
                Kind::Text => Value::Text($row.try_get(i).map_err(db_err)?),
            });
        }
        out
    }};
}

/// Where rows come from.
enum Source {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Source {
    async fn count(&self, table: &str) -> StoreResult<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = match self {
            Source::Sqlite(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
            Source::Postgres(p) => sqlx::query_scalar(&sql).fetch_one(p).await,
        }
        .map_err(db_err)?;
        Ok(n as u64)
    }

    /// The next page after `after` (SQLite: a rowid; PostgreSQL: an offset), and where the
    /// page after it starts.
    async fn page(&self, t: &Table, after: i64) -> StoreResult<(Vec<Vec<Value>>, i64)> {
        let cols: Vec<&str> = t.columns.iter().map(|c| c.0.as_str()).collect();
        let cols = cols.join(", ");
        match self {
            Source::Sqlite(p) => {
                let sql = format!(
                    "SELECT rowid, {cols} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    t.name
                );
                let rows = sqlx::query(&sql)
                    .bind(after)
                    .bind(PAGE)
                    .fetch_all(p)
                    .await
                    .map_err(db_err)?;
                let mut next = after;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    next = r.try_get(0).map_err(db_err)?;
                    out.push(read_row!(r, t.columns, 1));
                }
                Ok((out, next))
            }
            Source::Postgres(p) => {
                let order = if t.name == "northbound_submissions" {
                    "rowid".to_owned()
                } else {
                    t.key.join(", ")
                };
                let sql = format!(
                    "SELECT {cols} FROM {} ORDER BY {order} LIMIT $1 OFFSET $2",
                    t.name
                );
                let rows = sqlx::query(&sql)
                    .bind(PAGE)
                    .bind(after)
                    .fetch_all(p)
                    .await
                    .map_err(db_err)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push(read_row!(r, t.columns, 0));
                }
                let next = after + out.len() as i64;
                Ok((out, next))
            }
        }
    }
}

async fn insert(p: &sqlx::PgPool, t: &Table, rows: &[Vec<Value>]) -> StoreResult<()> {
    let cols: Vec<&str> = t.columns.iter().map(|c| c.0.as_str()).collect();
    let mut b: sqlx::QueryBuilder<sqlx::Postgres> =
        sqlx::QueryBuilder::new(format!("INSERT INTO {} ({}) ", t.name, cols.join(", ")));
    b.push_values(rows, |mut r, row| {
        for v in row {
            match v {
                Value::Int(x) => r.push_bind(*x),
                Value::Real(x) => r.push_bind(*x),
                Value::Text(x) => r.push_bind(x.clone()),
            };
        }
    });
    b.build().execute(p).await.map_err(db_err)?;
    Ok(())
}

/// Copies every table from the store at `from` to the (empty) PostgreSQL store at `to`;
/// `progress(table, copied, total)` after every page. Fails, naming the table, when a count
/// differs at the end.
pub async fn copy(
    from: &str,
    to: &str,
    mut progress: impl FnMut(&str, u64, u64),
) -> StoreResult<Vec<Copied>> {
    if !(to.starts_with("postgres:") || to.starts_with("postgresql:")) {
        return Err(StoreError::Database(format!(
            "store copy writes to PostgreSQL (postgres://…), not '{to}'"
        )));
    }
    let tables = schema().await?;
    let source = if from.starts_with("sqlite:") {
        Source::Sqlite(
            crate::SqliteStore::open(from, Default::default())
                .await?
                .read_pool(),
        )
    } else if from.starts_with("postgres:") || from.starts_with("postgresql:") {
        Source::Postgres(
            crate::PgStore::open(from, Default::default())
                .await?
                .read_pool(),
        )
    } else {
        return Err(StoreError::Database(format!(
            "unsupported store url '{from}': use sqlite://… or postgres://…"
        )));
    };
    let dest = crate::PgStore::open(to, Default::default())
        .await?
        .read_pool();
    for table in ["messages", "api_keys", "inbound_messages"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&dest)
            .await
            .map_err(db_err)?;
        if n > 0 {
            return Err(StoreError::Database(format!(
                "the destination already holds data ({n} rows in {table}): copy into a new \
                 database or schema"
            )));
        }
    }
    let mut done = Vec::with_capacity(tables.len());
    for t in &tables {
        let total = source.count(t.name).await?;
        sqlx::query(&format!("DELETE FROM {}", t.name))
            .execute(&dest)
            .await
            .map_err(db_err)?;
        let (mut after, mut copied) = (0i64, 0u64);
        progress(t.name, 0, total);
        loop {
            let (rows, next) = source.page(t, after).await?;
            if rows.is_empty() {
                break;
            }
            insert(&dest, t, &rows).await?;
            copied += rows.len() as u64;
            after = next;
            progress(t.name, copied, total);
        }
        let destination: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", t.name))
            .fetch_one(&dest)
            .await
            .map_err(db_err)?;
        done.push(Copied {
            table: t.name,
            source: total,
            destination: destination as u64,
        });
    }
    // Identity columns continue after the copied values.
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE is_identity = 'YES' AND table_schema = current_schema()",
    )
    .fetch_all(&dest)
    .await
    .map_err(db_err)?;
    for (table, column) in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        ))
        .execute(&dest)
        .await
        .map_err(db_err)?;
    }
    if let Some(bad) = done.iter().find(|c| c.source != c.destination) {
        return Err(StoreError::Database(format!(
            "table {}: {} rows in the source but {} in the destination",
            bad.table, bad.source, bad.destination
        )));
    }
    Ok(done)
}
