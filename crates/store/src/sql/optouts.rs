//! Opt-outs (migration 0009): who a tenant must not send to. The compliance loop records an
//! inbound STOP's opt-out, its `optout.created` event, the confirmation SMS and its inbound
//! cursor in one commit, so a crash neither loses a STOP nor confirms it twice. Consent
//! records (migration 0010) are kept the same way.

use smsgate_core::message::{MessageId, NewMessage};
use smsgate_core::store::{OptOut, OptOutChanges};
use sqlx::Row;

use super::db::{Conn, Db};
use super::events::push_event;
use super::parse_id;

const CURSOR_KEY: &str = "compliance.inbound_cursor";

pub(super) async fn list_optouts<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    tenant: Option<&str>,
) -> Result<Vec<OptOut>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT tenant, number, sender, source, created_at FROM optouts \
         WHERE ? IS NULL OR tenant = ? ORDER BY tenant, number, sender"
    ))
    .bind(tenant)
    .bind(tenant)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OptOut {
                tenant: r.try_get(0)?,
                number: r.try_get(1)?,
                sender: r.try_get(2)?,
                source: r.try_get(3)?,
                created_at: r.try_get(4)?,
            })
        })
        .collect()
}

pub(super) async fn list_consents<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    tenant: Option<&str>,
) -> Result<Vec<OptOut>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT tenant, number, source, created_at FROM consents \
         WHERE ? IS NULL OR tenant = ? ORDER BY tenant, number"
    ))
    .bind(tenant)
    .bind(tenant)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OptOut {
                tenant: r.try_get(0)?,
                number: r.try_get(1)?,
                sender: String::new(),
                source: r.try_get(2)?,
                created_at: r.try_get(3)?,
            })
        })
        .collect()
}

fn event_data(o: &OptOut, now: i64) -> String {
    serde_json::json!({"tenant": o.tenant, "number": o.number, "sender": o.sender,
        "source": o.source, "at": smsgate_core::clock::rfc3339(now)})
    .to_string()
}

pub(super) async fn record_optouts(
    c: &mut Conn,
    d: &(OptOutChanges, i64),
) -> Result<(u64, u64), sqlx::Error> {
    let (ch, now) = (&d.0, d.1);
    let (mut added, mut removed) = (0, 0);
    for o in &ch.added {
        let n = sqlx::query(sql!(
            "INSERT INTO optouts (tenant, number, sender, source, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        ))
        .bind(&o.tenant)
        .bind(&o.number)
        .bind(&o.sender)
        .bind(&o.source)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if n > 0 {
            added += 1;
            let data = event_data(o, now);
            push_event(
                c,
                Some("optout.created"),
                None,
                "optout.created",
                None,
                None,
                Some(&data),
                now,
            )
            .await?;
        }
    }
    for o in &ch.removed {
        let n = sqlx::query(sql!(
            "DELETE FROM optouts WHERE tenant = ? AND number = ? AND sender = ?"
        ))
        .bind(&o.tenant)
        .bind(&o.number)
        .bind(&o.sender)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if n > 0 {
            removed += 1;
            let data = event_data(o, now);
            push_event(
                c,
                Some("optout.removed"),
                None,
                "optout.removed",
                None,
                None,
                Some(&data),
                now,
            )
            .await?;
        }
    }
    for o in &ch.consents_added {
        sqlx::query(sql!(
            "INSERT INTO consents (tenant, number, source, created_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        ))
        .bind(&o.tenant)
        .bind(&o.number)
        .bind(&o.source)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    for o in &ch.consents_removed {
        sqlx::query(sql!("DELETE FROM consents WHERE tenant = ? AND number = ?"))
            .bind(&o.tenant)
            .bind(&o.number)
            .execute(&mut *c)
            .await?;
    }
    for (event, data) in &ch.events {
        push_event(c, Some(event), None, event, None, None, Some(data), now).await?;
    }
    if !ch.replies.is_empty() {
        let rows: Vec<&NewMessage> = ch.replies.iter().collect();
        super::messages::insert_rows(c, &rows).await?;
    }
    if let Some(cursor) = ch.cursor {
        sqlx::query(sql!(
            "INSERT INTO kv (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ))
        .bind(CURSOR_KEY)
        .bind(cursor.to_string())
        .execute(&mut *c)
        .await?;
    }
    Ok((added, removed))
}

pub(super) async fn keyword_cursor<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
) -> Result<Option<MessageId>, sqlx::Error> {
    let v: Option<String> = sqlx::query_scalar(sql!("SELECT value FROM kv WHERE key = ?"))
        .bind(CURSOR_KEY)
        .fetch_optional(ex)
        .await?;
    v.as_deref().map(parse_id).transpose()
}
