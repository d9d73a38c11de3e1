//! [`NorthboundStore`](smsgate_core::northbound::NorthboundStore) on SQLite (migration 0002):
//! the `northbound_submissions` table, feeds over `events`, and named cursors in `kv`.

use std::collections::{BTreeSet, HashMap};

use smsgate_core::message::{InboundMessage, MessageId, NewMessage, Status};
use smsgate_core::northbound::{
    Feed, FeedItem, PartOf, PartProgress, StoredSubmission, Submission,
};
use smsgate_core::store::Accepted;
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db, DbRow, Pool};
use super::messages::{accepted, insert_rows, joined_message_columns, message_from_row};
use super::{parse_id, parse_status};

const SUBMISSION_COLUMNS: &str =
    "id, account, message_id, part_group, part_no, part_total, data, created_at, part_content";

fn submission_from_row(r: &DbRow, o: usize) -> Result<StoredSubmission, sqlx::Error> {
    let group: Option<String> = r.try_get(o + 3)?;
    let part = match group {
        Some(group) => Some(PartOf {
            group,
            part_no: r.try_get::<i64, _>(o + 4)?.clamp(0, 255) as u8,
            total: r.try_get::<i64, _>(o + 5)?.clamp(0, 255) as u8,
            content: r.try_get::<Option<String>, _>(o + 8)?.unwrap_or_default(),
        }),
        None => None,
    };
    let message_id = match r.try_get::<Option<&str>, _>(o + 2)? {
        Some(id) => Some(parse_id(id)?),
        None => None,
    };
    Ok(StoredSubmission {
        submission: Submission {
            id: r.try_get(o)?,
            account: r.try_get(o + 1)?,
            part,
            data: r.try_get(o + 6)?,
            created_at: r.try_get(o + 7)?,
        },
        message_id,
    })
}

async fn insert_submission(
    c: &mut Conn,
    s: &Submission,
    message_id: Option<MessageId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(sql!(
        "INSERT INTO northbound_submissions (id, account, message_id, part_group, part_no, \
         part_total, data, created_at, part_content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&s.id)
    .bind(&s.account)
    .bind(message_id.map(|m| m.to_string()))
    .bind(s.part.as_ref().map(|p| p.group.as_str()))
    .bind(s.part.as_ref().map(|p| i64::from(p.part_no)))
    .bind(s.part.as_ref().map(|p| i64::from(p.total)))
    .bind(&s.data)
    .bind(s.created_at)
    .bind(s.part.as_ref().map(|p| p.content.as_str()))
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn submit_whole(
    c: &mut Conn,
    d: &(NewMessage, Submission),
) -> Result<Accepted, sqlx::Error> {
    let (message, submission) = d;
    insert_rows(c, &[message]).await?;
    insert_submission(c, submission, Some(message.id)).await?;
    Ok(accepted(message))
}

async fn pending_of<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    account: &str,
    group: &str,
) -> Result<Vec<StoredSubmission>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUBMISSION_COLUMNS} FROM northbound_submissions \
         WHERE account = ? AND part_group = ? AND message_id IS NULL \
         ORDER BY created_at, rowid"
    );
    let rows = sqlx::query(&super::db::dialect(&sql))
        .bind(account)
        .bind(group)
        .fetch_all(ex)
        .await?;
    rows.iter().map(|r| submission_from_row(r, 0)).collect()
}

pub(crate) async fn submit_part(c: &mut Conn, s: &Submission) -> Result<PartProgress, sqlx::Error> {
    let Some(part) = &s.part else {
        return Err(sqlx::Error::Protocol(
            "submit_part needs a submission with its part position".into(),
        ));
    };
    let exists: Option<i64> = sqlx::query_scalar(sql!(
        "SELECT CAST(1 AS BIGINT) FROM northbound_submissions WHERE id = ?"
    ))
    .bind(&s.id)
    .fetch_optional(&mut *c)
    .await?;
    if exists.is_some() {
        return Ok(PartProgress::Duplicate);
    }
    // The same position, waiting, with other content: the client reused the reference for a
    // new message while the old set was incomplete. Close the old set under a group name of
    // its own (the sweep sends it after the timeout) so the two are never mixed.
    let reused: Option<i64> = sqlx::query_scalar(sql!(
        "SELECT CAST(1 AS BIGINT) FROM northbound_submissions WHERE account = ? AND part_group = ? \
         AND message_id IS NULL AND part_no = ? AND COALESCE(part_content, '') <> ? LIMIT 1"
    ))
    .bind(&s.account)
    .bind(&part.group)
    .bind(i64::from(part.part_no))
    .bind(&part.content)
    .fetch_optional(&mut *c)
    .await?;
    if reused.is_some() {
        sqlx::query(sql!(
            "UPDATE northbound_submissions SET part_group = part_group || ? \
             WHERE account = ? AND part_group = ? AND message_id IS NULL"
        ))
        .bind(format!("\u{1f}closed-by:{}", s.id))
        .bind(&s.account)
        .bind(&part.group)
        .execute(&mut *c)
        .await?;
    }
    insert_submission(c, s, None).await?;
    let pending = pending_of(&mut *c, &s.account, &part.group).await?;
    let present: BTreeSet<u8> = pending
        .iter()
        .filter_map(|p| p.submission.part.as_ref().map(|p| p.part_no))
        .collect();
    if (1..=part.total.max(1)).all(|n| present.contains(&n)) {
        Ok(PartProgress::Complete(pending))
    } else {
        Ok(PartProgress::Waiting)
    }
}

pub(crate) async fn assemble(
    c: &mut Conn,
    d: &(Vec<String>, NewMessage),
) -> Result<MessageId, sqlx::Error> {
    let (ids, message) = d;
    if !ids.is_empty() {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT message_id FROM northbound_submissions \
             WHERE message_id IS NOT NULL AND id IN (",
        );
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id);
        }
        q.push(") LIMIT 1");
        let earlier: Option<String> = q.build_query_scalar().fetch_optional(&mut *c).await?;
        if let Some(earlier) = earlier {
            return parse_id(&earlier);
        }
    }
    insert_rows(c, &[message]).await?;
    let mut u: QueryBuilder<Db> = QueryBuilder::new("UPDATE northbound_submissions SET ");
    u.push("message_id = ")
        .push_bind(message.id.to_string())
        .push(" WHERE message_id IS NULL AND id IN (");
    let mut sep = u.separated(", ");
    for id in ids {
        sep.push_bind(id);
    }
    sep.push_unseparated(")");
    if !ids.is_empty() {
        u.build().execute(&mut *c).await?;
    }
    Ok(message.id)
}

pub(crate) async fn submission(
    pool: &Pool,
    id: &str,
) -> Result<Option<StoredSubmission>, sqlx::Error> {
    let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM northbound_submissions WHERE id = ?");
    let row = sqlx::query(&super::db::dialect(&sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| submission_from_row(&r, 0)).transpose()
}

pub(crate) async fn submissions_of(
    pool: &Pool,
    message: MessageId,
) -> Result<Vec<StoredSubmission>, sqlx::Error> {
    let sql = format!(
        "SELECT {SUBMISSION_COLUMNS} FROM northbound_submissions WHERE message_id = ? \
         ORDER BY created_at, rowid"
    );
    let rows = sqlx::query(&super::db::dialect(&sql))
        .bind(message.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| submission_from_row(r, 0)).collect()
}

pub(crate) async fn pending_groups(
    pool: &Pool,
    older_than: i64,
) -> Result<Vec<Vec<StoredSubmission>>, sqlx::Error> {
    let groups: Vec<(String, String)> = sqlx::query_as(sql!(
        "SELECT account, part_group FROM northbound_submissions \
         WHERE message_id IS NULL AND part_group IS NOT NULL \
         GROUP BY account, part_group \
         HAVING MIN(created_at) < ? OR COUNT(DISTINCT part_no) >= MAX(part_total) \
         ORDER BY MIN(created_at) LIMIT 1000"
    ))
    .bind(older_than)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(groups.len());
    for (account, group) in groups {
        let parts = pending_of(pool, &account, &group).await?;
        if !parts.is_empty() {
            out.push(parts);
        }
    }
    Ok(out)
}

fn final_statuses() -> String {
    let list: Vec<String> = Status::ALL
        .iter()
        .filter(|s| s.is_final())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", list.join(","))
}

fn inbound_from_data(seq: i64, at: i64, data: &str) -> Result<FeedItem, sqlx::Error> {
    let bad = |what: &str| sqlx::Error::Decode(format!("inbound event {seq}: {what}").into());
    let v: serde_json::Value = serde_json::from_str(data).map_err(|e| bad(&e.to_string()))?;
    let text = |k: &str| v[k].as_str().map(str::to_owned).ok_or_else(|| bad(k));
    Ok(FeedItem::Inbound {
        seq,
        message: InboundMessage {
            id: parse_id(&text("id")?)?,
            from: text("from")?,
            to: text("to")?,
            text: text("text")?,
            connector: text("connector")?,
            received_at: at,
            incomplete: v["incomplete"].as_bool().unwrap_or(false),
            tenant: v["tenant"].as_str().map(str::to_owned),
            binary: match v["binary"]["data_coding"].as_u64() {
                Some(dc) => Some(smsgate_core::message::Binary {
                    data_coding: dc as u8,
                    udh: hex::decode(v["binary"]["udh"].as_str().unwrap_or_default())
                        .map_err(|e| bad(&e.to_string()))?,
                }),
                None => None,
            },
        },
    })
}

pub(crate) async fn feed(
    pool: &Pool,
    owner: &str,
    inbound: bool,
    after: i64,
    limit: u32,
) -> Result<Feed, sqlx::Error> {
    // Read the end first: events commit in `seq` order (one writer), so everything up to it
    // is visible to the query below and the cursor may move there.
    let end: i64 = sqlx::query_scalar(sql!("SELECT COALESCE(MAX(seq), 0) FROM events"))
        .fetch_one(pool)
        .await?;
    let cols = joined_message_columns();
    let sql = format!(
        "SELECT e.seq, e.at, e.event, e.status, e.data, {cols} \
         FROM events e LEFT JOIN messages m ON m.id = e.message_id \
         WHERE e.seq > ? AND e.seq <= ? AND ( \
           (e.event = 'message.status' AND e.status IN {} AND m.api_key_id = ?) \
           OR (? AND e.event = 'message.inbound')) \
         ORDER BY e.seq LIMIT ?",
        final_statuses()
    );
    let rows = sqlx::query(&super::db::dialect(&sql))
        .bind(after)
        .bind(end)
        .bind(owner)
        .bind(inbound)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut wanted: Vec<String> = Vec::new();
    for r in &rows {
        let seq: i64 = r.try_get(0)?;
        let at: i64 = r.try_get(1)?;
        let event: Option<&str> = r.try_get(2)?;
        if event == Some("message.inbound") {
            let data: Option<&str> = r.try_get(4)?;
            items.push(inbound_from_data(seq, at, data.unwrap_or("{}"))?);
            continue;
        }
        let status = parse_status(r.try_get::<&str, _>(3)?)?;
        let message = message_from_row(r, 5)?;
        wanted.push(message.id.to_string());
        items.push(FeedItem::Final {
            seq,
            at,
            status,
            message: Box::new(message),
            submissions: Vec::new(),
        });
    }
    if !wanted.is_empty() {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {SUBMISSION_COLUMNS} FROM northbound_submissions WHERE message_id IN ("
        ));
        let mut sep = q.separated(", ");
        for id in &wanted {
            sep.push_bind(id);
        }
        q.push(") ORDER BY created_at, rowid");
        let mut by_message: HashMap<MessageId, Vec<StoredSubmission>> = HashMap::new();
        for r in q.build().fetch_all(pool).await? {
            let s = submission_from_row(&r, 0)?;
            if let Some(m) = s.message_id {
                by_message.entry(m).or_default().push(s);
            }
        }
        for item in &mut items {
            if let FeedItem::Final {
                message,
                submissions,
                ..
            } = item
            {
                *submissions = by_message.get(&message.id).cloned().unwrap_or_default();
            }
        }
    }
    let up_to = if items.len() as u64 >= u64::from(limit) {
        items.last().map_or(after, FeedItem::seq)
    } else {
        end.max(after)
    };
    Ok(Feed { items, up_to })
}

pub(crate) async fn cursor(pool: &Pool, name: &str) -> Result<Option<i64>, sqlx::Error> {
    let v: Option<String> = sqlx::query_scalar(sql!("SELECT value FROM kv WHERE key = ?"))
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(v.and_then(|v| v.parse().ok()))
}

pub(crate) async fn set_cursor(c: &mut Conn, d: &(String, i64)) -> Result<(), sqlx::Error> {
    sqlx::query(sql!(
        "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE \
         SET value = excluded.value \
         WHERE CAST(kv.value AS BIGINT) < CAST(excluded.value AS BIGINT)"
    ))
    .bind(&d.0)
    .bind(d.1.to_string())
    .execute(c)
    .await?;
    Ok(())
}
