//! The durable state behind the gateway, as one trait so the loops do not know the database;
//! `smsgate-store` implements it on SQLite (the only backend today).
//!
//! Every method that changes state returns only after the change is committed, so a caller may
//! acknowledge upstream (HTTP 202, SMPP `submit_sm_resp`, `deliver_sm_resp`) right after it
//! returns. Backends batch concurrent calls into one transaction (group commit).
//!
//! The `events` table is both a message's timeline and the outbox that webhooks fan out from.

use async_trait::async_trait;
use serde::Serialize;

use crate::connector::{InboundSms, Receipt};
use crate::message::{InboundMessage, Message, MessageEvent, MessageId, NewMessage, Status};

/// A store failure; surfaced as HTTP 503 with `store_unavailable`, logged at error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation (I/O error, constraint, corrupt file).
    #[error("database error: {0}")]
    Database(String),
    /// The store's writer has stopped (shutdown in progress).
    #[error("the store is shutting down")]
    Closed,
    /// A migration could not be applied; the message names the version.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// What the store answers for each message handed to [`Store::insert_messages`].
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The id (the existing one when an idempotency key matched).
    pub id: MessageId,
    /// Status now (the existing message's status on an idempotent repeat).
    pub status: Status,
    /// Parts.
    pub segments: u32,
    /// Encoding.
    pub encoding: String,
    /// True when an earlier message with the same idempotency key was returned instead.
    pub duplicate: bool,
}

/// Filters for listing messages, newest first.
#[derive(Clone, Debug, Default)]
pub struct MessageQuery {
    /// Only this tenant's messages; `None` for an admin key.
    pub tenant: Option<String>,
    /// Only messages in this status.
    pub status: Option<Status>,
    /// Only messages to this number.
    pub to: Option<String>,
    /// Only messages created at or after this Unix ms.
    pub since: Option<i64>,
    /// Only messages older than this id (the previous page's last id).
    pub before: Option<MessageId>,
    /// Page size.
    pub limit: u32,
}

/// Filters for listing inbound messages, newest first.
#[derive(Clone, Debug, Default)]
pub struct InboundQuery {
    /// Only messages assigned to this tenant; `None` for an admin key (every message).
    pub tenant: Option<String>,
    /// Only messages received at or after this Unix ms.
    pub since: Option<i64>,
    /// Only messages older than this id.
    pub before: Option<MessageId>,
    /// Only messages from this number.
    pub from: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// The result of one submit attempt, as the dispatcher records it.
#[derive(Clone, Debug)]
pub enum Attempt {
    /// Every part accepted by the network.
    Sent {
        /// The message.
        id: MessageId,
        /// The connector that took it.
        connector: String,
        /// One network id per part.
        remote_ids: Vec<String>,
        /// Set when an `undelivered` receipt for this submit should send the message again
        /// through another connector (the route allows it and has one left).
        receipt_retry: Option<crate::routing::ReceiptRetry>,
    },
    /// Try again at `retry_at`; the message stays `sending` and the timeline says why.
    Retry {
        /// The message.
        id: MessageId,
        /// The connector that refused it, if one was tried.
        connector: Option<String>,
        /// Unix ms of the next attempt.
        retry_at: i64,
        /// Timeline kind: `retry`, `throttled` or `ambiguous`.
        kind: &'static str,
        /// Error code.
        code: String,
        /// Error text.
        message: String,
    },
    /// Give up: the message becomes `failed` (or `expired` with code `expired`).
    Failed {
        /// The message.
        id: MessageId,
        /// The connector that refused it, if one was tried.
        connector: Option<String>,
        /// Final status: `Failed` or `Expired`.
        status: Status,
        /// Error code.
        code: String,
        /// Error text.
        message: String,
    },
}

/// An API key as stored (the secret itself is never stored, only its SHA-256).
#[derive(Clone, Debug, Serialize)]
pub struct ApiKey {
    /// Stable id (`key_` + random), shown in listings and used to revoke.
    pub id: String,
    /// What the key is for.
    pub name: String,
    /// The first characters of the secret, so people can tell keys apart.
    pub prefix: String,
    /// Admin keys see every tenant's objects and manage keys, tenants and webhooks of all.
    pub admin: bool,
    /// The tenant whose objects the key sees and creates.
    pub tenant: String,
    /// What the key may do (`messages:send`, …; see [`crate::keys::SCOPES`]); an admin key
    /// may do everything.
    pub scopes: Vec<String>,
    /// Requests per second the key may make (a burst of one second's worth); `None`: no limit.
    pub rate_limit: Option<f64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms, when revoked.
    pub revoked_at: Option<i64>,
    /// SHA-256 hex of the secret. Also the signing secret of this key's per-message
    /// `callback_url` webhooks: the key holder can compute it, nobody else can.
    #[serde(skip)]
    pub secret_hash: String,
}

impl ApiKey {
    /// Whether the key carries `scope` (admin keys carry every scope).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.admin || self.scopes.iter().any(|s| s == scope)
    }
}

/// A tenant: the unit whose messages, inbound messages, webhooks and IoT objects are seen only
/// by its own keys (and admin keys).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Tenant {
    /// Stable id (`default`, `acme`, …); from the path in `PUT /v1/tenants/{id}`.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The `from` values its keys may send with; empty: any.
    #[serde(default)]
    pub sender_ids: Vec<String>,
    /// Messages it may have waiting (queued or retrying) at once; `None`: no quota.
    #[serde(default)]
    pub queue_quota: Option<u64>,
    /// Recipient numbers or prefixes (`+4930*`) whose inbound SMS belong to it.
    #[serde(default)]
    pub inbound: Vec<String>,
    /// Networks (CIDR) beyond the public internet its webhooks may reach (loopback or
    /// private ranges; never link-local).
    #[serde(default)]
    pub allow_networks: Vec<String>,
    /// Send only to numbers with a recorded opt-in (422 `no_consent` otherwise).
    #[serde(default)]
    pub require_consent: bool,
    /// `"21:00-08:00"`: `normal` and `low` messages due inside it, in the recipient's local
    /// time, wait until it ends.
    #[serde(default)]
    pub quiet_hours: Option<String>,
    /// Unix ms.
    #[serde(default)]
    pub created_at: i64,
}

/// The tenant that owns an object without one (config-seeded devices, SMPP accounts).
pub const DEFAULT_TENANT: &str = "default";

/// A recipient who must not be sent to by a tenant (texted STOP, or added through the API).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OptOut {
    /// The tenant it applies to.
    pub tenant: String,
    /// The recipient (E.164).
    pub number: String,
    /// The number or sender id the STOP was sent to; empty for the whole tenant.
    #[serde(default)]
    pub sender: String,
    /// `keyword` (an inbound STOP), `api`, `import`.
    pub source: String,
    /// Unix ms.
    #[serde(default)]
    pub created_at: i64,
}

/// What the compliance loop (or the opt-out API) records in one commit: opt-outs added and
/// removed (each with its `optout.created` / `optout.removed` event), the confirmation replies
/// to queue, and how far the loop has read the inbound messages.
#[derive(Clone, Debug, Default)]
pub struct OptOutChanges {
    /// New opt-outs (an existing one is kept as it is).
    pub added: Vec<OptOut>,
    /// Opt-outs to remove (by tenant, number and sender).
    pub removed: Vec<OptOut>,
    /// Consent records to add (`sender` unused); an existing one is kept.
    pub consents_added: Vec<OptOut>,
    /// Consent records to remove (by tenant and number).
    pub consents_removed: Vec<OptOut>,
    /// Replies (STOP confirmations, HELP texts) queued in the same commit.
    pub replies: Vec<NewMessage>,
    /// Outbox events to emit in the same commit, `(event, JSON data)` (an inbound rule's
    /// `inbound.routed`).
    pub events: Vec<(String, String)>,
    /// The compliance loop's new inbound cursor, when it moved.
    pub cursor: Option<MessageId>,
}

/// One pass of the retention loop (see [`Store::retention`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RetentionPass {
    /// Redact the texts of messages and inbound SMS created before this Unix ms.
    pub redact_before: Option<i64>,
    /// Delete messages, inbound SMS and events created before this Unix ms.
    pub delete_before: Option<i64>,
    /// Rows per table at most.
    pub limit: u32,
}

/// What a retention pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionDone {
    /// Rows whose text was redacted.
    pub redacted: u64,
    /// Rows deleted.
    pub deleted: u64,
}

/// One entry of the audit log: an admin action (keys, tenants, webhooks, rules).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Position (monotonic).
    pub id: i64,
    /// Unix ms.
    pub at: i64,
    /// The key that acted (`None` for the CLI working on the store directly).
    pub key_id: Option<String>,
    /// The acting key's tenant.
    pub tenant: Option<String>,
    /// `key.create`, `key.revoke`, `tenant.put`, `webhook.create`, `rule.put`, …
    pub action: String,
    /// The id of the object acted on.
    pub target: String,
    /// Details (never a secret).
    pub detail: Option<serde_json::Value>,
}

/// A webhook subscription.
#[derive(Clone, Debug, Serialize)]
pub struct Webhook {
    /// `wh_` + random.
    pub id: String,
    /// The key that created it (its revocation drops the subscription).
    pub api_key_id: Option<String>,
    /// The tenant whose events it gets; `None` (an admin's subscription): every tenant's.
    pub tenant: Option<String>,
    /// Where to POST.
    pub url: String,
    /// Event names or patterns (`message.status`, `alert.*`, `*`).
    pub events: Vec<String>,
    /// For `message.status` events: only these statuses (empty: every status). A subscriber
    /// that only acts on outcomes names the final ones and is spared three POSTs per message.
    pub statuses: Vec<Status>,
    /// HMAC secret for `Smsgate-Signature`.
    #[serde(skip)]
    pub secret: String,
    /// Unix ms.
    pub created_at: i64,
}

/// A page of the outbox (see [`Store::outbox_after`]).
#[derive(Clone, Debug, Default)]
pub struct OutboxPage {
    /// The events, oldest first.
    pub events: Vec<OutboxEvent>,
    /// The last position looked at: every event up to it is in `events` or was left out.
    pub scanned_to: i64,
    /// True when the page reached the newest event.
    pub at_end: bool,
}

/// One outbox row: an event that webhooks may want.
#[derive(Clone, Debug)]
pub struct OutboxEvent {
    /// Position in the outbox (monotonic).
    pub seq: i64,
    /// Webhook event name (`message.status`, `message.inbound`, `alert.raised`, …).
    pub event: String,
    /// Unix ms.
    pub at: i64,
    /// For `message.status`: the status this event moved to, and the message as it is now.
    pub message: Option<(Status, Option<String>, Message)>,
    /// For every other event: the JSON `data` stored with it.
    pub data: Option<serde_json::Value>,
}

/// A webhook POST to make (or retry).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `whd_` + id.
    pub id: String,
    /// The subscription, or `None` for a per-message callback URL.
    pub webhook_id: Option<String>,
    /// Target.
    pub url: String,
    /// Signing secret.
    pub secret: String,
    /// The exact JSON body.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Unix ms when first queued (retries stop after the retry horizon).
    pub created_at: i64,
    /// The tenant it is made for, whose reach applies ([`crate::outbound`]); `None` for an
    /// admin's subscription or an admin key's callback.
    pub tenant: Option<String>,
}

/// A delivery whose first attempt failed (or that was never attempted because its endpoint is
/// paused), to be stored and retried from the store.
#[derive(Clone, Debug)]
pub struct FailedDelivery {
    /// The delivery; `attempts` counts the attempts made so far.
    pub delivery: Delivery,
    /// Unix ms of the next attempt.
    pub retry_at: i64,
    /// Status code or transport error, or why it was not attempted.
    pub error: String,
}

/// What the webhook pipeline records in one commit (see [`Store::record_webhook_progress`]).
#[derive(Clone, Debug, Default)]
pub struct WebhookProgress {
    /// New retry rows. A row whose id exists already is left as it is (a redelivery after a
    /// crash of an event whose failure was stored before the cursor passed it).
    pub failed: Vec<FailedDelivery>,
    /// Results for stored rows claimed with [`Store::claim_deliveries`].
    pub finished: Vec<DeliveryResult>,
    /// The new webhook cursor, when it moved.
    pub cursor: Option<i64>,
}

impl WebhookProgress {
    /// Nothing to record.
    pub fn is_empty(&self) -> bool {
        self.failed.is_empty() && self.finished.is_empty() && self.cursor.is_none()
    }

    /// Adds `later` after this progress (a failed commit is retried together with the next).
    pub fn merge(&mut self, later: WebhookProgress) {
        self.failed.extend(later.failed);
        self.finished.extend(later.finished);
        if later.cursor.is_some() {
            self.cursor = later.cursor;
        }
    }
}

/// What became of one POST of a stored delivery.
#[derive(Clone, Debug)]
pub enum DeliveryResult {
    /// The endpoint answered 2xx.
    Done {
        /// The delivery.
        id: String,
    },
    /// Try again at `retry_at`.
    Retry {
        /// The delivery.
        id: String,
        /// Unix ms.
        retry_at: i64,
        /// Status code or transport error.
        error: String,
    },
    /// Not attempted (its endpoint is paused or its queue full): due again at `retry_at`, the
    /// claim not counted as an attempt.
    Deferred {
        /// The delivery.
        id: String,
        /// Unix ms.
        retry_at: i64,
    },
    /// Retry horizon passed; kept for inspection.
    GaveUp {
        /// The delivery.
        id: String,
        /// The last error.
        error: String,
    },
}

/// Counts of messages by status and of the work waiting, for `/readyz`, metrics and the
/// dashboard.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueStats {
    /// Messages per status name.
    pub by_status: Vec<(String, u64)>,
    /// Messages waiting to be sent (queued or sending, not in flight).
    pub waiting: u64,
    /// Stored webhook deliveries waiting for a retry.
    pub webhooks_pending: u64,
    /// Inbound messages stored.
    pub inbound: u64,
}

/// The durable state of the gateway.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores new messages as `queued` with a `queued` event, in one commit. A message whose
    /// `(api_key_id, idempotency_key)` exists already returns the existing one, `duplicate`.
    async fn insert_messages(&self, msgs: Vec<NewMessage>) -> StoreResult<Vec<Accepted>>;

    /// One message with its timeline, oldest event first.
    async fn message(&self, id: MessageId) -> StoreResult<Option<(Message, Vec<MessageEvent>)>>;

    /// A page of messages, newest first.
    async fn list_messages(&self, q: &MessageQuery) -> StoreResult<Vec<Message>>;

    /// Cancels a queued message; returns the message after the attempt (unchanged, with its
    /// status, when it was no longer queued) or `None` when unknown.
    async fn cancel(&self, id: MessageId, now: i64) -> StoreResult<Option<Message>>;

    /// Claims up to `limit` messages that are due (queued or awaiting retry, `next_attempt_at <=
    /// now`, not in flight), highest priority first, marks them `sending` and in flight.
    async fn claim_due(&self, now: i64, limit: u32) -> StoreResult<Vec<Message>>;

    /// Unix ms of the earliest message that will become due, so the dispatcher can sleep.
    async fn next_due_at(&self) -> StoreResult<Option<i64>>;

    /// Records submit attempts and clears their in-flight mark, in one commit. Receipts that
    /// arrived before the submit was recorded are applied now.
    async fn record_attempts(&self, attempts: Vec<Attempt>, now: i64) -> StoreResult<()>;

    /// Applies delivery reports to message parts and message statuses. Receipts for ids not
    /// yet known are kept and applied when the submit is recorded. Returns how many matched.
    async fn apply_receipts(&self, receipts: Vec<Receipt>, now: i64) -> StoreResult<u64>;

    /// Expires queued or retrying messages whose validity passed, and `sent` ones whose
    /// validity passed long ago (`sent_grace_ms`) with no final receipt. Returns the count.
    /// Also drops receipts that waited longer than `sent_grace_ms` for a submit that was never
    /// recorded (they can no longer match anything).
    async fn expire_due(&self, now: i64, sent_grace_ms: i64) -> StoreResult<u64>;

    /// After a crash: messages still marked in flight were maybe submitted. They become due
    /// again now (`retry = true`, an `ambiguous` event each) or `failed` with code `ambiguous`.
    ///
    /// `live_since: None` takes every lease but this store's own (a single node at start-up:
    /// they are a crash's); `Some(t)` only those of nodes whose last beat is older than `t`
    /// (or unknown), which is how the nodes sharing a database take over a dead one's work.
    async fn recover_in_flight(
        &self,
        now: i64,
        retry: bool,
        live_since: Option<i64>,
    ) -> StoreResult<u64>;

    /// This store handle's node id (fresh at every open), stamped on the messages it claims.
    fn node_id(&self) -> &str;

    /// Whether the store serves one node only (SQLite, whose data directory is locked):
    /// it always leads and recovers every lease at start-up.
    fn single_node(&self) -> bool;

    /// Records this node's beat (see [`crate::cluster`]).
    async fn heartbeat(&self, beat: crate::cluster::NodeBeat) -> StoreResult<()>;

    /// Removes this node and its leases (a graceful stop).
    async fn leave(&self) -> StoreResult<()>;

    /// Takes or renews lease `name` for this node until `now + ttl_ms`; whether it holds it.
    async fn hold_lease(&self, name: &str, now: i64, ttl_ms: i64) -> StoreResult<bool>;

    /// The nodes that beat recently enough to be remembered, with what they hold.
    async fn list_nodes(&self) -> StoreResult<Vec<crate::cluster::NodeInfo>>;

    /// Stores inbound SMS with a `message.inbound` outbox event each, each assigned to a tenant:
    /// the owner of the device or contact that sent it, else the tenant whose `inbound`
    /// numbers cover its recipient, else the tenant that last sent a message to its sender;
    /// else none (only admin keys see it).
    async fn insert_inbound(&self, msgs: Vec<InboundSms>, now: i64) -> StoreResult<Vec<MessageId>>;

    /// A page of inbound messages, newest first.
    async fn list_inbound(&self, q: &InboundQuery) -> StoreResult<Vec<InboundMessage>>;

    /// Stores a new API key (with the SHA-256 hex of its secret in `secret_hash`).
    async fn create_api_key(&self, key: ApiKey) -> StoreResult<()>;

    /// The unrevoked key with this secret hash.
    async fn api_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<ApiKey>>;

    /// All keys, revoked ones included.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;

    /// Revokes a key by id or prefix, and deletes the webhooks it created with their stored
    /// retries; `false` when none matched.
    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// Creates or replaces a tenant.
    async fn put_tenant(&self, tenant: Tenant) -> StoreResult<()>;

    /// All tenants, by id.
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;

    /// Messages of `tenant` waiting to be sent (queued or retrying), for its queue quota.
    async fn tenant_waiting(&self, tenant: &str) -> StoreResult<u64>;

    /// Opt-outs of a tenant, or all for `None`.
    async fn list_optouts(&self, tenant: Option<&str>) -> StoreResult<Vec<OptOut>>;

    /// Consent records of a tenant, or all for `None` (an [`OptOut`] with an empty `sender`).
    async fn list_consents(&self, tenant: Option<&str>) -> StoreResult<Vec<OptOut>>;

    /// Records opt-out changes, their events, replies and the compliance cursor in one commit;
    /// returns how many opt-outs were added and removed (repeats change nothing).
    async fn record_optouts(&self, changes: OptOutChanges, now: i64) -> StoreResult<(u64, u64)>;

    /// Where the compliance loop has read the inbound messages to (`None` before its first
    /// pass).
    async fn keyword_cursor(&self) -> StoreResult<Option<MessageId>>;

    /// Inbound messages after `cursor` (all for `None`), oldest first.
    async fn inbound_after(
        &self,
        cursor: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<InboundMessage>>;

    /// The newest inbound message's id.
    async fn latest_inbound(&self) -> StoreResult<Option<MessageId>>;

    /// Redacts and deletes what is older than the retention periods, at most `limit` rows per
    /// table; messages still waiting to be sent are never touched.
    async fn retention(&self, pass: RetentionPass) -> StoreResult<RetentionDone>;

    /// Erases the texts of every message to and inbound SMS from `number` (of `tenant`, or
    /// of all for `None`); returns how many were erased.
    async fn erase_number(&self, tenant: Option<&str>, number: &str) -> StoreResult<u64>;

    /// Appends to the audit log.
    async fn append_audit(&self, entry: AuditEntry) -> StoreResult<()>;

    /// The newest audit entries before `before` (all when `None`), newest first.
    async fn list_audit(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>>;

    /// Creates a webhook subscription.
    async fn create_webhook(&self, hook: Webhook) -> StoreResult<()>;

    /// Subscriptions of a tenant, or all for `None`.
    async fn list_webhooks(&self, tenant: Option<&str>) -> StoreResult<Vec<Webhook>>;

    /// Deletes a subscription (scoped to a tenant unless `None`) with its stored retries;
    /// `false` when none matched.
    async fn delete_webhook(&self, id: &str, tenant: Option<&str>) -> StoreResult<bool>;

    /// Stores an inbound rule made through the API.
    async fn create_inbound_rule(
        &self,
        rule: crate::inbound_rules::StoredInboundRule,
    ) -> StoreResult<()>;

    /// The stored inbound rules owned by `owner` (a tenant), or all for `None`, in the order
    /// they are tried (oldest first).
    async fn list_inbound_rules(
        &self,
        owner: Option<&str>,
    ) -> StoreResult<Vec<crate::inbound_rules::StoredInboundRule>>;

    /// Deletes a stored inbound rule (only one `owner` made unless `None`); `false` when none
    /// matched.
    async fn delete_inbound_rule(&self, id: &str, owner: Option<&str>) -> StoreResult<bool>;

    /// Deletes one message that no longer waits, with its timeline, parts and submission
    /// records (Twilio's `DELETE Messages/{Sid}`). `None`: no such message; `Some(false)`: it
    /// still waits or is in flight, nothing was deleted.
    async fn delete_message(&self, id: MessageId) -> StoreResult<Option<bool>>;

    /// Blanks one message's text where it is kept (the row and its submission records), as
    /// retention does (Twilio's redaction by `Body=""`); `false` when there is no such message.
    async fn redact_message(&self, id: MessageId) -> StoreResult<bool>;

    /// Appends an event that is not about a message status (alerts, commands, telemetry).
    async fn append_event(&self, event: &str, data: serde_json::Value, now: i64)
    -> StoreResult<()>;

    /// The webhook cursor: every outbox event up to it has been delivered or has its failed
    /// deliveries stored for retry. 0 before the first event.
    async fn webhook_cursor(&self) -> StoreResult<i64>;

    /// Outbox events after `after`, oldest first, looking at most `limit` positions ahead.
    /// `message.status` events whose status is not in `statuses` (when given) are left out
    /// unless their message has a `callback_url`: nobody would be sent them, so they are not
    /// read. `scanned_to` says how far the page looked, returned events or not.
    async fn outbox_after(
        &self,
        after: i64,
        limit: u32,
        statuses: Option<&[Status]>,
    ) -> StoreResult<OutboxPage>;

    /// Stores what the webhook pipeline must not forget, in one commit: first attempts that
    /// failed (as retry rows), the results of retried rows, and the new cursor.
    async fn record_webhook_progress(&self, progress: WebhookProgress, now: i64)
    -> StoreResult<()>;

    /// Claims due stored (retried) webhook deliveries for `lease_ms` (so a crash retries
    /// them, once).
    async fn claim_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> StoreResult<Vec<Delivery>>;

    /// Counts for readiness, metrics and the dashboard.
    async fn stats(&self) -> StoreResult<QueueStats>;
}
