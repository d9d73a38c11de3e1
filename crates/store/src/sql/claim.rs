//! Claiming due messages for the dispatcher: priority first, then fair between API keys.
//!
//! Within one priority (high, then normal, then low), the messages waiting are grouped by
//! API key (messages without a key form one more group). A claim of `limit` messages gives
//! every group with due work an equal share, hands what a small group leaves over to the
//! others, and starts each claim's round after the group served last. So a key that queued
//! 100,000 messages gets its share of the connectors' capacity, but a second key's handful is
//! claimed at the next round instead of after the whole batch; and a high-priority message is
//! claimed before any normal one, whoever sent it.
//!
//! Every step is a seek on the partial index `messages_fair (priority, api_key_id,
//! next_attempt_at)` (migration 0004): finding the next group with waiting messages is a loose
//! index scan (`ORDER BY api_key_id LIMIT 1` after the previous key), and a group's share is a
//! range read in due order. The cost grows with the groups served per claim, not with the
//! queue. The SQL is plain enough for PostgreSQL, whose claim adds `FOR UPDATE SKIP LOCKED`
//! to the per-group read.

use std::collections::{HashMap, HashSet};

use smsgate_core::message::{Message, Priority};
use sqlx::QueryBuilder;

use super::db::{Conn, Db};
use super::messages::{MESSAGE_COLUMNS, message_from_row};

/// How long a claim holds a message. A held lease is a crash's only when its node is gone: on
/// SQLite (one node) at start-up, on PostgreSQL once its node's beat is older than
/// `node_timeout` (`recover_in_flight`); the length itself decides neither.
const LEASE_MS: i64 = 10 * 60 * 1000;

/// The rows the claim may take: waiting (not left the queue) and not held by a connector.
const WAITING: &str = "next_attempt_at IS NOT NULL AND lease_until IS NULL";

/// One share of the queue: the messages of one API key, or those without a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Group {
    /// `api_key_id IS NULL` (messages the gateway created itself, e.g. IoT alerts).
    NoKey,
    /// One API key's id.
    Key(String),
}

/// Where the round robin stands: the group served last, per priority (index = `as_i64`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Cursor {
    last: [Option<Group>; 3],
}

/// Groups visited per claim at most, beyond the ones served: bounds the cost when many keys
/// have only messages scheduled for later.
const EXTRA_VISITS: usize = 64;

/// The group after `after` in index order (no key first, then keys ascending) with waiting
/// messages at `priority`; `after = None` starts at the beginning. One seek either way:
/// `NULLS FIRST` (SQLite's and the index's order; PostgreSQL needs it spelled out) makes the
/// first row the no-key group when it exists.
async fn next_group(
    c: &mut Conn,
    priority: i64,
    after: Option<&Group>,
) -> Result<Option<Group>, sqlx::Error> {
    let key: Option<Option<String>> = match after {
        None => {
            sqlx::query_scalar(&super::db::dialect(&format!(
                "SELECT api_key_id FROM messages WHERE priority = ? AND {WAITING} \
                 ORDER BY api_key_id NULLS FIRST LIMIT 1"
            )))
            .bind(priority)
            .fetch_optional(&mut *c)
            .await?
        }
        Some(Group::NoKey) => {
            sqlx::query_scalar(&super::db::dialect(&format!(
                "SELECT api_key_id FROM messages WHERE priority = ? AND api_key_id IS NOT NULL \
                 AND {WAITING} ORDER BY api_key_id LIMIT 1"
            )))
            .bind(priority)
            .fetch_optional(&mut *c)
            .await?
        }
        Some(Group::Key(k)) => {
            sqlx::query_scalar(&super::db::dialect(&format!(
                "SELECT api_key_id FROM messages WHERE priority = ? AND api_key_id > ? \
                 AND {WAITING} ORDER BY api_key_id LIMIT 1"
            )))
            .bind(priority)
            .bind(k)
            .fetch_optional(&mut *c)
            .await?
        }
    };
    Ok(key.map(|k| k.map_or(Group::NoKey, Group::Key)))
}

/// `AND api_key_id …` selecting `group`.
fn push_group(q: &mut QueryBuilder<'_, Db>, group: &Group) {
    match group {
        Group::NoKey => {
            q.push(" AND api_key_id IS NULL");
        }
        Group::Key(k) => {
            q.push(" AND api_key_id = ").push_bind(k.clone());
        }
    }
}

/// Whether `group` has a message due at `now` at `priority` (one seek).
async fn is_due(c: &mut Conn, priority: i64, group: &Group, now: i64) -> Result<bool, sqlx::Error> {
    let mut q: QueryBuilder<Db> =
        QueryBuilder::new("SELECT CAST(1 AS BIGINT) FROM messages WHERE priority = ");
    q.push_bind(priority);
    push_group(&mut q, group);
    q.push(format!(" AND {WAITING} AND next_attempt_at <= "))
        .push_bind(now)
        .push(" LIMIT 1");
    Ok(q.build().fetch_optional(&mut *c).await?.is_some())
}

/// Up to `max` groups with messages due at `priority`, in round-robin order: those after
/// `last`, then from the beginning up to and including `last`.
async fn due_groups(
    c: &mut Conn,
    priority: i64,
    now: i64,
    last: Option<&Group>,
    max: usize,
) -> Result<Vec<Group>, sqlx::Error> {
    let mut due = Vec::new();
    let mut seen = HashSet::new();
    let mut after = last.cloned();
    let mut wrapped = last.is_none();
    let budget = max + EXTRA_VISITS;
    while due.len() < max && seen.len() < budget {
        match next_group(c, priority, after.as_ref()).await? {
            None if !wrapped => {
                wrapped = true;
                after = None;
            }
            None => break,
            Some(g) => {
                if !seen.insert(g.clone()) {
                    break; // came round to a group already visited
                }
                if is_due(c, priority, &g, now).await? {
                    due.push(g.clone());
                }
                after = Some(g);
            }
        }
    }
    Ok(due)
}

/// The ids (with status) of `group`'s next `take` due messages after skipping `skip`.
async fn take(
    c: &mut Conn,
    priority: i64,
    group: &Group,
    now: i64,
    take: usize,
    skip: usize,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut q: QueryBuilder<Db> =
        QueryBuilder::new("SELECT id, status FROM messages WHERE priority = ");
    q.push_bind(priority);
    push_group(&mut q, group);
    q.push(format!(" AND {WAITING} AND next_attempt_at <= "))
        .push_bind(now)
        .push(" ORDER BY next_attempt_at LIMIT ")
        .push_bind(take as i64)
        .push(" OFFSET ")
        .push_bind(skip as i64)
        .push(super::db::SKIP_LOCKED);
    q.build_query_as().fetch_all(&mut *c).await
}

/// Picks up to `limit` due message ids: by priority, and within one priority in equal shares
/// per group (leftovers of small groups go to the others). Updates `cursor`.
async fn pick(
    c: &mut Conn,
    now: i64,
    limit: usize,
    cursor: &mut Cursor,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut picked = Vec::with_capacity(limit);
    for priority in [Priority::High, Priority::Normal, Priority::Low].map(Priority::as_i64) {
        let want = limit - picked.len();
        if want == 0 {
            break;
        }
        let slot = &mut cursor.last[priority as usize];
        let groups = due_groups(c, priority, now, slot.as_ref(), want).await?;
        let mut skip = vec![0usize; groups.len()];
        let mut active: Vec<usize> = (0..groups.len()).collect();
        let mut remaining = want;
        while remaining > 0 && !active.is_empty() {
            let share = (remaining / active.len()).max(1);
            let mut full = Vec::with_capacity(active.len());
            for &g in &active {
                if remaining == 0 {
                    break;
                }
                let n = share.min(remaining);
                let rows = take(c, priority, &groups[g], now, n, skip[g]).await?;
                if !rows.is_empty() {
                    *slot = Some(groups[g].clone());
                }
                if rows.len() == n {
                    full.push(g); // may have more
                }
                remaining -= rows.len();
                skip[g] += rows.len();
                picked.extend(rows);
            }
            active = full;
        }
    }
    Ok(picked)
}

/// Claims up to `limit` due messages fairly (see the module doc): marks them `sending` (a
/// `sent` one back for a receipt retry stays `sent`) with a lease and an attempt, adds a `sending` event to those that were `queued`, and returns them
/// in the order picked with the cursor for the next claim.
pub(crate) async fn claim_due(
    c: &mut Conn,
    d: &(i64, u32, Cursor, String),
) -> Result<(Vec<Message>, Cursor), sqlx::Error> {
    let (now, limit, mut cursor) = (d.0, d.1 as usize, d.2.clone());
    let ids = pick(c, now, limit, &mut cursor).await?;
    if ids.is_empty() {
        return Ok((Vec::new(), cursor));
    }
    // `sent` messages back for a receipt retry keep their status: it never goes backwards.
    let mut b: QueryBuilder<Db> = QueryBuilder::new(
        "UPDATE messages SET status = CASE WHEN status = 'queued' THEN 'sending' ELSE status END, \
         lease_until = ",
    );
    b.push_bind(now + LEASE_MS)
        .push(", leased_by = ")
        .push_bind(d.3.as_str())
        .push(", attempts = attempts + 1, updated_at = ")
        .push_bind(now)
        .push(" WHERE id IN (");
    let mut sep = b.separated(", ");
    for (id, _) in &ids {
        sep.push_bind(id.as_str());
    }
    b.push(format!(") RETURNING {MESSAGE_COLUMNS}"));
    let rows = b.build().fetch_all(&mut *c).await?;
    let mut claimed = rows
        .iter()
        .map(|r| message_from_row(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let order: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    claimed.sort_by_cached_key(|m| order.get(m.id.to_string().as_str()).copied());
    let newly_sending: Vec<&String> = ids
        .iter()
        .filter(|(_, s)| s == "queued")
        .map(|(id, _)| id)
        .collect();
    if !newly_sending.is_empty() {
        let mut e: QueryBuilder<Db> =
            QueryBuilder::new("INSERT INTO events (event, message_id, kind, status, at) ");
        e.push_values(newly_sending, |mut r, id| {
            r.push_bind("message.status")
                .push_bind(id.as_str())
                .push_bind("sending")
                .push_bind("sending")
                .push_bind(now);
        });
        e.build().execute(c).await?;
    }
    Ok((claimed, cursor))
}
