//! Write operations. Each runs inside the writer's open transaction (see `writer`), so several
//! of them commit together; none commits on its own.

use std::collections::BTreeSet;

use smsgate_core::connector::{InboundSms, Receipt, ReceiptState};
use smsgate_core::message::{Message, MessageId, NewMessage, Status};
use smsgate_core::store::{Accepted, ApiKey, Attempt, Delivery, DeliveryResult, Webhook};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::read::{message_by_id, parse_id, parse_status};

/// How long a claim holds a message. On SQLite (one node) a held lease at start-up means a
/// crash; the value matters for PostgreSQL, where other nodes take over expired leases.
pub(crate) const LEASE_MS: i64 = 10 * 60 * 1000;

/// `(status IN (…))` of every status that may become `target` (see `Status::can_become`).
pub(crate) fn from_statuses(target: Status) -> String {
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

/// A timeline/outbox row. `webhook` marks status changes that `message.status` webhooks see.
#[allow(clippy::too_many_arguments)]
async fn push_event(
    c: &mut SqliteConnection,
    webhook: Option<&str>,
    message_id: Option<MessageId>,
    kind: &str,
    status: Option<Status>,
    detail: Option<&str>,
    data: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (event, message_id, kind, status, detail, data, at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
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

async fn status_event(
    c: &mut SqliteConnection,
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

/// Moves a message to `target` if its lifecycle allows, with a status event. Returns whether it
/// moved. `extra` is appended to the SET list (e.g. `, next_attempt_at = NULL`).
async fn transition(
    c: &mut SqliteConnection,
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
    let done = sqlx::query(&sql)
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

pub(crate) async fn insert_messages(
    c: &mut SqliteConnection,
    msgs: &Vec<NewMessage>,
) -> Result<Vec<Accepted>, sqlx::Error> {
    let mut out = Vec::with_capacity(msgs.len());
    let mut fresh: Vec<&NewMessage> = Vec::with_capacity(msgs.len());
    for m in msgs {
        if m.idempotency_key.is_none() {
            fresh.push(m);
            continue;
        }
        // Rare path: look for an earlier message with the same key first.
        let existing = sqlx::query(
            "SELECT id, status, segments, encoding FROM messages \
             WHERE api_key_id IS ? AND idempotency_key = ?",
        )
        .bind(&m.api_key_id)
        .bind(&m.idempotency_key)
        .fetch_optional(&mut *c)
        .await?;
        if let Some(r) = existing {
            out.push(Accepted {
                id: parse_id(r.try_get::<&str, _>(0)?)?,
                status: parse_status(r.try_get::<&str, _>(1)?)?,
                segments: r.try_get::<i64, _>(2)? as u32,
                encoding: r.try_get(3)?,
                duplicate: true,
            });
        } else {
            insert_rows(c, &[m]).await?;
            out.push(accepted(m));
        }
    }
    for chunk in fresh.chunks(64) {
        insert_rows(c, chunk).await?;
    }
    out.extend(fresh.iter().map(|m| accepted(m)));
    // Keep the caller's order.
    let order: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
    out.sort_by_key(|a| {
        order
            .iter()
            .position(|id| *id == a.id)
            .unwrap_or(usize::MAX)
    });
    Ok(out)
}

pub(crate) fn accepted(m: &NewMessage) -> Accepted {
    Accepted {
        id: m.id,
        status: Status::Queued,
        segments: m.segments,
        encoding: m.encoding.clone(),
        duplicate: false,
    }
}

pub(crate) async fn insert_rows(
    c: &mut SqliteConnection,
    rows: &[&NewMessage],
) -> Result<(), sqlx::Error> {
    let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO messages (id, api_key_id, to_number, from_id, body, encoding, segments, \
         status, priority, callback_url, idempotency_key, created_at, updated_at, send_at, \
         expires_at, next_attempt_at) ",
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
            .push_bind(m.send_at);
    });
    b.build().execute(&mut *c).await?;
    let mut e: QueryBuilder<Sqlite> =
        QueryBuilder::new("INSERT INTO events (event, message_id, kind, status, at) ");
    e.push_values(rows, |mut r, m| {
        r.push_bind("message.status")
            .push_bind(m.id.to_string())
            .push_bind("queued")
            .push_bind("queued")
            .push_bind(m.created_at);
    });
    e.build().execute(c).await?;
    Ok(())
}

pub(crate) async fn cancel(
    c: &mut SqliteConnection,
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

pub(crate) async fn record_attempts(
    c: &mut SqliteConnection,
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
            } => sent.push(super::batch::Sent {
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
                sqlx::query(
                    "UPDATE messages SET lease_until = NULL, next_attempt_at = ?, \
                     connector = COALESCE(?, connector), error_code = ?, error_message = ?, \
                     updated_at = ? WHERE id = ? AND lease_until IS NOT NULL",
                )
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
                sqlx::query(
                    "INSERT INTO events (event, message_id, kind, status, detail, at) \
                     SELECT NULL, id, ?, status, ?, ? FROM messages WHERE id = ?",
                )
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
                sqlx::query(
                    "UPDATE messages SET lease_until = NULL, connector = COALESCE(?, connector) \
                     WHERE id = ?",
                )
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
    super::batch::record_sent(c, &sent, now).await
}

pub(crate) fn state_str(s: ReceiptState) -> &'static str {
    match s {
        ReceiptState::Delivered => "delivered",
        ReceiptState::Undelivered => "undelivered",
        ReceiptState::Expired => "expired",
        ReceiptState::Pending => "submitted",
    }
}

pub(crate) fn state_from_str(s: &str) -> ReceiptState {
    match s {
        "delivered" => ReceiptState::Delivered,
        "undelivered" => ReceiptState::Undelivered,
        "expired" => ReceiptState::Expired,
        _ => ReceiptState::Pending,
    }
}

/// Applies one receipt; `true` when it matched a known part.
pub(crate) async fn apply_receipt(
    c: &mut SqliteConnection,
    r: &Receipt,
    now: i64,
) -> Result<bool, sqlx::Error> {
    if r.state == ReceiptState::Pending {
        return Ok(true); // intermediate report: nothing changes
    }
    let hit: Option<(String, String)> = sqlx::query_as(
        "SELECT message_id, state FROM message_parts WHERE connector = ? AND remote_id = ? \
         ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(&r.connector)
    .bind(&r.remote_id)
    .fetch_optional(&mut *c)
    .await?;
    let Some((message_id, part_state)) = hit else {
        sqlx::query(
            "INSERT INTO orphan_receipts (connector, remote_id, state, error_code, at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (connector, remote_id) DO UPDATE SET \
             state = excluded.state, error_code = excluded.error_code, at = excluded.at",
        )
        .bind(&r.connector)
        .bind(&r.remote_id)
        .bind(state_str(r.state))
        .bind(&r.error_code)
        .bind(now)
        .execute(&mut *c)
        .await?;
        return Ok(false);
    };
    if part_state != "submitted" {
        return Ok(true); // a repeated receipt
    }
    sqlx::query(
        "UPDATE message_parts SET state = ?, error_code = ?, updated_at = ? \
         WHERE connector = ? AND remote_id = ? AND message_id = ?",
    )
    .bind(state_str(r.state))
    .bind(&r.error_code)
    .bind(now)
    .bind(&r.connector)
    .bind(&r.remote_id)
    .bind(&message_id)
    .execute(&mut *c)
    .await?;
    settle_parts(c, &message_id, r.error_code.as_deref().unwrap_or(""), now).await?;
    Ok(true)
}

/// Gives a message the one status its parts add up to, after a part's state changed:
/// delivered only when every part is, undelivered or expired as soon as one part is, else a
/// `part_delivered` progress event. `code` is the network's error code of the latest report.
pub(crate) async fn settle_parts(
    c: &mut SqliteConnection,
    message_id: &str,
    code: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (total, delivered, undelivered, expired): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(state = 'delivered'), 0), \
         COALESCE(SUM(state = 'undelivered'), 0), COALESCE(SUM(state = 'expired'), 0) \
         FROM message_parts WHERE message_id = ?",
    )
    .bind(message_id)
    .fetch_one(&mut *c)
    .await?;
    let id = parse_id(message_id)?;
    // One status per message: delivered only when every part is; any lost part decides.
    if delivered == total {
        transition(c, id, Status::Delivered, "", None, None, now).await?;
    } else if undelivered > 0 {
        if super::receipt_retry::try_retry(c, message_id, code, now).await? {
            return Ok(());
        }
        let msg = format!("the network could not deliver a part (error {code})");
        transition(
            c,
            id,
            Status::Undelivered,
            "",
            Some(("undelivered", &msg)),
            None,
            now,
        )
        .await?;
    } else if expired > 0 {
        let msg = "validity expired in the network".to_owned();
        transition(
            c,
            id,
            Status::Expired,
            "",
            Some(("expired", &msg)),
            None,
            now,
        )
        .await?;
    } else {
        let detail = format!("part {} of {total} delivered", delivered);
        push_event(
            c,
            None,
            Some(id),
            "part_delivered",
            Some(Status::Sent),
            Some(&detail),
            None,
            now,
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn apply_receipts(
    c: &mut SqliteConnection,
    d: &(Vec<Receipt>, i64),
) -> Result<u64, sqlx::Error> {
    super::batch::apply_receipts(c, &d.0, d.1).await
}

pub(crate) async fn expire_due(
    c: &mut SqliteConnection,
    d: &(i64, i64),
) -> Result<u64, sqlx::Error> {
    let (now, grace) = *d;
    let waiting: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM messages WHERE expires_at <= ? AND next_attempt_at IS NOT NULL \
         AND lease_until IS NULL",
    )
    .bind(now)
    .fetch_all(&mut *c)
    .await?;
    let sent: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM messages WHERE expires_at <= ? AND status = 'sent'")
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
    sqlx::query("DELETE FROM orphan_receipts WHERE at <= ?")
        .bind(now - grace)
        .execute(&mut *c)
        .await?;
    Ok(n)
}

pub(crate) async fn recover_in_flight(
    c: &mut SqliteConnection,
    d: &(i64, bool),
) -> Result<u64, sqlx::Error> {
    let (now, retry) = *d;
    let rows: Vec<(String,)> = sqlx::query_as(
        "UPDATE messages SET lease_until = NULL, next_attempt_at = ? \
                        WHERE lease_until IS NOT NULL RETURNING id",
    )
    .bind(now)
    .fetch_all(&mut *c)
    .await?;
    let why = "the gateway stopped while the network held this message; it may have been sent";
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

pub(crate) async fn insert_inbound(
    c: &mut SqliteConnection,
    d: &(Vec<InboundSms>, i64),
) -> Result<Vec<MessageId>, sqlx::Error> {
    let now = d.1;
    let mut ids = Vec::with_capacity(d.0.len());
    for m in &d.0 {
        let id = MessageId::new();
        sqlx::query(
            "INSERT INTO inbound_messages (id, from_number, to_number, body, connector, \
             received_at, incomplete) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(&m.from)
        .bind(&m.to)
        .bind(&m.text)
        .bind(&m.connector)
        .bind(now)
        .bind(m.incomplete as i64)
        .execute(&mut *c)
        .await?;
        let data = serde_json::json!({
            "id": id.to_string(), "from": m.from, "to": m.to, "text": m.text,
            "connector": m.connector, "incomplete": m.incomplete,
            "received_at": smsgate_core::clock::rfc3339(now),
        })
        .to_string();
        push_event(
            c,
            Some("message.inbound"),
            None,
            "inbound",
            None,
            None,
            Some(&data),
            now,
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

pub(crate) async fn create_api_key(
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

pub(crate) async fn revoke_api_key(
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

pub(crate) async fn create_webhook(
    c: &mut SqliteConnection,
    w: &Webhook,
) -> Result<(), sqlx::Error> {
    let events = serde_json::to_string(&w.events).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO webhooks (id, api_key_id, url, events, secret, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&w.id)
    .bind(&w.api_key_id)
    .bind(&w.url)
    .bind(events)
    .bind(&w.secret)
    .bind(w.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn delete_webhook(
    c: &mut SqliteConnection,
    d: &(String, Option<String>),
) -> Result<bool, sqlx::Error> {
    let n = match &d.1 {
        Some(key) => sqlx::query("DELETE FROM webhooks WHERE id = ? AND api_key_id = ?")
            .bind(&d.0)
            .bind(key)
            .execute(c)
            .await?
            .rows_affected(),
        None => sqlx::query("DELETE FROM webhooks WHERE id = ?")
            .bind(&d.0)
            .execute(c)
            .await?
            .rows_affected(),
    };
    Ok(n > 0)
}

pub(crate) async fn append_event(
    c: &mut SqliteConnection,
    d: &(String, String, i64),
) -> Result<(), sqlx::Error> {
    push_event(c, Some(&d.0), None, &d.0, None, None, Some(&d.1), d.2).await
}

pub(crate) async fn enqueue_deliveries(
    c: &mut SqliteConnection,
    d: &(Vec<Delivery>, i64, i64),
) -> Result<(), sqlx::Error> {
    let (deliveries, cursor, now) = (&d.0, d.1, d.2);
    for chunk in deliveries.chunks(64) {
        let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO webhook_deliveries (id, webhook_id, url, secret, body, attempts, state, \
             next_attempt_at, created_at, updated_at) ",
        );
        b.push_values(chunk, |mut r, x| {
            r.push_bind(x.id.as_str())
                .push_bind(x.webhook_id.as_deref())
                .push_bind(x.url.as_str())
                .push_bind(x.secret.as_str())
                .push_bind(x.body.as_str())
                .push_bind(0i64)
                .push_bind("pending")
                .push_bind(now)
                .push_bind(x.created_at)
                .push_bind(now);
        });
        b.build().execute(&mut *c).await?;
    }
    sqlx::query(
        "INSERT INTO kv (key, value) VALUES ('outbox_cursor', ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(cursor.to_string())
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn claim_deliveries(
    c: &mut SqliteConnection,
    d: &(i64, u32, i64),
) -> Result<Vec<Delivery>, sqlx::Error> {
    let (now, limit, lease) = *d;
    let rows = sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
                      AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?) \
         RETURNING id, webhook_id, url, secret, body, attempts, created_at",
    )
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
            })
        })
        .collect()
}

pub(crate) async fn finish_deliveries(
    c: &mut SqliteConnection,
    d: &(Vec<DeliveryResult>, i64),
) -> Result<(), sqlx::Error> {
    let now = d.1;
    let mut done = BTreeSet::new();
    for r in &d.0 {
        match r {
            DeliveryResult::Done { id } => {
                done.insert(id.as_str());
            }
            DeliveryResult::Retry {
                id,
                retry_at,
                error,
            } => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = ?, last_error = ?, \
                     updated_at = ? WHERE id = ?",
                )
                .bind(retry_at)
                .bind(error)
                .bind(now)
                .bind(id)
                .execute(&mut *c)
                .await?;
            }
            DeliveryResult::GaveUp { id, error } => {
                sqlx::query(
                    "UPDATE webhook_deliveries SET state = 'failed', last_error = ?, \
                     updated_at = ? WHERE id = ?",
                )
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
        let mut b: QueryBuilder<Sqlite> =
            QueryBuilder::new("DELETE FROM webhook_deliveries WHERE id IN (");
        let mut sep = b.separated(", ");
        for id in done {
            sep.push_bind(id);
        }
        b.push(")");
        b.build().execute(c).await?;
    }
    Ok(())
}
