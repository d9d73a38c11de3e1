//! The nodes sharing the database, their heartbeats and the named leases of the work that must
//! run on one node at a time (migration 0012; see `smsgate_core::cluster`).

use smsgate_core::cluster::{NodeBeat, NodeInfo};
use sqlx::Row;

use super::db::{Conn, Pool};

/// Nodes silent this long are forgotten (their row only: what they held was taken over long
/// before).
const FORGET_MS: i64 = 24 * 3600 * 1000;

pub(super) async fn heartbeat(c: &mut Conn, d: &(String, NodeBeat)) -> Result<(), sqlx::Error> {
    let (node, b) = d;
    sqlx::query(sql!(
        "INSERT INTO nodes (id, started_at, heartbeat_at, http, version, takeovers) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET \
         heartbeat_at = excluded.heartbeat_at, http = excluded.http, \
         version = excluded.version, takeovers = nodes.takeovers + excluded.takeovers"
    ))
    .bind(node)
    .bind(b.started_at)
    .bind(b.now)
    .bind(&b.http)
    .bind(&b.version)
    .bind(b.takeovers as i64)
    .execute(&mut *c)
    .await?;
    sqlx::query(sql!("DELETE FROM nodes WHERE heartbeat_at < ?"))
        .bind(b.now - FORGET_MS)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// A node stopping in order: its row and its leases go, so another node leads at once.
pub(super) async fn leave(c: &mut Conn, node: &String) -> Result<(), sqlx::Error> {
    sqlx::query(sql!("DELETE FROM leases WHERE node = ?"))
        .bind(node)
        .execute(&mut *c)
        .await?;
    sqlx::query(sql!("DELETE FROM nodes WHERE id = ?"))
        .bind(node)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Takes or renews lease `name` for `node` until `now + ttl`: it is taken when free, expired
/// or already `node`'s. Returns whether `node` holds it now.
pub(super) async fn hold_lease(
    c: &mut Conn,
    d: &(String, String, i64, i64),
) -> Result<bool, sqlx::Error> {
    let (name, node, now, ttl) = d;
    let holder: Option<String> = sqlx::query_scalar(sql!(
        "INSERT INTO leases (name, node, until_at, since) VALUES (?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET node = excluded.node, until_at = excluded.until_at, \
         since = CASE WHEN leases.node = excluded.node THEN leases.since ELSE excluded.since END \
         WHERE leases.node = excluded.node OR leases.until_at < ? RETURNING node"
    ))
    .bind(name)
    .bind(node)
    .bind(now + ttl)
    .bind(now)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?;
    Ok(holder.as_deref() == Some(node.as_str()))
}

pub(super) async fn list_nodes(pool: &Pool) -> Result<Vec<NodeInfo>, sqlx::Error> {
    let rows = sqlx::query(sql!(
        "SELECT id, started_at, heartbeat_at, http, version, takeovers, \
         (SELECT COUNT(*) FROM messages m WHERE m.leased_by = nodes.id \
          AND m.lease_until IS NOT NULL) \
         FROM nodes ORDER BY started_at, id"
    ))
    .fetch_all(pool)
    .await?;
    let leases = sqlx::query(sql!("SELECT name, node FROM leases ORDER BY name"))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            let held = leases
                .iter()
                .filter(|l| l.try_get::<&str, _>(1).is_ok_and(|n| n == id))
                .map(|l| l.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(NodeInfo {
                started_at: r.try_get(1)?,
                heartbeat_at: r.try_get(2)?,
                http: r.try_get(3)?,
                version: r.try_get(4)?,
                takeovers: r.try_get::<i64, _>(5)? as u64,
                in_flight: r.try_get::<i64, _>(6)? as u64,
                leases: held,
                live: false,
                id,
            })
        })
        .collect()
}
