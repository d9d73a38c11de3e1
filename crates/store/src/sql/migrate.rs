//! The migration runner: each backend's embedded migrations (`db::MIGRATIONS`), applied in
//! order, each in its own transaction.

use smsgate_core::store::StoreError;
use sqlx::{Connection, Row};

use super::db::{Conn, MIGRATIONS};

/// Applies every migration not yet recorded in `schema_migrations`; returns how many ran.
pub(crate) async fn run(conn: &mut Conn, now: i64) -> Result<usize, StoreError> {
    let err = |v: i64, e: sqlx::Error| StoreError::Migration(format!("version {v}: {e}"));
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| err(0, e))?;
    let applied: Vec<i64> = sqlx::query(sql!("SELECT version FROM schema_migrations"))
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
        sqlx::query(sql!(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
        ))
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
