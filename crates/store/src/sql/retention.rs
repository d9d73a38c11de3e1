//! Retention and erasure: message and inbound bodies redacted after a period, rows deleted
//! after a longer one, and everything about one number erased on request. Each pass touches
//! at most `limit` rows per table, so it is one short write among the others, never a long
//! lock in front of the intake.
//!
//! Ids are UUIDv7, sortable by creation time: "older than T" is `id < lower bound of T`, a
//! range on the primary key.

use super::db::Conn;
use smsgate_core::message::MessageId;
use smsgate_core::store::{RetentionDone, RetentionPass};

/// The smallest UUIDv7 text of Unix ms `t`: every id created before `t` sorts below it.
fn id_bound(t: i64) -> String {
    let t = t.max(0) as u64;
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        (t >> 16) & 0xffff_ffff,
        t & 0xffff
    )
}

const REDACTED_TO: &str = "retention.redacted_to";
const INBOUND_REDACTED_TO: &str = "retention.inbound_redacted_to";

async fn kv(c: &mut Conn, key: &str) -> Result<String, sqlx::Error> {
    let v: Option<String> = sqlx::query_scalar(sql!("SELECT value FROM kv WHERE key = ?"))
        .bind(key)
        .fetch_optional(&mut *c)
        .await?;
    Ok(v.unwrap_or_default())
}

async fn set_kv(c: &mut Conn, key: &str, value: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql!(
        "INSERT INTO kv (key, value) VALUES (?, ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    ))
    .bind(key)
    .bind(value)
    .execute(c)
    .await?;
    Ok(())
}

/// The statements that delete one message with what hangs on it.
const DELETE_MESSAGE: [&str; 4] = [
    "DELETE FROM events WHERE message_id = ?",
    "DELETE FROM message_parts WHERE message_id = ?",
    "DELETE FROM northbound_submissions WHERE message_id = ?",
    "DELETE FROM messages WHERE id = ?",
];

async fn delete_rows(c: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    for sql in DELETE_MESSAGE {
        sqlx::query(&super::db::dialect(sql))
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Deletes one message unless it still waits (see `Store::delete_message`).
pub(super) async fn delete_message(
    c: &mut Conn,
    id: &MessageId,
) -> Result<Option<bool>, sqlx::Error> {
    let id = id.to_string();
    let waiting: Option<bool> = sqlx::query_scalar(sql!(
        "SELECT (next_attempt_at IS NOT NULL OR lease_until IS NOT NULL) FROM messages \
         WHERE id = ?"
    ))
    .bind(&id)
    .fetch_optional(&mut *c)
    .await?;
    match waiting {
        None => Ok(None),
        Some(true) => Ok(Some(false)),
        Some(false) => {
            delete_rows(c, &id).await?;
            Ok(Some(true))
        }
    }
}

/// Blanks one message's text (see `Store::redact_message`).
pub(super) async fn redact_one(c: &mut Conn, id: &MessageId) -> Result<bool, sqlx::Error> {
    let id = id.to_string();
    let exists: Option<i64> =
        sqlx::query_scalar(sql!("SELECT CAST(1 AS BIGINT) FROM messages WHERE id = ?"))
            .bind(&id)
            .fetch_optional(&mut *c)
            .await?;
    if exists.is_none() {
        return Ok(false);
    }
    redact_message(c, &id).await?;
    Ok(true)
}

pub(super) async fn retention(
    c: &mut Conn,
    p: &RetentionPass,
) -> Result<RetentionDone, sqlx::Error> {
    let mut done = RetentionDone::default();
    let limit = i64::from(p.limit.max(1));
    if let Some(before) = p.delete_before {
        let bound = id_bound(before);
        // Messages no longer waiting, with their timeline, parts and SMPP submissions.
        let ids: Vec<String> = sqlx::query_scalar(sql!(
            "SELECT id FROM messages WHERE id < ? AND next_attempt_at IS NULL \
             AND lease_until IS NULL ORDER BY id LIMIT ?"
        ))
        .bind(&bound)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
        for id in &ids {
            delete_rows(c, id).await?;
        }
        done.deleted += ids.len() as u64;
        let n = sqlx::query(sql!(
            "DELETE FROM inbound_messages WHERE id IN \
             (SELECT id FROM inbound_messages WHERE id < ? ORDER BY id LIMIT ?)"
        ))
        .bind(&bound)
        .bind(limit)
        .execute(&mut *c)
        .await?
        .rows_affected();
        done.deleted += n;
        // Other events (inbound, alerts, opt-outs) the webhook pipeline is done with.
        let cursor: i64 = kv(c, "outbox_cursor").await?.parse().unwrap_or(0);
        let n = sqlx::query(sql!(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE message_id IS NULL \
             AND at < ? AND seq <= ? ORDER BY seq LIMIT ?)"
        ))
        .bind(before)
        .bind(cursor)
        .bind(limit)
        .execute(&mut *c)
        .await?
        .rows_affected();
        done.deleted += n;
    }
    if let Some(before) = p.redact_before {
        let bound = id_bound(before);
        for kind in [Texts::Messages, Texts::Inbound] {
            done.redacted += redact_older(c, kind, &bound, limit).await?;
        }
    }
    Ok(done)
}

/// Where texts are redacted, each table after its own cursor.
#[derive(Clone, Copy)]
enum Texts {
    Messages,
    Inbound,
}

/// Redacts up to `limit` rows of `kind` created before `bound` and after its cursor (a
/// message still waiting to be sent is left for a later pass); moves the cursor.
async fn redact_older(
    c: &mut Conn,
    kind: Texts,
    bound: &str,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let (key, sql) = match kind {
        Texts::Messages => (
            REDACTED_TO,
            "SELECT id FROM messages WHERE id > ? AND id < ? AND next_attempt_at IS NULL \
             AND lease_until IS NULL ORDER BY id LIMIT ?",
        ),
        Texts::Inbound => (
            INBOUND_REDACTED_TO,
            "SELECT id FROM inbound_messages WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
        ),
    };
    let from = kv(c, key).await?;
    let ids: Vec<String> = sqlx::query_scalar(&super::db::dialect(sql))
        .bind(&from)
        .bind(bound)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    for id in &ids {
        match kind {
            Texts::Messages => redact_message(c, id).await?,
            Texts::Inbound => redact_inbound(c, id).await?,
        }
    }
    if let Some(last) = ids.last() {
        set_kv(c, key, last).await?;
    }
    Ok(ids.len() as u64)
}

/// A message's text, wherever it is kept: the row, and the parts an SMPP client submitted.
async fn redact_message(c: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql!("UPDATE messages SET body = '' WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query(&super::db::dialect(&format!(
        "UPDATE northbound_submissions SET part_content = NULL, data = {} WHERE message_id = ?",
        super::db::json_blank("data", "text")
    )))
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// An inbound message's text: the row, its `message.inbound` event and any `inbound.routed`
/// event an inbound rule made of it.
async fn redact_inbound(c: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql!("UPDATE inbound_messages SET body = '' WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query(&super::db::dialect(&format!(
        "UPDATE events SET data = {} WHERE event IN ('message.inbound', 'inbound.routed') \
         AND {} = ?",
        super::db::json_blank("data", "text"),
        super::db::json_get("data", "id")
    )))
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Erases the texts of everything sent to or received from `number` (of one tenant, or all);
/// returns how many messages were touched. Opt-outs stay, with the number replaced by its
/// hash ([`smsgate_core::compliance::hashed_number`]): they are what keeps the number from
/// being messaged again, and the gateway still recognises it by the hash.
pub(super) async fn erase_number(
    c: &mut Conn,
    d: &(Option<String>, String),
) -> Result<u64, sqlx::Error> {
    let (tenant, number) = (&d.0, &d.1);
    let bare = number.trim_start_matches('+');
    let ids: Vec<String> = sqlx::query_scalar(sql!(
        "SELECT id FROM messages WHERE to_number IN (?, ?) AND (? IS NULL OR tenant = ?)"
    ))
    .bind(number)
    .bind(bare)
    .bind(tenant)
    .bind(tenant)
    .fetch_all(&mut *c)
    .await?;
    for id in &ids {
        redact_message(c, id).await?;
    }
    let inbound: Vec<String> = sqlx::query_scalar(sql!(
        "SELECT id FROM inbound_messages WHERE from_number IN (?, ?) AND (? IS NULL OR tenant = ?)"
    ))
    .bind(number)
    .bind(bare)
    .bind(tenant)
    .bind(tenant)
    .fetch_all(&mut *c)
    .await?;
    for id in &inbound {
        redact_inbound(c, id).await?;
    }
    // Consent records are personal data too; without one a tenant that requires consent
    // cannot message the number again, which is what erasure asks for.
    sqlx::query(sql!(
        "DELETE FROM consents WHERE number = ? AND (? IS NULL OR tenant = ?)"
    ))
    .bind(number)
    .bind(tenant)
    .bind(tenant)
    .execute(&mut *c)
    .await?;
    let hashed = smsgate_core::compliance::hashed_number(number);
    sqlx::query(sql!(
        "INSERT INTO optouts (tenant, number, sender, source, created_at) \
         SELECT tenant, ?, sender, source, created_at FROM optouts \
         WHERE number = ? AND (? IS NULL OR tenant = ?) ON CONFLICT DO NOTHING"
    ))
    .bind(&hashed)
    .bind(number)
    .bind(tenant)
    .bind(tenant)
    .execute(&mut *c)
    .await?;
    sqlx::query(sql!(
        "DELETE FROM optouts WHERE number = ? AND (? IS NULL OR tenant = ?)"
    ))
    .bind(number)
    .bind(tenant)
    .bind(tenant)
    .execute(&mut *c)
    .await?;
    Ok((ids.len() + inbound.len()) as u64)
}

#[cfg(test)]
mod tests {
    use super::id_bound;
    use smsgate_core::message::MessageId;

    #[test]
    fn ids_made_before_a_time_sort_below_its_bound() {
        let id = MessageId::new().to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!(id.as_str() < id_bound(now + 1).as_str(), "{id}");
        assert!(id.as_str() > id_bound(now - 1000).as_str(), "{id}");
    }
}
