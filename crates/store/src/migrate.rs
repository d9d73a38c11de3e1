//! Embedded schema migrations, applied in order, each in its own transaction.

use smsgate_core::store::StoreError;
use sqlx::{Connection, Row, SqliteConnection};

/// `(version, name, SQL)`, in order. Never edit a released entry: add a new one.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "northbound",
        include_str!("../migrations/0002_northbound.sql"),
    ),
    (3, "iot", include_str!("../migrations/0003_iot.sql")),
    (
        4,
        "fair_claims",
        include_str!("../migrations/0004_fair_claims.sql"),
    ),
    (
        5,
        "receipt_retry",
        include_str!("../migrations/0005_receipt_retry.sql"),
    ),
    (
        6,
        "part_content",
        include_str!("../migrations/0006_part_content.sql"),
    ),
    (
        7,
        "status_filters",
        include_str!("../migrations/0007_status_filters.sql"),
    ),
    (8, "tenants", include_str!("../migrations/0008_tenants.sql")),
    (9, "optouts", include_str!("../migrations/0009_optouts.sql")),
    (
        10,
        "consents",
        include_str!("../migrations/0010_consents.sql"),
    ),
    (
        11,
        "quiet_hours",
        include_str!("../migrations/0011_quiet_hours.sql"),
    ),
];

/// Applies every migration not yet recorded in `schema_migrations`; returns how many ran.
pub(crate) async fn run(conn: &mut SqliteConnection, now: i64) -> Result<usize, StoreError> {
    let err = |v: i64, e: sqlx::Error| StoreError::Migration(format!("version {v}: {e}"));
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| err(0, e))?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| err(0, e))?
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
    if let Some(max) = applied.iter().max()
        && *max > MIGRATIONS.last().map_or(0, |m| m.0)
    {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {max}, newer than this smsgate knows; upgrade smsgate"
        )));
    }
    let mut ran = 0;
    for &(version, name, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let mut tx = conn.begin().await.map_err(|e| err(version, e))?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| err(version, e))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
            .bind(version)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| err(version, e))?;
        tx.commit().await.map_err(|e| err(version, e))?;
        tracing::info!(version, name, "applied migration");
        ran += 1;
    }
    Ok(ran)
}
