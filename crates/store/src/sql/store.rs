//! The store traits over one backend's writer and read pool: each call is a write through
//! the group-commit writer or a read on the pool. Compiled once per backend (see `db`).

use async_trait::async_trait;
use smsgate_core::cluster::{NodeBeat, NodeInfo};
use smsgate_core::connector::{InboundSms, Receipt};
use smsgate_core::message::{InboundMessage, Message, MessageEvent, MessageId, NewMessage, Status};
use smsgate_core::northbound::{Feed, NorthboundStore, PartProgress, StoredSubmission, Submission};
use smsgate_core::store::{
    Accepted, ApiKey, Attempt, AuditEntry, Delivery, InboundQuery, MessageQuery, OptOut,
    OptOutChanges, OutboxPage, QueueStats, RetentionDone, RetentionPass, Store, StoreResult,
    Tenant, Webhook, WebhookProgress,
};
use smsgate_iot::engine::{Batch, Snapshot};
use smsgate_iot::model::{Alert, Command, TelemetryRecord};
use smsgate_iot::store::{AlertQuery, CommandQuery, IotStore, TelemetryQuery};

use super::db::Pool;
use super::writer::Writer;
use super::{
    claim, events, inbound, inbound_rules, iot, keys, messages, nodes, northbound, optouts,
    receipts, retention, webhooks,
};
use crate::db_err;
use crate::rows::lock;

/// One backend's store: the writer that owns the write connection and the pool reads use.
pub struct DbStore {
    pub(super) writer: Writer,
    pub(super) pool: Pool,
    /// The fair-claim round robin: which API key was served last, per priority.
    pub(super) claim_cursor: std::sync::Mutex<claim::Cursor>,
    /// This handle's node id, on the messages it claims (see `smsgate_core::cluster`).
    pub(super) node: String,
}

impl DbStore {
    /// The read pool (`store copy` pages through every table with it).
    #[allow(dead_code)] // used for the backends `store copy` reads or writes
    pub(crate) fn read_pool(&self) -> Pool {
        self.pool.clone()
    }
}

/// A fresh node id: the host name and a random suffix (a restarted node is a new node; the
/// others take over what the old one held).
pub(super) fn new_node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".into());
    let id = MessageId::new().to_string();
    let tail = &id[id.len().saturating_sub(6)..];
    format!("{host}-{}", tail.to_ascii_lowercase())
}

#[async_trait]
impl Store for DbStore {
    async fn insert_messages(&self, msgs: Vec<NewMessage>) -> StoreResult<Vec<Accepted>> {
        self.writer.insert(msgs).await
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<(Message, Vec<MessageEvent>)>> {
        let Some(m) = messages::message_by_id(&self.pool, id)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let events = events::events_of(&self.pool, id).await.map_err(db_err)?;
        Ok(Some((m, events)))
    }

    async fn list_messages(&self, q: &MessageQuery) -> StoreResult<Vec<Message>> {
        messages::list_messages(&self.pool, q).await.map_err(db_err)
    }

    async fn cancel(&self, id: MessageId, now: i64) -> StoreResult<Option<Message>> {
        self.writer
            .write((id, now), |c, d| Box::pin(messages::cancel(c, d)))
            .await
    }

    async fn claim_due(&self, now: i64, limit: u32) -> StoreResult<Vec<Message>> {
        // One dispatcher claims at a time; a cursor lost to a concurrent claim only shifts
        // where the next round starts.
        let cursor = lock(&self.claim_cursor).clone();
        let (claimed, cursor) = self
            .writer
            .write((now, limit, cursor, self.node.clone()), |c, d| {
                Box::pin(claim::claim_due(c, d))
            })
            .await?;
        *lock(&self.claim_cursor) = cursor;
        Ok(claimed)
    }

    async fn next_due_at(&self) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(sql!(
            "SELECT MIN(next_attempt_at) FROM messages \
             WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL"
        ))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn record_attempts(&self, attempts: Vec<Attempt>, now: i64) -> StoreResult<()> {
        self.writer
            .write((attempts, now), |c, d| {
                Box::pin(messages::record_attempts(c, d))
            })
            .await
    }

    async fn apply_receipts(&self, receipts: Vec<Receipt>, now: i64) -> StoreResult<u64> {
        self.writer
            .write((receipts, now), |c, d| {
                Box::pin(receipts::apply_receipts(c, d))
            })
            .await
    }

    async fn expire_due(&self, now: i64, sent_grace_ms: i64) -> StoreResult<u64> {
        self.writer
            .write((now, sent_grace_ms), |c, d| {
                Box::pin(messages::expire_due(c, d))
            })
            .await
    }

    async fn recover_in_flight(
        &self,
        now: i64,
        retry: bool,
        live_since: Option<i64>,
    ) -> StoreResult<u64> {
        let d = (now, retry, live_since, self.node.clone());
        self.writer
            .write(d, |c, d| Box::pin(messages::recover_in_flight(c, d)))
            .await
    }

    fn node_id(&self) -> &str {
        &self.node
    }

    fn single_node(&self) -> bool {
        super::db::SINGLE_NODE
    }

    async fn heartbeat(&self, beat: NodeBeat) -> StoreResult<()> {
        self.writer
            .write((self.node.clone(), beat), |c, d| {
                Box::pin(nodes::heartbeat(c, d))
            })
            .await
    }

    async fn leave(&self) -> StoreResult<()> {
        self.writer
            .write(self.node.clone(), |c, d| Box::pin(nodes::leave(c, d)))
            .await
    }

    async fn hold_lease(&self, name: &str, now: i64, ttl_ms: i64) -> StoreResult<bool> {
        let d = (name.to_owned(), self.node.clone(), now, ttl_ms);
        self.writer
            .write(d, |c, d| Box::pin(nodes::hold_lease(c, d)))
            .await
    }

    async fn list_nodes(&self) -> StoreResult<Vec<NodeInfo>> {
        nodes::list_nodes(&self.pool).await.map_err(db_err)
    }

    async fn insert_inbound(&self, msgs: Vec<InboundSms>, now: i64) -> StoreResult<Vec<MessageId>> {
        self.writer
            .write((msgs, now), |c, d| Box::pin(inbound::insert_inbound(c, d)))
            .await
    }

    async fn list_inbound(&self, q: &InboundQuery) -> StoreResult<Vec<InboundMessage>> {
        inbound::list_inbound(&self.pool, q).await.map_err(db_err)
    }

    async fn create_api_key(&self, key: ApiKey) -> StoreResult<()> {
        self.writer
            .write(key, |c, d| Box::pin(keys::create_api_key(c, d)))
            .await
    }

    async fn api_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
        keys::key_by_hash(&self.pool, secret_hash)
            .await
            .map_err(db_err)
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        keys::list_api_keys(&self.pool).await.map_err(db_err)
    }

    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.writer
            .write((id.to_owned(), now), |c, d| {
                Box::pin(keys::revoke_api_key(c, d))
            })
            .await
    }

    async fn put_tenant(&self, tenant: Tenant) -> StoreResult<()> {
        self.writer
            .write(tenant, |c, d| Box::pin(keys::put_tenant(c, d)))
            .await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        keys::list_tenants(&self.pool).await.map_err(db_err)
    }

    async fn tenant_waiting(&self, tenant: &str) -> StoreResult<u64> {
        sqlx::query_scalar::<_, i64>(sql!(
            "SELECT COUNT(*) FROM messages WHERE tenant = ? AND next_attempt_at IS NOT NULL"
        ))
        .bind(tenant)
        .fetch_one(&self.pool)
        .await
        .map(|n| n as u64)
        .map_err(db_err)
    }

    async fn list_optouts(&self, tenant: Option<&str>) -> StoreResult<Vec<OptOut>> {
        optouts::list_optouts(&self.pool, tenant)
            .await
            .map_err(db_err)
    }

    async fn record_optouts(&self, changes: OptOutChanges, now: i64) -> StoreResult<(u64, u64)> {
        self.writer
            .write((changes, now), |c, d| {
                Box::pin(optouts::record_optouts(c, d))
            })
            .await
    }

    async fn list_consents(&self, tenant: Option<&str>) -> StoreResult<Vec<OptOut>> {
        optouts::list_consents(&self.pool, tenant)
            .await
            .map_err(db_err)
    }

    async fn keyword_cursor(&self) -> StoreResult<Option<MessageId>> {
        optouts::keyword_cursor(&self.pool).await.map_err(db_err)
    }

    async fn inbound_after(
        &self,
        cursor: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<InboundMessage>> {
        iot::inbound_after(&self.pool, cursor, limit)
            .await
            .map_err(db_err)
    }

    async fn latest_inbound(&self) -> StoreResult<Option<MessageId>> {
        iot::latest_inbound(&self.pool).await.map_err(db_err)
    }

    async fn retention(&self, pass: RetentionPass) -> StoreResult<RetentionDone> {
        self.writer
            .write(pass, |c, d| Box::pin(retention::retention(c, d)))
            .await
    }

    async fn delete_message(&self, id: MessageId) -> StoreResult<Option<bool>> {
        self.writer
            .write(id, |c, d| Box::pin(retention::delete_message(c, d)))
            .await
    }

    async fn redact_message(&self, id: MessageId) -> StoreResult<bool> {
        self.writer
            .write(id, |c, d| Box::pin(retention::redact_one(c, d)))
            .await
    }

    async fn erase_number(&self, tenant: Option<&str>, number: &str) -> StoreResult<u64> {
        let d = (tenant.map(str::to_owned), number.to_owned());
        self.writer
            .write(d, |c, d| Box::pin(retention::erase_number(c, d)))
            .await
    }

    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.writer
            .write(entry, |c, d| Box::pin(keys::append_audit(c, d)))
            .await
    }

    async fn list_audit(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        keys::list_audit(&self.pool, before, limit)
            .await
            .map_err(db_err)
    }

    async fn create_webhook(&self, hook: Webhook) -> StoreResult<()> {
        self.writer
            .write(hook, |c, d| Box::pin(webhooks::create_webhook(c, d)))
            .await
    }

    async fn list_webhooks(&self, tenant: Option<&str>) -> StoreResult<Vec<Webhook>> {
        webhooks::list_webhooks(&self.pool, tenant)
            .await
            .map_err(db_err)
    }

    async fn delete_webhook(&self, id: &str, tenant: Option<&str>) -> StoreResult<bool> {
        let d = (id.to_owned(), tenant.map(str::to_owned));
        self.writer
            .write(d, |c, d| Box::pin(webhooks::delete_webhook(c, d)))
            .await
    }

    async fn create_inbound_rule(
        &self,
        rule: smsgate_core::inbound_rules::StoredInboundRule,
    ) -> StoreResult<()> {
        self.writer
            .write(rule, |c, d| Box::pin(inbound_rules::create(c, d)))
            .await
    }

    async fn list_inbound_rules(
        &self,
        owner: Option<&str>,
    ) -> StoreResult<Vec<smsgate_core::inbound_rules::StoredInboundRule>> {
        inbound_rules::list(&self.pool, owner).await.map_err(db_err)
    }

    async fn delete_inbound_rule(&self, id: &str, owner: Option<&str>) -> StoreResult<bool> {
        let d = (id.to_owned(), owner.map(str::to_owned));
        self.writer
            .write(d, |c, d| Box::pin(inbound_rules::delete(c, d)))
            .await
    }

    async fn append_event(
        &self,
        event: &str,
        data: serde_json::Value,
        now: i64,
    ) -> StoreResult<()> {
        let d = (event.to_owned(), data.to_string(), now);
        self.writer
            .write(d, |c, d| Box::pin(events::append_event(c, d)))
            .await
    }

    async fn webhook_cursor(&self) -> StoreResult<i64> {
        webhooks::webhook_cursor(&self.pool).await.map_err(db_err)
    }

    async fn outbox_after(
        &self,
        after: i64,
        limit: u32,
        statuses: Option<&[Status]>,
    ) -> StoreResult<OutboxPage> {
        webhooks::outbox_after(&self.pool, after, limit, statuses)
            .await
            .map_err(db_err)
    }

    async fn record_webhook_progress(
        &self,
        progress: WebhookProgress,
        now: i64,
    ) -> StoreResult<()> {
        self.writer
            .write((progress, now), |c, d| {
                Box::pin(webhooks::record_progress(c, d))
            })
            .await
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<Vec<Delivery>> {
        self.writer
            .write((now, limit, lease_ms), |c, d| {
                Box::pin(webhooks::claim_deliveries(c, d))
            })
            .await
    }

    async fn stats(&self) -> StoreResult<QueueStats> {
        messages::stats(&self.pool).await.map_err(db_err)
    }
}

#[async_trait]
impl IotStore for DbStore {
    async fn load_iot(&self) -> StoreResult<Snapshot> {
        iot::load(&self.pool).await.map_err(db_err)
    }

    async fn commit_iot(&self, batch: Batch) -> StoreResult<()> {
        self.writer
            .write(batch, |c, d| Box::pin(iot::commit(c, d)))
            .await
    }

    async fn alerts(&self, q: &AlertQuery) -> StoreResult<Vec<Alert>> {
        iot::alerts(&self.pool, q).await.map_err(db_err)
    }

    async fn alert(&self, id: i64) -> StoreResult<Option<Alert>> {
        iot::doc_by_id(&self.pool, "iot_alerts", id)
            .await
            .map_err(db_err)
    }

    async fn commands(&self, q: &CommandQuery) -> StoreResult<Vec<Command>> {
        iot::commands(&self.pool, q).await.map_err(db_err)
    }

    async fn command(&self, id: i64) -> StoreResult<Option<Command>> {
        iot::doc_by_id(&self.pool, "iot_commands", id)
            .await
            .map_err(db_err)
    }

    async fn telemetry(&self, q: &TelemetryQuery) -> StoreResult<Vec<TelemetryRecord>> {
        iot::telemetry(&self.pool, q).await.map_err(db_err)
    }
}

#[async_trait]
impl NorthboundStore for DbStore {
    async fn submit_whole(
        &self,
        message: NewMessage,
        submission: Submission,
    ) -> StoreResult<Accepted> {
        self.writer
            .write((message, submission), |c, d| {
                Box::pin(northbound::submit_whole(c, d))
            })
            .await
    }

    async fn submit_part(&self, submission: Submission) -> StoreResult<PartProgress> {
        self.writer
            .write(submission, |c, d| Box::pin(northbound::submit_part(c, d)))
            .await
    }

    async fn assemble(&self, ids: Vec<String>, message: NewMessage) -> StoreResult<MessageId> {
        self.writer
            .write((ids, message), |c, d| Box::pin(northbound::assemble(c, d)))
            .await
    }

    async fn submission(&self, id: &str) -> StoreResult<Option<StoredSubmission>> {
        northbound::submission(&self.pool, id).await.map_err(db_err)
    }

    async fn submissions_of(&self, message: MessageId) -> StoreResult<Vec<StoredSubmission>> {
        northbound::submissions_of(&self.pool, message)
            .await
            .map_err(db_err)
    }

    async fn pending_groups(&self, older_than: i64) -> StoreResult<Vec<Vec<StoredSubmission>>> {
        northbound::pending_groups(&self.pool, older_than)
            .await
            .map_err(db_err)
    }

    async fn feed(&self, owner: &str, inbound: bool, after: i64, limit: u32) -> StoreResult<Feed> {
        northbound::feed(&self.pool, owner, inbound, after, limit)
            .await
            .map_err(db_err)
    }

    async fn last_event_seq(&self) -> StoreResult<i64> {
        sqlx::query_scalar(sql!("SELECT COALESCE(MAX(seq), 0) FROM events"))
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn cursor(&self, name: &str) -> StoreResult<Option<i64>> {
        northbound::cursor(&self.pool, name).await.map_err(db_err)
    }

    async fn set_cursor(&self, name: &str, value: i64) -> StoreResult<()> {
        self.writer
            .write((name.to_owned(), value), |c, d| {
                Box::pin(northbound::set_cursor(c, d))
            })
            .await
    }
}
