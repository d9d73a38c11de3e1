//! API keys, tenants and the audit log. Only a hash of each secret is stored, and every
//! authenticated request looks its key up by that hash, so a leaked database does not hand out
//! working keys. Revoking marks the row (`revoked_at`) instead of deleting it: the key stops
//! working but stays listed; the webhooks it created go with it.

use smsgate_core::keys::default_scopes;
use smsgate_core::store::{ApiKey, AuditEntry, Tenant};
use sqlx::Row;

use super::db::{Conn, Db, DbRow};
use super::{decode_err, json_list};

const KEY_COLUMNS: &str =
    "id, name, prefix, admin, created_at, revoked_at, secret_hash, tenant, scopes, rate_limit";

fn key_from_row(r: &DbRow) -> Result<ApiKey, sqlx::Error> {
    let scopes: Option<&str> = r.try_get(8)?;
    Ok(ApiKey {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        prefix: r.try_get(2)?,
        admin: r.try_get::<i64, _>(3)? != 0,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
        secret_hash: r.try_get(6)?,
        tenant: r.try_get(7)?,
        scopes: match scopes {
            Some(_) => json_list(scopes)?,
            None => default_scopes(),
        },
        rate_limit: r.try_get(9)?,
    })
}

/// The key with this secret hash, unless it was revoked.
pub(super) async fn key_by_hash<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    secret_hash: &str,
) -> Result<Option<ApiKey>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL",
        KEY_COLUMNS
    );
    let row = sqlx::query(&super::db::dialect(&sql))
        .bind(secret_hash)
        .fetch_optional(ex)
        .await?;
    row.map(|r| key_from_row(&r)).transpose()
}

pub(super) async fn list_api_keys<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
) -> Result<Vec<ApiKey>, sqlx::Error> {
    let sql = format!("SELECT {} FROM api_keys ORDER BY created_at", KEY_COLUMNS);
    let rows = sqlx::query(&super::db::dialect(&sql)).fetch_all(ex).await?;
    rows.iter().map(key_from_row).collect()
}

pub(super) async fn create_api_key(c: &mut Conn, k: &ApiKey) -> Result<(), sqlx::Error> {
    // A key names its tenant; one not yet known is created bare (an operator's
    // `keys create --tenant acme` needs no separate step).
    sqlx::query(sql!(
        "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
    ))
    .bind(&k.tenant)
    .bind(&k.tenant)
    .bind(k.created_at)
    .execute(&mut *c)
    .await?;
    sqlx::query(sql!(
        "INSERT INTO api_keys (id, name, prefix, secret_hash, admin, created_at, tenant, scopes, \
         rate_limit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&k.id)
    .bind(&k.name)
    .bind(&k.prefix)
    .bind(&k.secret_hash)
    .bind(k.admin as i64)
    .bind(k.created_at)
    .bind(&k.tenant)
    .bind(serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into()))
    .bind(k.rate_limit)
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn revoke_api_key(c: &mut Conn, d: &(String, i64)) -> Result<bool, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(sql!(
        "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL \
         RETURNING id"
    ))
    .bind(d.1)
    .bind(&d.0)
    .bind(&d.0)
    .fetch_all(&mut *c)
    .await?;
    for id in &ids {
        // Its subscriptions and their waiting retries: nobody may receive for it any more.
        sqlx::query(sql!(
            "DELETE FROM webhook_deliveries WHERE webhook_id IN \
             (SELECT id FROM webhooks WHERE api_key_id = ?)"
        ))
        .bind(id)
        .execute(&mut *c)
        .await?;
        sqlx::query(sql!("DELETE FROM webhooks WHERE api_key_id = ?"))
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    Ok(!ids.is_empty())
}

fn list_text(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| serde_json::to_string(list).unwrap_or_else(|_| "[]".into()))
}

pub(super) async fn put_tenant(c: &mut Conn, t: &Tenant) -> Result<(), sqlx::Error> {
    sqlx::query(
        sql!("INSERT INTO tenants (id, name, sender_ids, queue_quota, inbound, allow_networks, \
         created_at, require_consent, quiet_hours) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET quiet_hours = excluded.quiet_hours, name = excluded.name, sender_ids = excluded.sender_ids, \
         queue_quota = excluded.queue_quota, inbound = excluded.inbound, \
         allow_networks = excluded.allow_networks, require_consent = excluded.require_consent"),
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(list_text(&t.sender_ids))
    .bind(t.queue_quota.map(|q| q as i64))
    .bind(list_text(&t.inbound))
    .bind(list_text(&t.allow_networks))
    .bind(t.created_at)
    .bind(t.require_consent as i64)
    .bind(&t.quiet_hours)
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn list_tenants<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
) -> Result<Vec<Tenant>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT id, name, sender_ids, queue_quota, inbound, allow_networks, created_at, \
         require_consent, quiet_hours FROM tenants ORDER BY id"
    ))
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Tenant {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                sender_ids: json_list(r.try_get(2)?)?,
                queue_quota: r.try_get::<Option<i64>, _>(3)?.map(|q| q.max(0) as u64),
                inbound: json_list(r.try_get(4)?)?,
                allow_networks: json_list(r.try_get(5)?)?,
                created_at: r.try_get(6)?,
                require_consent: r.try_get::<i64, _>(7)? != 0,
                quiet_hours: r.try_get(8)?,
            })
        })
        .collect()
}

pub(super) async fn append_audit(c: &mut Conn, e: &AuditEntry) -> Result<(), sqlx::Error> {
    sqlx::query(sql!(
        "INSERT INTO audit_log (at, key_id, tenant, action, target, detail) \
         VALUES (?, ?, ?, ?, ?, ?)"
    ))
    .bind(e.at)
    .bind(&e.key_id)
    .bind(&e.tenant)
    .bind(&e.action)
    .bind(&e.target)
    .bind(e.detail.as_ref().map(|d| d.to_string()))
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn list_audit<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT id, at, key_id, tenant, action, target, detail FROM audit_log \
         WHERE id < ? ORDER BY id DESC LIMIT ?"
    ))
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: Option<String> = r.try_get(6)?;
            Ok(AuditEntry {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                key_id: r.try_get(2)?,
                tenant: r.try_get(3)?,
                action: r.try_get(4)?,
                target: r.try_get(5)?,
                detail: match detail {
                    Some(d) => {
                        Some(serde_json::from_str(&d).map_err(|_| decode_err("audit detail", &d))?)
                    }
                    None => None,
                },
            })
        })
        .collect()
}
