//! The outbound message lifecycle in `messages`: intake, the outcome of each submit attempt,
//! cancel, expiry, crash recovery, and the reads of messages.
//!
//! Every status change goes through [`transition`] (one message) or [`advance`] (many at once),
//! which only take the steps `Status::can_become` allows: writes that arrive late or twice (a
//! receipt before the submit's response, a cancel racing a send) can never move a message back.
//!
//! Recording accepted submits is the hottest write, so [`record_attempts`] records them
//! set-based: each statement covers a whole chunk of messages, so a batch of hundreds costs a
//! handful of round trips to SQLite instead of several per message. Rare outcomes (retries,
//! failures) keep their one-by-one paths.

use std::collections::HashSet;

use smsgate_core::message::{Message, MessageId, NewMessage, Priority, Status};
use smsgate_core::store::{Accepted, Attempt, MessageQuery, QueueStats};
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db, DbRow, Pool};
use super::events::{push_event, status_event};
use super::{CHUNK, json_list, parse_id, parse_status, status_list, status_list_text};

/// The `messages` columns in the order [`message_from_row`] reads them.
pub(super) const MESSAGE_COLUMNS: &str = "id, api_key_id, to_number, from_id, body, encoding, \
    segments, status, priority, callback_url, idempotency_key, created_at, updated_at, send_at, \
    expires_at, attempts, connector, error_code, error_message, undelivered_via, callback_statuses, \
    tenant, udh, data_coding";

/// [`MESSAGE_COLUMNS`] qualified with the table alias `m.`, for queries that join `messages`.
pub(super) fn joined_message_columns() -> String {
    MESSAGE_COLUMNS
        .split(", ")
        .map(|c| format!("m.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a message from columns starting at `o` (so joins can put it after other columns).
pub(super) fn message_from_row(r: &DbRow, o: usize) -> Result<Message, sqlx::Error> {
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
        callback_statuses: status_list(r.try_get(o + 20)?)?,
        tenant: r.try_get(o + 21)?,
        binary: binary_of(r.try_get(o + 22)?, r.try_get(o + 23)?)?,
    })
}

/// The `udh` and `data_coding` columns as a [`Binary`](smsgate_core::message::Binary).
pub(super) fn binary_of(
    udh: Option<String>,
    data_coding: Option<i64>,
) -> Result<Option<smsgate_core::message::Binary>, sqlx::Error> {
    let Some(dc) = data_coding else {
        return Ok(None);
    };
    let udh = match udh.as_deref() {
        None | Some("") => Vec::new(),
        Some(h) => {
            hex::decode(h).map_err(|e| sqlx::Error::Decode(format!("messages.udh: {e}").into()))?
        }
    };
    Ok(Some(smsgate_core::message::Binary {
        data_coding: dc as u8,
        udh,
    }))
}

pub(super) async fn message_by_id<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    id: MessageId,
) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?");
    let row = sqlx::query(&super::db::dialect(&sql))
        .bind(id.to_string())
        .fetch_optional(ex)
        .await?;
    row.map(|r| message_from_row(&r, 0)).transpose()
}

pub(super) async fn list_messages<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    q: &MessageQuery,
) -> Result<Vec<Message>, sqlx::Error> {
    let mut b: QueryBuilder<Db> =
        QueryBuilder::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE 1=1"));
    if let Some(t) = &q.tenant {
        b.push(" AND tenant = ").push_bind(t.clone());
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

pub(super) async fn stats(pool: &Pool) -> Result<QueueStats, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT status, COUNT(*) FROM messages GROUP BY status"
    ))
    .fetch_all(pool)
    .await?;
    let by_status = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)? as u64)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let waiting: i64 = sqlx::query_scalar(sql!(
        "SELECT COUNT(*) FROM messages WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL"
    ))
    .fetch_one(pool)
    .await?;
    let webhooks_pending: i64 = sqlx::query_scalar(sql!(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'"
    ))
    .fetch_one(pool)
    .await?;
    let inbound: i64 = sqlx::query_scalar(sql!("SELECT COUNT(*) FROM inbound_messages"))
        .fetch_one(pool)
        .await?;
    Ok(QueueStats {
        by_status,
        waiting: waiting as u64,
        webhooks_pending: webhooks_pending as u64,
        inbound: inbound as u64,
    })
}

/// `(status IN (…))` of every status that may become `target` (see `Status::can_become`).
fn from_statuses(target: Status) -> String {
    let list: Vec<String> = Status::ALL
        .iter()
        .filter(|s| s.can_become(target))
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    if list.is_empty() {
        "(NULL)".into()
    } else {
        format!("({})", list.join(","))
    }
}

/// Moves a message to `target` if its lifecycle allows, with a status event. Returns whether it
/// moved. `extra` is appended to the SET list (e.g. `, next_attempt_at = NULL`).
pub(super) async fn transition(
    c: &mut Conn,
    id: MessageId,
    target: Status,
    extra: &str,
    error: Option<(&str, &str)>,
    detail: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE messages SET status = ?, updated_at = ?, \
         error_code = COALESCE(?, error_code), error_message = COALESCE(?, error_message){extra} \
         WHERE id = ? AND status IN {}",
        from_statuses(target)
    );
    let done = sqlx::query(&super::db::dialect(&sql))
        .bind(target.as_str())
        .bind(now)
        .bind(error.map(|e| e.0))
        .bind(error.map(|e| e.1))
        .bind(id.to_string())
        .execute(&mut *c)
        .await?
        .rows_affected()
        == 1;
    if done {
        status_event(c, id, target, detail.or(error.map(|e| e.1)), now).await?;
    }
    Ok(done)
}

/// Moves `ids` to `target` where the lifecycle allows (a status never goes backwards) in one
/// statement; returns the ids that moved, which are the ones that get an event.
pub(super) async fn advance<S: AsRef<str>>(
    c: &mut Conn,
    ids: &[S],
    target: Status,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut q: QueryBuilder<Db> = QueryBuilder::new("UPDATE messages SET status = ");
    q.push_bind(target.as_str())
        .push(", updated_at = ")
        .push_bind(now)
        .push(" WHERE id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.as_ref());
    }
    q.push(format!(
        ") AND status IN {} RETURNING id",
        from_statuses(target)
    ));
    q.build()
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect()
}

pub(super) async fn insert_messages(
    c: &mut Conn,
    msgs: &[&NewMessage],
) -> Result<Vec<Accepted>, sqlx::Error> {
    // One slot per message in the caller's order; fresh ones are filled after their insert.
    let mut out: Vec<Option<Accepted>> = Vec::with_capacity(msgs.len());
    let mut fresh: Vec<&NewMessage> = Vec::with_capacity(msgs.len());
    for &m in msgs {
        if m.idempotency_key.is_none() {
            fresh.push(m);
            out.push(None);
            continue;
        }
        // Rare path: look for an earlier message with the same key first.
        let existing = sqlx::query(sql!(
            "SELECT id, status, segments, encoding FROM messages \
             WHERE api_key_id IS NOT DISTINCT FROM ? AND idempotency_key = ?"
        ))
        .bind(&m.api_key_id)
        .bind(&m.idempotency_key)
        .fetch_optional(&mut *c)
        .await?;
        if let Some(r) = existing {
            out.push(Some(Accepted {
                id: parse_id(r.try_get::<&str, _>(0)?)?,
                status: parse_status(r.try_get::<&str, _>(1)?)?,
                segments: r.try_get::<i64, _>(2)? as u32,
                encoding: r.try_get(3)?,
                duplicate: true,
            }));
        } else {
            insert_rows(c, &[m]).await?;
            out.push(Some(accepted(m)));
        }
    }
    for chunk in fresh.chunks(CHUNK / 4) {
        insert_rows(c, chunk).await?;
    }
    let mut fresh = fresh.into_iter();
    Ok(out
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| accepted(fresh.next().expect("one per empty slot"))))
        .collect())
}

pub(super) fn accepted(m: &NewMessage) -> Accepted {
    Accepted {
        id: m.id,
        status: Status::Queued,
        segments: m.segments,
        encoding: m.encoding.clone(),
        duplicate: false,
    }
}

pub(super) async fn insert_rows(c: &mut Conn, rows: &[&NewMessage]) -> Result<(), sqlx::Error> {
    let mut b: QueryBuilder<Db> = QueryBuilder::new(
        "INSERT INTO messages (id, api_key_id, to_number, from_id, body, encoding, segments, \
         status, priority, callback_url, idempotency_key, created_at, updated_at, send_at, \
         expires_at, next_attempt_at, callback_statuses, tenant, udh, data_coding) ",
    );
    b.push_values(rows, |mut r, m| {
        r.push_bind(m.id.to_string())
            .push_bind(m.api_key_id.clone())
            .push_bind(m.to.as_str().to_owned())
            .push_bind(m.from.as_ref().map(|f| f.as_str().to_owned()))
            .push_bind(m.text.clone())
            .push_bind(m.encoding.clone())
            .push_bind(i64::from(m.segments))
            .push_bind("queued")
            .push_bind(m.priority.as_i64())
            .push_bind(m.callback_url.clone())
            .push_bind(m.idempotency_key.clone())
            .push_bind(m.created_at)
            .push_bind(m.created_at)
            .push_bind(m.send_at)
            .push_bind(m.expires_at)
            .push_bind(m.send_at)
            .push_bind(status_list_text(&m.callback_statuses))
            .push_bind(m.tenant.clone())
            .push_bind(m.binary.as_ref().map(|b| hex::encode(&b.udh)))
            .push_bind(m.binary.as_ref().map(|b| i64::from(b.data_coding)));
    });
    b.build().execute(&mut *c).await?;
    let mut e: QueryBuilder<Db> =
        QueryBuilder::new("INSERT INTO events (event, message_id, kind, status, at) ");
    e.push_values(rows, |mut r, m| {
        r.push_bind("message.status")
            .push_bind(m.id.to_string())
            .push_bind("queued")
            .push_bind("queued")
            .push_bind(m.created_at);
    });
    e.build().execute(&mut *c).await?;
    for m in rows {
        if let Some(reason) = &m.deferred {
            push_event(
                c,
                None,
                Some(m.id),
                "deferred",
                Some(Status::Queued),
                Some(reason),
                None,
                m.created_at,
            )
            .await?;
        }
    }
    Ok(())
}

pub(super) async fn cancel(
    c: &mut Conn,
    d: &(MessageId, i64),
) -> Result<Option<Message>, sqlx::Error> {
    let (id, now) = *d;
    transition(
        c,
        id,
        Status::Canceled,
        ", next_attempt_at = NULL",
        None,
        Some("canceled by the client"),
        now,
    )
    .await?;
    message_by_id(c, id).await
}

pub(super) async fn record_attempts(
    c: &mut Conn,
    d: &(Vec<Attempt>, i64),
) -> Result<(), sqlx::Error> {
    let (attempts, now) = (&d.0, d.1);
    let mut sent = Vec::with_capacity(attempts.len());
    for a in attempts {
        match a {
            Attempt::Sent {
                id,
                connector,
                remote_ids,
                receipt_retry,
            } => sent.push(Sent {
                id: *id,
                connector,
                remote_ids,
                receipt_retry: receipt_retry
                    .as_ref()
                    .map(|r| serde_json::json!(r.codes).to_string()),
            }),
            Attempt::Retry {
                id,
                connector,
                retry_at,
                kind,
                code,
                message,
            } => {
                sqlx::query(sql!(
                    "UPDATE messages SET lease_until = NULL, next_attempt_at = ?, \
                     connector = COALESCE(?, connector), error_code = ?, error_message = ?, \
                     updated_at = ? WHERE id = ? AND lease_until IS NOT NULL"
                ))
                .bind(retry_at)
                .bind(connector)
                .bind(code)
                .bind(message)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *c)
                .await?;
                // The event carries the message's status: `sending`, or `sent` for a message
                // back after an undelivered receipt.
                let detail = format!("{code}: {message}");
                sqlx::query(sql!(
                    "INSERT INTO events (event, message_id, kind, status, detail, at) \
                     SELECT NULL, id, ?, status, ?, ? FROM messages WHERE id = ?"
                ))
                .bind(*kind)
                .bind(&detail)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *c)
                .await?;
            }
            Attempt::Failed {
                id,
                connector,
                status,
                code,
                message,
            } => {
                sqlx::query(sql!(
                    "UPDATE messages SET lease_until = NULL, connector = COALESCE(?, connector) \
                     WHERE id = ?"
                ))
                .bind(connector)
                .bind(id.to_string())
                .execute(&mut *c)
                .await?;
                transition(
                    c,
                    *id,
                    *status,
                    ", next_attempt_at = NULL",
                    Some((code, message)),
                    None,
                    now,
                )
                .await?;
            }
        }
    }
    record_sent(c, &sent, now).await
}

/// One accepted submit: the message, its connector and the network's id per part.
pub(super) struct Sent<'a> {
    pub id: MessageId,
    pub connector: &'a str,
    pub remote_ids: &'a [String],
    /// The receipt-retry policy of this submit as stored (JSON array of codes), if any.
    pub receipt_retry: Option<String>,
}

/// Records accepted submits: lease released, status `sent` (when the lifecycle allows) with its
/// event, one `message_parts` row per part, and receipts that overtook the response applied.
async fn record_sent(c: &mut Conn, sent: &[Sent<'_>], now: i64) -> Result<(), sqlx::Error> {
    for chunk in sent.chunks(CHUNK) {
        record_sent_chunk(c, chunk, now).await?;
    }
    Ok(())
}

async fn record_sent_chunk(c: &mut Conn, sent: &[Sent<'_>], now: i64) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = sent.iter().map(|s| s.id.to_string()).collect();
    // Release the lease and note the connector and its receipt-retry policy, whatever the
    // status is now.
    let mut q: QueryBuilder<Db> = QueryBuilder::new(
        "UPDATE messages SET lease_until = NULL, next_attempt_at = NULL, connector = v.column2, \
         receipt_retry = v.column3, error_code = NULL, error_message = NULL FROM (",
    );
    q.push_values(sent.iter().zip(&ids), |mut r, (s, id)| {
        r.push_bind(id.as_str())
            .push_bind(s.connector)
            .push_bind(s.receipt_retry.as_deref());
    });
    q.push(") AS v WHERE messages.id = v.column1");
    q.build().execute(&mut *c).await?;

    // Move to `sent` where the lifecycle allows, one event per message that moved.
    let moved: HashSet<String> = advance(c, &ids, Status::Sent, now)
        .await?
        .into_iter()
        .collect();
    if !moved.is_empty() {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO events (event, message_id, kind, status, detail, data, at) ",
        );
        q.push_values(
            sent.iter().zip(&ids).filter(|(_, id)| moved.contains(*id)),
            |mut r, (s, id)| {
                r.push_bind("message.status")
                    .push_bind(id.as_str())
                    .push_bind("sent")
                    .push_bind("sent")
                    .push_bind(s.connector)
                    .push_bind(None::<&str>)
                    .push_bind(now);
            },
        );
        q.build().execute(&mut *c).await?;
    }

    // Messages that were `sent` already went out again after an undelivered receipt: the
    // timeline says through which connector (no status change, so no webhook).
    if moved.len() < ids.len() {
        super::receipt_retry::note_resent(c, sent, &ids, &moved, now).await?;
    }

    // Parts: a retried message may have rows from an earlier attempt.
    let mut q: QueryBuilder<Db> =
        QueryBuilder::new("DELETE FROM message_parts WHERE message_id IN (");
    let mut list = q.separated(", ");
    for id in &ids {
        list.push_bind(id.as_str());
    }
    q.push(")");
    q.build().execute(&mut *c).await?;
    let parts: Vec<(&str, i64, &str, &str)> = sent
        .iter()
        .zip(&ids)
        .flat_map(|(s, id)| {
            s.remote_ids
                .iter()
                .enumerate()
                .map(move |(i, rid)| (id.as_str(), i as i64, s.connector, rid.as_str()))
        })
        .collect();
    for rows in parts.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO message_parts (message_id, part_no, connector, remote_id, state, \
             updated_at) ",
        );
        q.push_values(rows, |mut r, (id, no, connector, rid)| {
            r.push_bind(*id)
                .push_bind(*no)
                .push_bind(*connector)
                .push_bind(*rid)
                .push_bind("submitted")
                .push_bind(now);
        });
        q.build().execute(&mut *c).await?;
    }

    // Receipts that overtook these submits' responses.
    super::receipts::apply_orphans(c, &parts, now).await
}

pub(super) async fn expire_due(c: &mut Conn, d: &(i64, i64)) -> Result<u64, sqlx::Error> {
    let (now, grace) = *d;
    let waiting: Vec<(String,)> = sqlx::query_as(sql!(
        "SELECT id FROM messages WHERE expires_at <= ? AND next_attempt_at IS NOT NULL \
         AND lease_until IS NULL"
    ))
    .bind(now)
    .fetch_all(&mut *c)
    .await?;
    let sent: Vec<(String,)> = sqlx::query_as(sql!(
        "SELECT id FROM messages WHERE expires_at <= ? AND status = 'sent'"
    ))
    .bind(now - grace)
    .fetch_all(&mut *c)
    .await?;
    let mut n = 0;
    for (id, why) in waiting
        .iter()
        .map(|r| (&r.0, "validity passed before the message could be sent"))
        .chain(
            sent.iter()
                .map(|r| (&r.0, "validity passed without a final delivery report")),
        )
    {
        let id = parse_id(id)?;
        if transition(
            c,
            id,
            Status::Expired,
            ", next_attempt_at = NULL",
            Some(("expired", why)),
            None,
            now,
        )
        .await?
        {
            n += 1;
        }
    }
    // Receipts that waited this long for their submit will never match: it was cut off by a
    // crash and resent under another remote id, or the SMSC reported an id we never had.
    // Without this they would pile up, and each one makes every recorded submit look for it.
    sqlx::query(sql!("DELETE FROM orphan_receipts WHERE at <= ?"))
        .bind(now - grace)
        .execute(&mut *c)
        .await?;
    Ok(n)
}

pub(super) async fn recover_in_flight(
    c: &mut Conn,
    d: &(i64, bool, Option<i64>, String),
) -> Result<u64, sqlx::Error> {
    let (now, retry, live_since, node) = (d.0, d.1, d.2, &d.3);
    // Never this node's own: they are in flight here.
    let mut sql = String::from(
        "UPDATE messages SET lease_until = NULL, leased_by = NULL, next_attempt_at = ? \
         WHERE lease_until IS NOT NULL AND leased_by IS DISTINCT FROM ?",
    );
    if live_since.is_some() {
        sql.push_str(
            " AND (leased_by IS NULL OR leased_by NOT IN \
             (SELECT id FROM nodes WHERE heartbeat_at >= ?))",
        );
    }
    sql.push_str(" RETURNING id");
    let sql = super::db::dialect(&sql);
    let mut q = sqlx::query_as(&sql).bind(now).bind(node);
    if let Some(t) = live_since {
        q = q.bind(t);
    }
    let rows: Vec<(String,)> = q.fetch_all(&mut *c).await?;
    let why = if live_since.is_some() {
        "the node that claimed this message stopped beating while the network held it; \
         another node took it over; it may have been sent"
    } else {
        "the gateway stopped while the network held this message; it may have been sent"
    };
    for (id,) in &rows {
        let id = parse_id(id)?;
        if retry {
            push_event(
                c,
                None,
                Some(id),
                "ambiguous",
                Some(Status::Sending),
                Some(why),
                None,
                now,
            )
            .await?;
        } else {
            transition(
                c,
                id,
                Status::Failed,
                ", next_attempt_at = NULL",
                Some(("ambiguous", why)),
                None,
                now,
            )
            .await?;
        }
    }
    Ok(rows.len() as u64)
}
