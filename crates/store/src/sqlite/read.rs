//! Row mapping and the queries that run on the read pool.

use smsgate_core::message::{InboundMessage, Message, MessageEvent, MessageId, Priority, Status};
use smsgate_core::store::{ApiKey, InboundQuery, MessageQuery, OutboxEvent, QueueStats, Webhook};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteExecutor};

/// The `messages` columns in the order [`message_from_row`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str = "id, api_key_id, to_number, from_id, body, encoding, \
    segments, status, priority, callback_url, idempotency_key, created_at, updated_at, send_at, \
    expires_at, attempts, connector, error_code, error_message, undelivered_via";

/// [`MESSAGE_COLUMNS`] qualified with the table alias `m.`, for queries that join `messages`.
pub(crate) fn joined_message_columns() -> String {
    MESSAGE_COLUMNS
        .split(", ")
        .map(|c| format!("m.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad {what} in store: '{value}'").into())
}

pub(crate) fn parse_id(s: &str) -> Result<MessageId, sqlx::Error> {
    s.parse().map_err(|_| decode_err("message id", s))
}

pub(crate) fn parse_status(s: &str) -> Result<Status, sqlx::Error> {
    s.parse().map_err(|_| decode_err("status", s))
}

/// Reads a message from columns starting at `o` (so joins can put it after other columns).
pub(crate) fn message_from_row(r: &SqliteRow, o: usize) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: parse_id(r.try_get::<&str, _>(o)?)?,
        api_key_id: r.try_get(o + 1)?,
        to: r.try_get(o + 2)?,
        from: r.try_get(o + 3)?,
        text: r.try_get(o + 4)?,
        encoding: r.try_get(o + 5)?,
        segments: r.try_get::<i64, _>(o + 6)? as u32,
        status: parse_status(r.try_get::<&str, _>(o + 7)?)?,
        priority: Priority::from_i64(r.try_get(o + 8)?),
        callback_url: r.try_get(o + 9)?,
        idempotency_key: r.try_get(o + 10)?,
        created_at: r.try_get(o + 11)?,
        updated_at: r.try_get(o + 12)?,
        send_at: r.try_get(o + 13)?,
        expires_at: r.try_get(o + 14)?,
        attempts: r.try_get::<i64, _>(o + 15)? as u32,
        connector: r.try_get(o + 16)?,
        error_code: r.try_get(o + 17)?,
        error_message: r.try_get(o + 18)?,
        undelivered_via: json_list(r.try_get(o + 19)?)?,
    })
}

/// A JSON array of strings kept in a TEXT column (NULL: empty).
pub(crate) fn json_list(text: Option<&str>) -> Result<Vec<String>, sqlx::Error> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(t).map_err(|_| decode_err("JSON list", t)),
    }
}

pub(crate) async fn message_by_id<'e>(
    ex: impl SqliteExecutor<'e>,
    id: MessageId,
) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|r| message_from_row(&r, 0)).transpose()
}

pub(crate) async fn events_of<'e>(
    ex: impl SqliteExecutor<'e>,
    id: MessageId,
) -> Result<Vec<MessageEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, status, at, detail FROM events WHERE message_id = ? ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MessageEvent {
                kind: r.try_get(0)?,
                status: parse_status(r.try_get::<&str, _>(1)?)?,
                at: r.try_get(2)?,
                detail: r.try_get(3)?,
            })
        })
        .collect()
}

pub(crate) async fn list_messages<'e>(
    ex: impl SqliteExecutor<'e>,
    q: &MessageQuery,
) -> Result<Vec<Message>, sqlx::Error> {
    let mut b: QueryBuilder<Sqlite> =
        QueryBuilder::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE 1=1"));
    if let Some(k) = &q.api_key_id {
        b.push(" AND api_key_id = ").push_bind(k.clone());
    }
    if let Some(s) = q.status {
        b.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(to) = &q.to {
        b.push(" AND to_number = ").push_bind(to.clone());
    }
    if let Some(since) = q.since {
        b.push(" AND created_at >= ").push_bind(since);
    }
    if let Some(before) = q.before {
        b.push(" AND id < ").push_bind(before.to_string());
    }
    b.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = b.build().fetch_all(ex).await?;
    rows.iter().map(|r| message_from_row(r, 0)).collect()
}

pub(crate) async fn list_inbound<'e>(
    ex: impl SqliteExecutor<'e>,
    q: &InboundQuery,
) -> Result<Vec<InboundMessage>, sqlx::Error> {
    let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE 1=1"
    ));
    if let Some(since) = q.since {
        b.push(" AND received_at >= ").push_bind(since);
    }
    if let Some(from) = &q.from {
        b.push(" AND from_number = ").push_bind(from.clone());
    }
    if let Some(before) = q.before {
        b.push(" AND id < ").push_bind(before.to_string());
    }
    b.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = b.build().fetch_all(ex).await?;
    rows.iter().map(inbound_from_row).collect()
}

/// The `inbound_messages` columns in the order [`inbound_from_row`] reads them.
pub(crate) const INBOUND_COLUMNS: &str =
    "id, from_number, to_number, body, connector, received_at, incomplete";

pub(crate) fn inbound_from_row(r: &SqliteRow) -> Result<InboundMessage, sqlx::Error> {
    Ok(InboundMessage {
        id: parse_id(r.try_get::<&str, _>(0)?)?,
        from: r.try_get(1)?,
        to: r.try_get(2)?,
        text: r.try_get(3)?,
        connector: r.try_get(4)?,
        received_at: r.try_get(5)?,
        incomplete: r.try_get::<i64, _>(6)? != 0,
    })
}

pub(crate) const KEY_COLUMNS: &str = "id, name, prefix, admin, created_at, revoked_at, secret_hash";

pub(crate) fn key_from_row(r: &SqliteRow) -> Result<ApiKey, sqlx::Error> {
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

pub(crate) fn webhook_from_row(r: &SqliteRow) -> Result<Webhook, sqlx::Error> {
    let events: String = r.try_get(3)?;
    Ok(Webhook {
        id: r.try_get(0)?,
        api_key_id: r.try_get(1)?,
        url: r.try_get(2)?,
        events: serde_json::from_str(&events).map_err(|_| decode_err("webhook events", &events))?,
        secret: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}

pub(crate) async fn outbox_after_cursor<'e>(
    ex: impl SqliteExecutor<'e>,
    limit: u32,
) -> Result<Vec<OutboxEvent>, sqlx::Error> {
    let cols = joined_message_columns();
    let sql = format!(
        "SELECT e.seq, e.event, e.at, e.status, e.detail, e.data, e.message_id, {cols} \
         FROM events e LEFT JOIN messages m ON m.id = e.message_id \
         WHERE e.seq > COALESCE((SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'outbox_cursor'), 0) \
           AND e.event IS NOT NULL \
         ORDER BY e.seq LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(i64::from(limit))
        .fetch_all(ex)
        .await?;
    rows.iter()
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
        .collect()
}

pub(crate) async fn stats(pool: &sqlx::SqlitePool) -> Result<QueueStats, sqlx::Error> {
    let rows = sqlx::query("SELECT status, COUNT(*) FROM messages GROUP BY status")
        .fetch_all(pool)
        .await?;
    let by_status = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)? as u64)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL",
    )
    .fetch_one(pool)
    .await?;
    let webhooks_pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
            .fetch_one(pool)
            .await?;
    let inbound: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound_messages")
        .fetch_one(pool)
        .await?;
    Ok(QueueStats {
        by_status,
        waiting: waiting as u64,
        webhooks_pending: webhooks_pending as u64,
        inbound: inbound as u64,
    })
}
