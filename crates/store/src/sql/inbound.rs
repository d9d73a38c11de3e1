//! Received SMS (`inbound_messages`). Each one is stored with its `message.inbound` outbox
//! event in the same transaction, so webhooks see every message the gateway took from the
//! network; the IoT engine reads the same rows after its own cursor (`iot`). Each is assigned the
//! tenant that owns it when stored (see [`tenant_for`]), so listings and webhooks show it to
//! that tenant only.

use smsgate_core::connector::InboundSms;
use smsgate_core::message::{InboundMessage, MessageId};
use smsgate_core::store::InboundQuery;
use sqlx::{QueryBuilder, Row};

use super::db::{Conn, Db, DbRow};
use super::events::push_event;
use super::parse_id;
use smsgate_core::number::pattern_matches;

pub(super) async fn insert_inbound(
    c: &mut Conn,
    d: &(Vec<InboundSms>, i64),
) -> Result<Vec<MessageId>, sqlx::Error> {
    let now = d.1;
    let mut ids = Vec::with_capacity(d.0.len());
    let routes = inbound_routes(&mut *c).await?;
    for m in &d.0 {
        let id = MessageId::new();
        let tenant = tenant_for(&mut *c, &routes, m).await?;
        sqlx::query(sql!(
            "INSERT INTO inbound_messages (id, from_number, to_number, body, connector, \
             received_at, incomplete, tenant, udh, data_coding) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(id.to_string())
        .bind(&m.from)
        .bind(&m.to)
        .bind(&m.text)
        .bind(&m.connector)
        .bind(now)
        .bind(m.incomplete as i64)
        .bind(&tenant)
        .bind(m.binary.as_ref().map(|b| hex::encode(&b.udh)))
        .bind(m.binary.as_ref().map(|b| i64::from(b.data_coding)))
        .execute(&mut *c)
        .await?;
        let mut data = serde_json::json!({
            "id": id.to_string(), "from": m.from, "to": m.to, "text": m.text,
            "connector": m.connector, "incomplete": m.incomplete,
            "received_at": smsgate_core::clock::rfc3339(now), "tenant": tenant,
        });
        if let Some(b) = &m.binary {
            data["binary"] = serde_json::json!(b);
        }
        let data = data.to_string();
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

/// Each tenant's `inbound` numbers and prefixes (`+4930*`), as `(pattern, tenant)`.
async fn inbound_routes(c: &mut Conn) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT id, inbound FROM tenants WHERE inbound IS NOT NULL"
    ))
    .fetch_all(c)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let tenant: String = r.try_get(0)?;
        for p in super::json_list(r.try_get(1)?)? {
            out.push((p, tenant.clone()));
        }
    }
    // Longest pattern first: `+4930123` before `+4930*`.
    out.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    Ok(out)
}

/// The tenant an inbound SMS belongs to: the owner of the device or contact that sent it, the
/// tenant whose inbound numbers cover its recipient, or the tenant that last sent a message to
/// its sender; `None` when nothing claims it.
async fn tenant_for(
    c: &mut Conn,
    routes: &[(String, String)],
    m: &InboundSms,
) -> Result<Option<String>, sqlx::Error> {
    let plus = format!("+{}", m.from.trim_start_matches('+'));
    let bare = m.from.trim_start_matches('+');
    for table in ["iot_devices", "iot_contacts"] {
        let owner: Option<String> = sqlx::query_scalar(&super::db::dialect(&format!(
            "SELECT COALESCE({}, {}, 'default') FROM {table} WHERE number IN (?, ?) LIMIT 1",
            super::db::json_get("doc", "tenant"),
            super::db::json_get("doc", "owner")
        )))
        .bind(&plus)
        .bind(bare)
        .fetch_optional(&mut *c)
        .await?;
        if owner.is_some() {
            return Ok(owner);
        }
    }
    if let Some((_, tenant)) = routes.iter().find(|(p, _)| pattern_matches(p, &m.to)) {
        return Ok(Some(tenant.clone()));
    }
    let last: Option<Option<String>> = sqlx::query_scalar(sql!(
        "SELECT tenant FROM messages WHERE to_number IN (?, ?) ORDER BY id DESC LIMIT 1"
    ))
    .bind(&plus)
    .bind(bare)
    .fetch_optional(&mut *c)
    .await?;
    Ok(last.flatten())
}

pub(super) async fn list_inbound<'e>(
    ex: impl sqlx::Executor<'e, Database = Db>,
    q: &InboundQuery,
) -> Result<Vec<InboundMessage>, sqlx::Error> {
    let mut b: QueryBuilder<Db> = QueryBuilder::new(format!(
        "SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE 1=1"
    ));
    if let Some(t) = &q.tenant {
        b.push(" AND tenant = ").push_bind(t.clone());
    }
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
pub(super) const INBOUND_COLUMNS: &str = "id, from_number, to_number, body, connector, received_at, incomplete, tenant, udh, \
     data_coding";

pub(super) fn inbound_from_row(r: &DbRow) -> Result<InboundMessage, sqlx::Error> {
    Ok(InboundMessage {
        id: parse_id(r.try_get::<&str, _>(0)?)?,
        from: r.try_get(1)?,
        to: r.try_get(2)?,
        text: r.try_get(3)?,
        connector: r.try_get(4)?,
        received_at: r.try_get(5)?,
        incomplete: r.try_get::<i64, _>(6)? != 0,
        tenant: r.try_get(7)?,
        binary: super::messages::binary_of(r.try_get(8)?, r.try_get(9)?)?,
    })
}
