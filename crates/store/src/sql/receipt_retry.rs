//! An `undelivered` receipt that sends the message again through another connector
//! (`[[routes]] retry_undelivered`).
//!
//! The dispatcher decides when it records a submit whether that submit's `undelivered` receipt
//! may be retried (the route allows it, the code is one it lists, a connector is left) and
//! stores the policy in `messages.receipt_retry`. When such a receipt comes, the message does
//! not become `undelivered`: it stays `sent` (statuses never go backwards), becomes due again,
//! remembers the connector in `undelivered_via` so the dispatcher skips it, and its timeline
//! gets a `receipt_retry` event; the next submit adds a `resent` event naming the connector.
//! Parts still waiting for receipts from the first connector are marked `retried`, so their
//! late receipts change nothing.

use std::collections::HashSet;

use smsgate_core::message::Status;
use smsgate_core::routing::ReceiptRetry;
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db};
use super::json_list;
use super::messages::Sent;

/// Applies the receipt-retry policy of `message_id` to an `undelivered` receipt with `code`;
/// `true` when the message goes out again (and must not be settled as undelivered).
pub(crate) async fn try_retry(
    c: &mut Conn,
    message_id: &str,
    code: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(sql!(
        "SELECT status, connector, receipt_retry, undelivered_via FROM messages WHERE id = ?"
    ))
    .bind(message_id)
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let status: &str = row.try_get(0)?;
    let connector: Option<String> = row.try_get(1)?;
    let policy: Option<&str> = row.try_get(2)?;
    let (Some(policy), Some(connector)) = (policy, connector) else {
        return Ok(false);
    };
    if status != Status::Sent.as_str() {
        return Ok(false);
    }
    let retry = ReceiptRetry {
        codes: json_list(Some(policy))?,
    };
    let code = Some(code).filter(|c| !c.is_empty());
    if !retry.allows(code) {
        return Ok(false);
    }
    let mut via = json_list(row.try_get(3)?)?;
    if !via.contains(&connector) {
        via.push(connector.clone());
    }
    let why = format!(
        "{connector} reported the message undelivered (error {}); sending it again through the \
         route's next connector",
        code.unwrap_or("none")
    );
    sqlx::query(sql!(
        "UPDATE messages SET next_attempt_at = ?, receipt_retry = NULL, undelivered_via = ?, \
         error_code = 'undelivered', error_message = ?, updated_at = ? \
         WHERE id = ? AND status = 'sent'"
    ))
    .bind(now)
    .bind(serde_json::json!(via).to_string())
    .bind(&why)
    .bind(now)
    .bind(message_id)
    .execute(&mut *c)
    .await?;
    sqlx::query(sql!(
        "UPDATE message_parts SET state = 'retried', updated_at = ? \
         WHERE message_id = ? AND state = 'submitted'"
    ))
    .bind(now)
    .bind(message_id)
    .execute(&mut *c)
    .await?;
    sqlx::query(sql!(
        "INSERT INTO events (event, message_id, kind, status, detail, at) \
         VALUES (NULL, ?, 'receipt_retry', 'sent', ?, ?)"
    ))
    .bind(message_id)
    .bind(&why)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(true)
}

/// Adds a `resent` event to every message of `sent` that did not move to `sent` because it was
/// `sent` already: it went out again after a receipt retry.
pub(crate) async fn note_resent(
    c: &mut Conn,
    sent: &[Sent<'_>],
    ids: &[String],
    moved: &HashSet<String>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let others: Vec<(&Sent<'_>, &String)> = sent
        .iter()
        .zip(ids)
        .filter(|(_, id)| !moved.contains(*id))
        .collect();
    let mut q: QueryBuilder<Db> =
        QueryBuilder::new("SELECT id FROM messages WHERE status = 'sent' AND id IN (");
    let mut list = q.separated(", ");
    for (_, id) in &others {
        list.push_bind(id.as_str());
    }
    q.push(")");
    let resent: HashSet<String> = q
        .build()
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    if resent.is_empty() {
        return Ok(());
    }
    let mut q: QueryBuilder<Db> =
        QueryBuilder::new("INSERT INTO events (event, message_id, kind, status, detail, at) ");
    q.push_values(
        others.iter().filter(|(_, id)| resent.contains(*id)),
        |mut r, (s, id)| {
            r.push_bind(None::<&str>)
                .push_bind(id.as_str())
                .push_bind("resent")
                .push_bind("sent")
                .push_bind(format!("sent again through {}", s.connector))
                .push_bind(now);
        },
    );
    q.build().execute(c).await?;
    Ok(())
}
