//! The `events` table is both each message's timeline and the webhook outbox: a row with an
//! `event` name is also delivered to the webhooks subscribed to it, a row without one is
//! timeline only. Keeping one table means a status change and its webhook commit as one row.
//! The single-row writes are here; the set-based paths (`messages`, `receipts`, `claim`) add
//! their rows in bulk.

use smsgate_core::message::{MessageEvent, MessageId, Status};
use sqlx::Row;

use super::db::{Conn, Db};
use super::parse_status;

/// A timeline/outbox row. `webhook` marks status changes that `message.status` webhooks see.
#[allow(clippy::too_many_arguments)]
pub(super) async fn push_event(
    c: &mut Conn,
    webhook: Option<&str>,
    message_id: Option<MessageId>,
    kind: &str,
    status: Option<Status>,
    detail: Option<&str>,
    data: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(sql!(
        "INSERT INTO events (event, message_id, kind, status, detail, data, at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(webhook)
    .bind(message_id.map(|m| m.to_string()))
    .bind(kind)
    .bind(status.map(Status::as_str))
    .bind(detail)
    .bind(data)
    .bind(at)
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn status_event(
    c: &mut Conn,
    id: MessageId,
    status: Status,
    detail: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    push_event(
        c,
        Some("message.status"),
        Some(id),
        status.as_str(),
        Some(status),
        detail,
        None,
        at,
    )
    .await
}

pub(super) async fn append_event(
    c: &mut Conn,
    d: &(String, String, i64),
) -> Result<(), sqlx::Error> {
    push_event(c, Some(&d.0), None, &d.0, None, None, Some(&d.1), d.2).await
}

pub(super) async fn events_of<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    id: MessageId,
) -> Result<Vec<MessageEvent>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT kind, status, at, detail FROM events WHERE message_id = ? ORDER BY seq"
    ))
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
