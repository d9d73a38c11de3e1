//! Received SMS (`inbound_messages`). Each one is stored with its `message.inbound` outbox
//! event in the same transaction, so webhooks see every message the gateway took from the
//! network; the IoT engine reads the same rows after its own cursor (`iot`).

use smsgate_core::connector::InboundSms;
use smsgate_core::message::{InboundMessage, MessageId};
use smsgate_core::store::InboundQuery;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqliteExecutor};

use super::events::push_event;
use super::parse_id;

pub(super) async fn insert_inbound(
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

pub(super) async fn list_inbound<'e>(
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
pub(super) const INBOUND_COLUMNS: &str =
    "id, from_number, to_number, body, connector, received_at, incomplete";

pub(super) fn inbound_from_row(r: &SqliteRow) -> Result<InboundMessage, sqlx::Error> {
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
