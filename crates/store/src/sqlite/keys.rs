//! API keys. Only a hash of each secret is stored, and every authenticated request looks its key
//! up by that hash, so a leaked database does not hand out working keys. Revoking marks the row
//! (`revoked_at`) instead of deleting it: the key stops working but stays listed.

use smsgate_core::store::ApiKey;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqliteExecutor};

const KEY_COLUMNS: &str = "id, name, prefix, admin, created_at, revoked_at, secret_hash";

fn key_from_row(r: &SqliteRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        prefix: r.try_get(2)?,
        admin: r.try_get::<i64, _>(3)? != 0,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
        secret_hash: r.try_get(6)?,
    })
}

/// The key with this secret hash, unless it was revoked.
pub(super) async fn key_by_hash<'e>(
    ex: impl SqliteExecutor<'e>,
    secret_hash: &str,
) -> Result<Option<ApiKey>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL",
        KEY_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(secret_hash)
        .fetch_optional(ex)
        .await?;
    row.map(|r| key_from_row(&r)).transpose()
}

pub(super) async fn list_api_keys<'e>(
    ex: impl SqliteExecutor<'e>,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    let sql = format!("SELECT {} FROM api_keys ORDER BY created_at", KEY_COLUMNS);
    let rows = sqlx::query(&sql).fetch_all(ex).await?;
    rows.iter().map(key_from_row).collect()
}

pub(super) async fn create_api_key(
    c: &mut SqliteConnection,
    k: &ApiKey,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, prefix, secret_hash, admin, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&k.id)
    .bind(&k.name)
    .bind(&k.prefix)
    .bind(&k.secret_hash)
    .bind(k.admin as i64)
    .bind(k.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn revoke_api_key(
    c: &mut SqliteConnection,
    d: &(String, i64),
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL",
    )
    .bind(d.1)
    .bind(&d.0)
    .bind(&d.0)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}
