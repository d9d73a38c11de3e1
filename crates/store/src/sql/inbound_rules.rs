//! Inbound rules made through `/v1/inbound-rules` (migration 0013): each row keeps the rule as
//! the JSON it was made with, so a field added later needs no new column.

use smsgate_core::inbound_rules::StoredInboundRule;
use sqlx::Row;

use super::db::{Conn, Db, DbRow};
use super::decode_err;

fn rule_from_row(r: &DbRow) -> Result<StoredInboundRule, sqlx::Error> {
    let rule: String = r.try_get(2)?;
    Ok(StoredInboundRule {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        rule: serde_json::from_str(&rule).map_err(|_| decode_err("inbound rule", &rule))?,
        created_at: r.try_get(3)?,
    })
}

pub(super) async fn create(c: &mut Conn, r: &StoredInboundRule) -> Result<(), sqlx::Error> {
    let rule = serde_json::to_string(&r.rule).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(sql!(
        "INSERT INTO inbound_rules (id, owner, rule, created_at) VALUES (?, ?, ?, ?)"
    ))
    .bind(&r.id)
    .bind(&r.owner)
    .bind(rule)
    .bind(r.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn list<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    owner: Option<&str>,
) -> Result<Vec<StoredInboundRule>, sqlx::Error> {
    let cols = "id, owner, rule, created_at";
    let rows = match owner {
        Some(o) => {
            sqlx::query(&super::db::dialect(&format!(
                "SELECT {cols} FROM inbound_rules WHERE owner = ? ORDER BY created_at, id"
            )))
            .bind(o)
            .fetch_all(ex)
            .await
        }
        None => {
            sqlx::query(&super::db::dialect(&format!(
                "SELECT {cols} FROM inbound_rules ORDER BY created_at, id"
            )))
            .fetch_all(ex)
            .await
        }
    }?;
    rows.iter().map(rule_from_row).collect()
}

pub(super) async fn delete(
    c: &mut Conn,
    d: &(String, Option<String>),
) -> Result<bool, sqlx::Error> {
    let n = match &d.1 {
        Some(owner) => sqlx::query(sql!("DELETE FROM inbound_rules WHERE id = ? AND owner = ?"))
            .bind(&d.0)
            .bind(owner)
            .execute(c)
            .await?
            .rows_affected(),
        None => sqlx::query(sql!("DELETE FROM inbound_rules WHERE id = ?"))
            .bind(&d.0)
            .execute(c)
            .await?
            .rows_affected(),
    };
    Ok(n > 0)
}
