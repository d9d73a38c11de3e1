//! Delivery receipts: the network's report on each part (`message_parts`), settled into the one
//! status a message shows.
//!
//! A receipt can overtake the response to its own submit, so one that matches no part yet waits
//! in `orphan_receipts` and is applied when the submit is recorded ([`apply_orphans`]): no report
//! is lost to that race. Applying receipts is the second hottest write, so [`apply_receipts`] is
//! set-based like recording submits (see `messages`); undelivered or expired parts and orphans
//! take the one-by-one path ([`apply_receipt`], [`settle_parts`]).

use std::collections::{HashMap, HashSet};

use smsgate_core::connector::{Receipt, ReceiptState};
use smsgate_core::message::Status;
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db};
use super::events::push_event;
use super::messages::{advance, transition};
use super::{CHUNK, parse_id};

fn state_str(s: ReceiptState) -> &'static str {
    match s {
        ReceiptState::Delivered => "delivered",
        ReceiptState::Undelivered => "undelivered",
        ReceiptState::Expired => "expired",
        ReceiptState::Pending => "submitted",
    }
}

fn state_from_str(s: &str) -> ReceiptState {
    match s {
        "delivered" => ReceiptState::Delivered,
        "undelivered" => ReceiptState::Undelivered,
        "expired" => ReceiptState::Expired,
        _ => ReceiptState::Pending,
    }
}

/// Applies one receipt; `true` when it matched a known part.
async fn apply_receipt(c: &mut Conn, r: &Receipt, now: i64) -> Result<bool, sqlx::Error> {
    if r.state == ReceiptState::Pending {
        return Ok(true); // intermediate report: nothing changes
    }
    let hit: Option<(String, String)> = sqlx::query_as(sql!(
        "SELECT message_id, state FROM message_parts WHERE connector = ? AND remote_id = ? \
         ORDER BY updated_at DESC LIMIT 1"
    ))
    .bind(&r.connector)
    .bind(&r.remote_id)
    .fetch_optional(&mut *c)
    .await?;
    let Some((message_id, part_state)) = hit else {
        sqlx::query(sql!(
            "INSERT INTO orphan_receipts (connector, remote_id, state, error_code, at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (connector, remote_id) DO UPDATE SET \
             state = excluded.state, error_code = excluded.error_code, at = excluded.at"
        ))
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
    sqlx::query(sql!(
        "UPDATE message_parts SET state = ?, error_code = ?, updated_at = ? \
         WHERE connector = ? AND remote_id = ? AND message_id = ?"
    ))
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
async fn settle_parts(
    c: &mut Conn,
    message_id: &str,
    code: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (total, delivered, undelivered, expired): (i64, i64, i64, i64) = sqlx::query_as(
        sql!("SELECT COUNT(*), COUNT(CASE WHEN state = 'delivered' THEN 1 END), \
         COUNT(CASE WHEN state = 'undelivered' THEN 1 END), COUNT(CASE WHEN state = 'expired' THEN 1 END) \
         FROM message_parts WHERE message_id = ?"),
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

/// Applies the receipts that wait in `orphan_receipts` for the parts just recorded
/// (`message_id, part_no, connector, remote_id`), rare enough that one query finds them all.
pub(super) async fn apply_orphans(
    c: &mut Conn,
    parts: &[(&str, i64, &str, &str)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let any_orphans: Option<i64> = sqlx::query_scalar(sql!(
        "SELECT CAST(1 AS BIGINT) FROM orphan_receipts LIMIT 1"
    ))
    .fetch_optional(&mut *c)
    .await?;
    if any_orphans.is_none() {
        return Ok(());
    }
    for rows in parts.chunks(CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
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
                state: state_from_str(r.try_get::<&str, _>(2)?),
                error_code: r.try_get(3)?,
            };
            apply_receipt(c, &receipt, now).await?;
        }
    }
    Ok(())
}

/// Applies delivery receipts; returns how many matched a known part (or repeated one).
pub(super) async fn apply_receipts(
    c: &mut Conn,
    d: &(Vec<Receipt>, i64),
) -> Result<u64, sqlx::Error> {
    let (receipts, now) = (&d.0, d.1);
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

async fn apply_chunk(c: &mut Conn, receipts: &[&Receipt], now: i64) -> Result<u64, sqlx::Error> {
    // Which message and state each receipt's part has (the newest row if ids were reused).
    let mut q: QueryBuilder<Db> = QueryBuilder::new(
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
    let mut q: QueryBuilder<Db> = QueryBuilder::new(
        "UPDATE message_parts SET state = v.column4, error_code = v.column5, updated_at = ",
    );
    q.push_bind(now).push(" FROM (");
    q.push_values(&updates, |mut row, (r, message_id)| {
        row.push_bind(r.connector.as_str())
            .push_bind(r.remote_id.as_str())
            .push_bind(*message_id)
            .push_bind(state_str(r.state))
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
    let mut q: QueryBuilder<Db> = QueryBuilder::new(
        "SELECT message_id, COUNT(*), COUNT(CASE WHEN state = 'delivered' THEN 1 END) FROM message_parts \
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
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
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
