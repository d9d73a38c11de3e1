//! The IoT engine's tables (migration 0003): [`commit`] applies a whole engine batch inside the
//! writer's transaction; the rest are reads on the pool.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use smsgate_core::message::{InboundMessage, MessageId};
use smsgate_iot::engine::{Batch, DeviceRow, Snapshot};
use smsgate_iot::model::{
    Alert, Command, ConditionState, DeviceState, Reading, TelemetryRecord, TelemetryStatus,
};
use smsgate_iot::store::{AlertQuery, CommandQuery, TelemetryQuery};
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db, DbRow, Pool};
use super::inbound::{INBOUND_COLUMNS, inbound_from_row};
use super::parse_id;
use super::{events, messages};

const CURSOR_KEY: &str = "iot.inbound_cursor";

fn to_json<T: Serialize>(v: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(format!("bad IoT record: {e}").into()))
}

/// Upserts a registry document into `table` (`iot_contacts` and `iot_devices` also keep the
/// number column).
async fn put_doc(
    c: &mut Conn,
    table: &str,
    id: &str,
    number: Option<&str>,
    doc: String,
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = match number {
        Some(_) => format!(
            "INSERT INTO {table} (id, number, doc, created_at, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT(id) DO UPDATE SET number = excluded.number, doc = excluded.doc, \
             updated_at = excluded.updated_at"
        ),
        None => format!(
            "INSERT INTO {table} (id, doc, created_at, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at"
        ),
    };
    let sql = super::db::dialect(&sql);
    let mut q = sqlx::query(&sql).bind(id);
    if let Some(n) = number {
        q = q.bind(n);
    }
    q.bind(doc).bind(now).bind(now).execute(&mut *c).await?;
    Ok(())
}

async fn delete(c: &mut Conn, table: &str, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&super::db::dialect(&format!(
        "DELETE FROM {table} WHERE id = ?"
    )))
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Applies one engine batch (see `smsgate_iot::store`): all of it or, with the transaction,
/// none of it.
pub(crate) async fn commit(c: &mut Conn, b: &Batch) -> Result<(), sqlx::Error> {
    let now = b.now;
    for id in &b.deleted_rules {
        delete(c, "iot_rules", id).await?;
    }
    for id in &b.deleted_groups {
        delete(c, "iot_groups", id).await?;
    }
    for id in &b.deleted_devices {
        delete(c, "iot_devices", id).await?;
    }
    for id in &b.deleted_contacts {
        delete(c, "iot_contacts", id).await?;
    }
    for x in &b.contacts {
        put_doc(c, "iot_contacts", &x.id, Some(&x.number), to_json(x)?, now).await?;
    }
    for x in &b.devices {
        put_doc(c, "iot_devices", &x.id, Some(&x.number), to_json(x)?, now).await?;
    }
    for x in &b.groups {
        put_doc(c, "iot_groups", &x.id, None, to_json(x)?, now).await?;
    }
    for x in &b.rules {
        put_doc(c, "iot_rules", &x.id, None, to_json(x)?, now).await?;
    }
    for (id, st) in &b.device_states {
        sqlx::query(sql!(
            "UPDATE iot_devices SET last_seen_at = ?, readings = ?, readings_at = ? WHERE id = ?"
        ))
        .bind(st.last_seen_at)
        .bind(to_json(&st.readings)?)
        .bind(st.readings_at)
        .bind(id)
        .execute(&mut *c)
        .await?;
    }
    for t in &b.telemetry {
        sqlx::query(sql!(
            "INSERT INTO iot_telemetry (device_id, inbound_id, received_at, status, body, \
             readings, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&t.device_id)
        .bind(t.inbound_id.to_string())
        .bind(t.received_at)
        .bind(t.status.as_str())
        .bind(&t.text)
        .bind(to_json(&t.readings)?)
        .bind(&t.reason)
        .execute(&mut *c)
        .await?;
    }
    for a in &b.alerts {
        sqlx::query(sql!(
            "INSERT INTO iot_alerts (id, rule_id, device_id, state, owner, raised_at, updated_at, \
             doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET \
             state = excluded.state, updated_at = excluded.updated_at, doc = excluded.doc"
        ))
        .bind(a.id)
        .bind(&a.rule_id)
        .bind(&a.device_id)
        .bind(a.state.as_str())
        .bind(&a.owner)
        .bind(a.raised_at)
        .bind(now)
        .bind(to_json(a)?)
        .execute(&mut *c)
        .await?;
    }
    for x in &b.commands {
        sqlx::query(sql!(
            "INSERT INTO iot_commands (id, device_id, state, created_at, updated_at, doc) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at, doc = excluded.doc"
        ))
        .bind(x.id)
        .bind(&x.device_id)
        .bind(x.state.as_str())
        .bind(x.created_at)
        .bind(x.updated_at)
        .bind(to_json(x)?)
        .execute(&mut *c)
        .await?;
    }
    for (rule, device, st) in &b.conditions {
        if *st == ConditionState::default() {
            sqlx::query(sql!(
                "DELETE FROM iot_conditions WHERE rule_id = ? AND device_id = ?"
            ))
            .bind(rule)
            .bind(device)
            .execute(&mut *c)
            .await?;
        } else {
            sqlx::query(
                sql!("INSERT INTO iot_conditions (rule_id, device_id, pending_since, last_resolved_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT(rule_id, device_id) DO UPDATE SET \
                 pending_since = excluded.pending_since, last_resolved_at = excluded.last_resolved_at"),
            )
            .bind(rule)
            .bind(device)
            .bind(st.pending_since)
            .bind(st.last_resolved_at)
            .execute(&mut *c)
            .await?;
        }
    }
    if !b.messages.is_empty() {
        let msgs: Vec<&_> = b.messages.iter().collect();
        messages::insert_messages(c, &msgs).await?;
    }
    for (name, data) in &b.events {
        events::append_event(c, &(name.clone(), data.to_string(), now)).await?;
    }
    if let Some(cursor) = b.inbound_cursor {
        sqlx::query(sql!(
            "INSERT INTO kv (key, value) VALUES (?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        ))
        .bind(CURSOR_KEY)
        .bind(cursor.to_string())
        .execute(&mut *c)
        .await?;
    }
    if let Some(before) = b.prune_telemetry_before {
        sqlx::query(sql!("DELETE FROM iot_telemetry WHERE received_at < ?"))
            .bind(before)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

async fn docs<T: DeserializeOwned>(pool: &Pool, sql: &str) -> Result<Vec<T>, sqlx::Error> {
    let rows = sqlx::query(&super::db::dialect(sql))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| from_json(r.try_get::<&str, _>(0)?))
        .collect()
}

/// Everything the engine starts from.
pub(crate) async fn load(pool: &Pool) -> Result<Snapshot, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT doc, created_at, last_seen_at, readings, readings_at FROM iot_devices ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    let devices = rows
        .iter()
        .map(|r| {
            Ok(DeviceRow {
                device: from_json(r.try_get::<&str, _>(0)?)?,
                created_at: r.try_get(1)?,
                state: DeviceState {
                    last_seen_at: r.try_get(2)?,
                    readings: from_json::<BTreeMap<String, Reading>>(r.try_get::<&str, _>(3)?)?,
                    readings_at: r.try_get(4)?,
                },
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let conditions = sqlx::query(sql!(
        "SELECT rule_id, device_id, pending_since, last_resolved_at FROM iot_conditions"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get(0)?,
            r.try_get(1)?,
            ConditionState {
                pending_since: r.try_get(2)?,
                last_resolved_at: r.try_get(3)?,
            },
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let cursor: Option<String> = sqlx::query_scalar(sql!("SELECT value FROM kv WHERE key = ?"))
        .bind(CURSOR_KEY)
        .fetch_optional(pool)
        .await?;
    Ok(Snapshot {
        devices,
        contacts: docs(pool, "SELECT doc FROM iot_contacts ORDER BY id").await?,
        groups: docs(pool, "SELECT doc FROM iot_groups ORDER BY id").await?,
        rules: docs(pool, "SELECT doc FROM iot_rules ORDER BY id").await?,
        alerts: docs(
            pool,
            "SELECT doc FROM iot_alerts WHERE state <> 'resolved' ORDER BY id",
        )
        .await?,
        commands: docs(
            pool,
            "SELECT doc FROM iot_commands WHERE state IN ('pending', 'sent') ORDER BY id",
        )
        .await?,
        conditions,
        max_alert_id: sqlx::query_scalar(sql!("SELECT COALESCE(MAX(id), 0) FROM iot_alerts"))
            .fetch_one(pool)
            .await?,
        max_command_id: sqlx::query_scalar(sql!("SELECT COALESCE(MAX(id), 0) FROM iot_commands"))
            .fetch_one(pool)
            .await?,
        inbound_cursor: cursor.as_deref().map(parse_id).transpose()?,
    })
}

pub(crate) async fn inbound_after(
    pool: &Pool,
    cursor: Option<MessageId>,
    limit: u32,
) -> Result<Vec<InboundMessage>, sqlx::Error> {
    let sql =
        format!("SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE id > ? ORDER BY id LIMIT ?");
    let rows = sqlx::query(&super::db::dialect(&sql))
        .bind(cursor.map(|c| c.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(inbound_from_row).collect()
}

pub(crate) async fn latest_inbound(pool: &Pool) -> Result<Option<MessageId>, sqlx::Error> {
    let id: Option<String> = sqlx::query_scalar(sql!("SELECT MAX(id) FROM inbound_messages"))
        .fetch_one(pool)
        .await?;
    id.as_deref().map(parse_id).transpose()
}

pub(crate) async fn alerts(pool: &Pool, q: &AlertQuery) -> Result<Vec<Alert>, sqlx::Error> {
    let mut b: QueryBuilder<Db> = QueryBuilder::new("SELECT doc FROM iot_alerts WHERE 1=1");
    if let Some(s) = q.state {
        b.push(" AND state = ").push_bind(s.as_str());
    }
    if let Some(d) = &q.device_id {
        b.push(" AND device_id = ").push_bind(d.clone());
    }
    if let Some(r) = &q.rule_id {
        b.push(" AND rule_id = ").push_bind(r.clone());
    }
    if let Some(o) = &q.owner {
        b.push(" AND COALESCE(owner, 'default') = ")
            .push_bind(o.clone());
    }
    if let Some(before) = q.before {
        b.push(" AND id < ").push_bind(before);
    }
    b.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = b.build().fetch_all(pool).await?;
    rows.iter()
        .map(|r| from_json(r.try_get::<&str, _>(0)?))
        .collect()
}

pub(crate) async fn commands(pool: &Pool, q: &CommandQuery) -> Result<Vec<Command>, sqlx::Error> {
    let mut b: QueryBuilder<Db> = QueryBuilder::new("SELECT doc FROM iot_commands WHERE 1=1");
    if let Some(d) = &q.device_id {
        b.push(" AND device_id = ").push_bind(d.clone());
    }
    if let Some(before) = q.before {
        b.push(" AND id < ").push_bind(before);
    }
    b.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = b.build().fetch_all(pool).await?;
    rows.iter()
        .map(|r| from_json(r.try_get::<&str, _>(0)?))
        .collect()
}

/// One alert or command by id from `table`.
pub(crate) async fn doc_by_id<T: DeserializeOwned>(
    pool: &Pool,
    table: &str,
    id: i64,
) -> Result<Option<T>, sqlx::Error> {
    let row = sqlx::query(&super::db::dialect(&format!(
        "SELECT doc FROM {table} WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| from_json(r.try_get::<&str, _>(0)?)).transpose()
}

fn telemetry_from_row(r: &DbRow) -> Result<TelemetryRecord, sqlx::Error> {
    let status: &str = r.try_get(3)?;
    Ok(TelemetryRecord {
        device_id: r.try_get(0)?,
        inbound_id: parse_id(r.try_get::<&str, _>(1)?)?,
        received_at: r.try_get(2)?,
        status: TelemetryStatus::parse(status).ok_or_else(|| {
            sqlx::Error::Decode(format!("bad telemetry status '{status}'").into())
        })?,
        text: r.try_get(4)?,
        readings: from_json(r.try_get::<&str, _>(5)?)?,
        reason: r.try_get(6)?,
    })
}

pub(crate) async fn telemetry(
    pool: &Pool,
    q: &TelemetryQuery,
) -> Result<Vec<TelemetryRecord>, sqlx::Error> {
    let mut b: QueryBuilder<Db> = QueryBuilder::new(
        "SELECT device_id, inbound_id, received_at, status, body, readings, reason \
         FROM iot_telemetry WHERE device_id = ",
    );
    b.push_bind(q.device_id.clone());
    if let Some(before) = q.before {
        b.push(" AND received_at < ").push_bind(before);
    }
    b.push(" ORDER BY received_at DESC, seq DESC LIMIT ")
        .push_bind(i64::from(q.limit));
    let rows = b.build().fetch_all(pool).await?;
    rows.iter().map(telemetry_from_row).collect()
}
