//! Set-based forms of the two hottest writes: recording accepted submits and applying delivery
//! receipts. Each statement covers a whole chunk of messages, so a batch of hundreds costs a
//! handful of round trips to SQLite instead of several per message. Rare outcomes (retries,
//! failures, undelivered or expired parts, orphan receipts) keep their one-by-one paths in
//! `write`, which these functions call for them.

use std::collections::{HashMap, HashSet};

use smsgate_core::connector::{Receipt, ReceiptState};
use smsgate_core::message::{MessageId, Status};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::write::{apply_receipt, from_statuses, settle_parts};

/// Rows per statement: well under SQLite's 32 766 bound parameters at 6 per row.
const CHUNK: usize = 400;

/// One accepted submit: the message, its connector and the network's id per part.
pub(crate) struct Sent<'a> {
    pub id: MessageId,
    pub connector: &'a str,
    pub remote_ids: &'a [String],
    /// The receipt-retry policy of this submit as stored (JSON array of codes), if any.
    pub receipt_retry: Option<String>,
}

/// Records accepted submits: lease released, status `sent` (when the lifecycle allows) with its
/// event, one `message_parts` row per part, and receipts that overtook the response applied.
pub(crate) async fn record_sent(
    c: &mut SqliteConnection,
    sent: &[Sent<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in sent.chunks(CHUNK) {
        record_sent_chunk(c, chunk, now).await?;
    }
    Ok(())
}

async fn record_sent_chunk(
    c: &mut SqliteConnection,
    sent: &[Sent<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = sent.iter().map(|s| s.id.to_string()).collect();
    // Release the lease and note the connector and its receipt-retry policy, whatever the
    // status is now.
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
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
    let mut q: QueryBuilder<Sqlite> =
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
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

    // Receipts that overtook these submits' responses (rare; one query finds them all).
    let any_orphans: Option<i64> = sqlx::query_scalar("SELECT 1 FROM orphan_receipts LIMIT 1")
        .fetch_optional(&mut *c)
        .await?;
    if any_orphans.is_none() {
        return Ok(());
    }
    for rows in parts.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "DELETE FROM orphan_receipts WHERE (connector, remote_id) IN (VALUES ",
        );
        let mut list = q.separated(", ");
        for (_, _, connector, rid) in rows {
            list.push("(")
                .push_bind_unseparated(*connector)
                .push_unseparated(", ")
                .push_bind_unseparated(*rid)
                .push_unseparated(")");
        }
        q.push(") RETURNING connector, remote_id, state, error_code");
        let orphans = q.build().fetch_all(&mut *c).await?;
        for r in orphans {
            let receipt = Receipt {
                connector: r.try_get(0)?,
                remote_id: r.try_get(1)?,
                state: super::write::state_from_str(r.try_get::<&str, _>(2)?),
                error_code: r.try_get(3)?,
            };
            apply_receipt(c, &receipt, now).await?;
        }
    }
    Ok(())
}

/// Applies delivery receipts; returns how many matched a known part (or repeated one).
pub(crate) async fn apply_receipts(
    c: &mut SqliteConnection,
    receipts: &[Receipt],
    now: i64,
) -> Result<u64, sqlx::Error> {
    let mut matched = 0;
    // Intermediate reports change nothing; a repeat of a part in the same batch is a duplicate.
    let mut seen = HashSet::new();
    let mut finals = Vec::with_capacity(receipts.len());
    for r in receipts {
        if r.state == ReceiptState::Pending {
            matched += 1;
        } else if seen.insert((r.connector.as_str(), r.remote_id.as_str())) {
            finals.push(r);
        } else {
            matched += 1;
        }
    }
    for chunk in finals.chunks(CHUNK) {
        matched += apply_chunk(c, chunk, now).await?;
    }
    Ok(matched)
}

async fn apply_chunk(
    c: &mut SqliteConnection,
    receipts: &[&Receipt],
    now: i64,
) -> Result<u64, sqlx::Error> {
    // Which message and state each receipt's part has (the newest row if ids were reused).
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT connector, remote_id, message_id, state, updated_at FROM message_parts \
         WHERE (connector, remote_id) IN (VALUES ",
    );
    let mut list = q.separated(", ");
    for r in receipts {
        list.push("(")
            .push_bind_unseparated(r.connector.as_str())
            .push_unseparated(", ")
            .push_bind_unseparated(r.remote_id.as_str())
            .push_unseparated(")");
    }
    q.push(")");
    let mut parts: HashMap<(String, String), (String, String, i64)> = HashMap::new();
    for row in q.build().fetch_all(&mut *c).await? {
        let key = (row.try_get(0)?, row.try_get(1)?);
        let value: (String, String, i64) = (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
        match parts.get(&key) {
            Some(old) if old.2 >= value.2 => {}
            _ => {
                parts.insert(key, value);
            }
        }
    }

    let mut matched = 0;
    let mut updates = Vec::with_capacity(receipts.len());
    for r in receipts {
        match parts.get(&(r.connector.clone(), r.remote_id.clone())) {
            // Not known yet: the submit's response has not been recorded. Keep it for then.
            None => {
                apply_receipt(c, r, now).await?;
            }
            Some((message_id, state, _)) => {
                matched += 1;
                if state == "submitted" {
                    updates.push((*r, message_id.as_str()));
                }
            }
        }
    }
    if updates.is_empty() {
        return Ok(matched);
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "UPDATE message_parts SET state = v.column4, error_code = v.column5, updated_at = ",
    );
    q.push_bind(now).push(" FROM (");
    q.push_values(&updates, |mut row, (r, message_id)| {
        row.push_bind(r.connector.as_str())
            .push_bind(r.remote_id.as_str())
            .push_bind(*message_id)
            .push_bind(super::write::state_str(r.state))
            .push_bind(r.error_code.as_deref());
    });
    q.push(
        ") AS v WHERE message_parts.connector = v.column1 AND message_parts.remote_id = \
         v.column2 AND message_parts.message_id = v.column3",
    );
    q.build().execute(&mut *c).await?;

    // Settle each touched message once: the common "every part delivered" case in one
    // statement, anything else through the one-by-one path.
    let mut touched: Vec<&str> = updates.iter().map(|(_, m)| *m).collect();
    touched.sort_unstable();
    touched.dedup();
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT message_id, COUNT(*), COALESCE(SUM(state = 'delivered'), 0) FROM message_parts \
         WHERE message_id IN (",
    );
    let mut list = q.separated(", ");
    for id in &touched {
        list.push_bind(*id);
    }
    q.push(") GROUP BY message_id");
    let mut all_delivered = Vec::new();
    let mut others = Vec::new();
    for row in q.build().fetch_all(&mut *c).await? {
        let id: String = row.try_get(0)?;
        let (total, delivered): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
        if total == delivered {
            all_delivered.push(id);
        } else {
            others.push(id);
        }
    }
    for id in &others {
        let code = updates
            .iter()
            .rev()
            .find(|(_, m)| *m == id.as_str())
            .and_then(|(r, _)| r.error_code.as_deref())
            .unwrap_or("");
        settle_parts(c, id, code, now).await?;
    }
    if all_delivered.is_empty() {
        return Ok(matched);
    }
    let moved = advance(c, &all_delivered, Status::Delivered, now).await?;
    if !moved.is_empty() {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO events (event, message_id, kind, status, detail, data, at) ",
        );
        q.push_values(&moved, |mut r, id| {
            r.push_bind("message.status")
                .push_bind(id.as_str())
                .push_bind("delivered")
                .push_bind("delivered")
                .push_bind(None::<&str>)
                .push_bind(None::<&str>)
                .push_bind(now);
        });
        q.build().execute(&mut *c).await?;
    }
    Ok(matched)
}

/// Moves `ids` to `target` where the lifecycle allows (a status never goes backwards) in one
/// statement; returns the ids that moved, which are the ones that get an event.
async fn advance<S: AsRef<str>>(
    c: &mut SqliteConnection,
    ids: &[S],
    target: Status,
    now: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE messages SET status = ");
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
