//! Webhooks and their retry queue. The webhook pipeline reads the outbox (the `events` rows with
//! an event name) after a cursor kept in `kv` and delivers from memory; only first attempts that
//! failed become `webhook_deliveries` rows, stored in the same transaction that moves the cursor
//! past their event, so an event is never forgotten, crash or not. A claimed row is held by
//! pushing its `next_attempt_at` ahead (a lease): if the gateway dies mid-delivery the retry is
//! only delayed, never lost.

use std::collections::BTreeSet;

use smsgate_core::message::Status;
use smsgate_core::store::{
    Delivery, DeliveryResult, OutboxEvent, OutboxPage, Webhook, WebhookProgress,
};
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db, DbRow, Pool};
use super::decode_err;
use super::messages::{joined_message_columns, message_from_row};
use super::{parse_status, status_list, status_list_text};

fn webhook_from_row(r: &DbRow) -> Result<Webhook, sqlx::Error> {
    let events: String = r.try_get(3)?;
    Ok(Webhook {
        id: r.try_get(0)?,
        api_key_id: r.try_get(1)?,
        url: r.try_get(2)?,
        events: serde_json::from_str(&events).map_err(|_| decode_err("webhook events", &events))?,
        secret: r.try_get(4)?,
        created_at: r.try_get(5)?,
        statuses: status_list(r.try_get(6)?)?,
        tenant: r.try_get(7)?,
    })
}

pub(super) async fn create_webhook(c: &mut Conn, w: &Webhook) -> Result<(), sqlx::Error> {
    let events = serde_json::to_string(&w.events).unwrap_or_else(|_| "[]".into());
    sqlx::query(sql!(
        "INSERT INTO webhooks (id, api_key_id, url, events, secret, created_at, statuses, \
         tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&w.id)
    .bind(&w.api_key_id)
    .bind(&w.url)
    .bind(events)
    .bind(&w.secret)
    .bind(w.created_at)
    .bind(status_list_text(&w.statuses))
    .bind(&w.tenant)
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn list_webhooks<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    tenant: Option<&str>,
) -> Result<Vec<Webhook>, sqlx::Error> {
    let cols = "id, api_key_id, url, events, secret, created_at, statuses, tenant";
    let rows = match tenant {
        Some(k) => {
            sqlx::query(&super::db::dialect(&format!(
                "SELECT {cols} FROM webhooks WHERE tenant = ? ORDER BY created_at"
            )))
            .bind(k)
            .fetch_all(ex)
            .await
        }
        None => {
            sqlx::query(&super::db::dialect(&format!(
                "SELECT {cols} FROM webhooks ORDER BY created_at"
            )))
            .fetch_all(ex)
            .await
        }
    }?;
    rows.iter().map(webhook_from_row).collect()
}

pub(super) async fn delete_webhook(
    c: &mut Conn,
    d: &(String, Option<String>),
) -> Result<bool, sqlx::Error> {
    let n = match &d.1 {
        Some(tenant) => sqlx::query(sql!("DELETE FROM webhooks WHERE id = ? AND tenant = ?"))
            .bind(&d.0)
            .bind(tenant)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        None => sqlx::query(sql!("DELETE FROM webhooks WHERE id = ?"))
            .bind(&d.0)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    };
    if n > 0 {
        // Its retries go with it: nobody wants them any more.
        sqlx::query(sql!("DELETE FROM webhook_deliveries WHERE webhook_id = ?"))
            .bind(&d.0)
            .execute(&mut *c)
            .await?;
    }
    Ok(n > 0)
}

pub(super) async fn webhook_cursor<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
) -> Result<i64, sqlx::Error> {
    let v: Option<String> =
        sqlx::query_scalar(sql!("SELECT value FROM kv WHERE key = 'outbox_cursor'"))
            .fetch_optional(ex)
            .await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub(super) async fn outbox_after(
    pool: &Pool,
    after: i64,
    limit: u32,
    statuses: Option<&[Status]>,
) -> Result<OutboxPage, sqlx::Error> {
    // Every position up to the newest is committed (one writer, in order), so the page may
    // look up to it and say so even when it returns nothing.
    let newest: Option<i64> = sqlx::query_scalar(sql!("SELECT MAX(seq) FROM events"))
        .fetch_one(pool)
        .await?;
    let newest = newest.unwrap_or(0);
    let upper = newest.min(after.saturating_add(i64::from(limit)));
    if upper <= after {
        return Ok(OutboxPage {
            events: Vec::new(),
            scanned_to: after,
            at_end: true,
        });
    }
    let cols = joined_message_columns();
    let mut b: QueryBuilder<Db> = QueryBuilder::new(format!(
        "SELECT e.seq, e.event, e.at, e.status, e.detail, e.data, e.message_id, {cols} \
         FROM events e LEFT JOIN messages m ON m.id = e.message_id \
         WHERE e.seq > "
    ));
    b.push_bind(after)
        .push(" AND e.seq <= ")
        .push_bind(upper)
        .push(" AND e.event IS NOT NULL");
    if let Some(wanted) = statuses {
        b.push(" AND (e.status IS NULL OR m.callback_url IS NOT NULL");
        if !wanted.is_empty() {
            b.push(" OR e.status IN (");
            let mut sep = b.separated(", ");
            for s in wanted {
                sep.push_bind(s.as_str());
            }
            b.push(")");
        }
        b.push(")");
    }
    b.push(" ORDER BY e.seq");
    let rows = b.build().fetch_all(pool).await?;
    let events = rows
        .iter()
        .map(|r| {
            let status: Option<String> = r.try_get(3)?;
            let has_message = r.try_get::<Option<String>, _>(7)?.is_some();
            let message = match (status, has_message) {
                (Some(s), true) => {
                    Some((parse_status(&s)?, r.try_get(4)?, message_from_row(r, 7)?))
                }
                _ => None,
            };
            let data: Option<String> = r.try_get(5)?;
            Ok(OutboxEvent {
                seq: r.try_get(0)?,
                event: r.try_get(1)?,
                at: r.try_get(2)?,
                message,
                data: data.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(OutboxPage {
        events,
        scanned_to: upper,
        at_end: upper == newest,
    })
}

/// Failed first attempts become retry rows, stored rows get their results, and the cursor
/// moves: one commit, so an event is past the cursor only once its failures are stored.
pub(super) async fn record_progress(
    c: &mut Conn,
    d: &(WebhookProgress, i64),
) -> Result<(), sqlx::Error> {
    let (p, now) = (&d.0, d.1);
    for chunk in p.failed.chunks(64) {
        let mut b: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, webhook_id, url, secret, body, \
             attempts, state, next_attempt_at, last_error, created_at, updated_at, tenant) ",
        );
        b.push_values(chunk, |mut r, f| {
            let x = &f.delivery;
            r.push_bind(x.id.as_str())
                .push_bind(x.webhook_id.as_deref())
                .push_bind(x.url.as_str())
                .push_bind(x.secret.as_str())
                .push_bind(x.body.as_str())
                .push_bind(i64::from(x.attempts))
                .push_bind("pending")
                .push_bind(f.retry_at)
                .push_bind(f.error.as_str())
                .push_bind(x.created_at)
                .push_bind(now)
                .push_bind(x.tenant.as_deref());
        });
        b.push(" ON CONFLICT DO NOTHING");
        b.build().execute(&mut *c).await?;
    }
    finish_deliveries(c, &p.finished, now).await?;
    if let Some(cursor) = p.cursor {
        sqlx::query(sql!(
            "INSERT INTO kv (key, value) VALUES ('outbox_cursor', ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ))
        .bind(cursor.to_string())
        .execute(c)
        .await?;
    }
    Ok(())
}
pub(super) async fn claim_deliveries(
    c: &mut Conn,
    d: &(i64, u32, i64),
) -> Result<Vec<Delivery>, sqlx::Error> {
    let (now, limit, lease) = *d;
    let rows = sqlx::query(sql!(
        "UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
                      AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?) \
         RETURNING id, webhook_id, url, secret, body, attempts, created_at, tenant"
    ))
    .bind(now + lease)
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Delivery {
                id: r.try_get(0)?,
                webhook_id: r.try_get(1)?,
                url: r.try_get(2)?,
                secret: r.try_get(3)?,
                body: r.try_get(4)?,
                attempts: (r.try_get::<i64, _>(5)? - 1).max(0) as u32,
                created_at: r.try_get(6)?,
                tenant: r.try_get(7)?,
            })
        })
        .collect()
}

async fn finish_deliveries(
    c: &mut Conn,
    results: &[DeliveryResult],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut done = BTreeSet::new();
    for r in results {
        match r {
            DeliveryResult::Done { id } => {
                done.insert(id.as_str());
            }
            DeliveryResult::Retry {
                id,
                retry_at,
                error,
            } => {
                sqlx::query(sql!(
                    "UPDATE webhook_deliveries SET next_attempt_at = ?, last_error = ?, \
                     updated_at = ? WHERE id = ?"
                ))
                .bind(retry_at)
                .bind(error)
                .bind(now)
                .bind(id)
                .execute(&mut *c)
                .await?;
            }
            DeliveryResult::Deferred { id, retry_at } => {
                sqlx::query(
                    sql!("UPDATE webhook_deliveries SET next_attempt_at = ?, \
                     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ? WHERE id = ?"),
                )
                .bind(retry_at)
                .bind(now)
                .bind(id)
                .execute(&mut *c)
                .await?;
            }
            DeliveryResult::GaveUp { id, error } => {
                sqlx::query(sql!(
                    "UPDATE webhook_deliveries SET state = 'failed', last_error = ?, \
                     updated_at = ? WHERE id = ?"
                ))
                .bind(error)
                .bind(now)
                .bind(id)
                .execute(&mut *c)
                .await?;
            }
        }
    }
    if !done.is_empty() {
        // Delivered webhooks are not kept: the event stays in the message timeline.
        let mut b: QueryBuilder<Db> =
            QueryBuilder::new("DELETE FROM webhook_deliveries WHERE id IN (");
        let mut sep = b.separated(", ");
        for id in done {
            sep.push_bind(id);
        }
        b.push(")");
        b.build().execute(&mut *c).await?;
    }
    Ok(())
}
