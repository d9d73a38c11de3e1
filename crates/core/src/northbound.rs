//! What northbound protocol servers (the SMPP server) keep beside the messages: every accepted
//! submission with the id the client was told, the parts of long messages until they are
//! assembled into one message, and a per-client feed over the `events` table (status changes
//! of the client's messages, inbound SMS) read after a durable cursor.
//!
//! The trait is protocol-neutral: a submission carries the adapter's own data as an opaque
//! JSON string, so this crate stays free of SMPP. Like [`crate::store::Store`], every method
//! that changes state returns only after its commit, so the adapter may answer its client right
//! after it returns.
//!
//! # Long messages
//! A client sends the parts of a long message one by one and needs an answer to each before the
//! next (a window of one), so parts are stored one by one ([`NorthboundStore::submit_part`])
//! under a group key the adapter derives from the concatenation counters. The call that stores
//! the last missing part gets the whole group back; the adapter builds the message and
//! [`NorthboundStore::assemble`]s it, which links every part to it in the same commit. If the
//! process stops in between, [`NorthboundStore::pending_groups`] finds the group at the next
//! sweep; a group whose first part waited longer than the adapter's timeout is found there too
//! and assembled from the parts it has.

use async_trait::async_trait;

use crate::message::{InboundMessage, Message, MessageId, NewMessage, Status};
use crate::store::{Accepted, StoreResult};

/// A client application's live session on a northbound server, as operators see it
/// (`GET /v1/smpp/sessions`, `/metrics`): who is bound, how, and from where.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ClientSession {
    /// Server-unique session number.
    pub session: u64,
    /// The account (`system_id`) it bound as.
    pub system_id: String,
    /// `transmitter`, `receiver` or `transceiver`.
    pub bind: String,
    /// The peer's `ip:port`.
    pub peer: String,
    /// Whether it came through the TLS listener.
    pub tls: bool,
    /// When it bound, RFC 3339.
    pub bound_at: String,
}

/// Lists the bound sessions of a northbound server; the API shows what it returns.
pub trait ClientSessions: Send + Sync {
    /// The live sessions, oldest first.
    fn sessions(&self) -> Vec<ClientSession>;
}

/// A northbound channel's link as operators see it (`GET /v1/channels`, `/metrics`): whether
/// the bridge to an outside system (an MQTT broker, an SMTP relay) is up, why not, and what it
/// moved. Protocol-neutral, so the API shows every channel the same way.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChannelStatus {
    /// The channel's name (`mqtt`, `smtp`); also the `channel` label of its metrics.
    pub name: String,
    /// `connected` (a link to a broker or relay is up), `listening` (a server channel
    /// accepts connections), `connecting`, `down` (failed, waiting to try again) or `standby`
    /// (another node of the cluster runs it).
    pub state: String,
    /// What it is connected to (a broker URL without credentials, a listen address).
    pub peer: String,
    /// The last error, when it failed since it was last connected.
    pub last_error: Option<String>,
    /// RFC 3339 of the last state change.
    pub since: Option<String>,
    /// Counts since start, by kind (`received`, `published`, `refused`, …).
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// Reports a channel's [`ChannelStatus`]; the gateway hands one per running channel to the API.
pub trait ChannelState: Send + Sync {
    /// The status now.
    fn status(&self) -> ChannelStatus;
}

/// The concatenation position of a stored part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartOf {
    /// Identifies the long message among the account's pending ones (the adapter derives it
    /// from addresses and the concatenation reference).
    pub group: String,
    /// 1-based position.
    pub part_no: u8,
    /// Parts the message announced.
    pub total: u8,
    /// The part's payload as the adapter sees it (e.g. its octets in hex). A position that is
    /// already waiting in the group and arrives again with the same content is a
    /// retransmission and stays with its set; with different content the client has reused
    /// the reference for a new message, so the waiting set is closed (the sweep sends what it
    /// has after the timeout) and this part starts a fresh one. Two messages are never mixed.
    pub content: String,
}

/// One accepted submission as handed to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The id the client was (or will be) told; unique.
    pub id: String,
    /// The account that submitted it.
    pub account: String,
    /// Set for one part of a long message; `None` for a whole message.
    pub part: Option<PartOf>,
    /// The adapter's own record (addresses as written, receipt wishes, the part's payload).
    pub data: String,
    /// Unix ms.
    pub created_at: i64,
}

/// A submission as stored, with the message it became part of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSubmission {
    /// What was handed in.
    pub submission: Submission,
    /// The gateway message; `None` while a part waits for its siblings.
    pub message_id: Option<MessageId>,
}

/// What storing one part led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartProgress {
    /// Stored; siblings are still missing.
    Waiting,
    /// Stored, and every position `1..=total` of the group is now present: the group's
    /// unassembled parts, oldest first (a repeated position appears more than once).
    Complete(Vec<StoredSubmission>),
    /// A submission with this id exists already; nothing was written.
    Duplicate,
}

/// One item of a client's feed, in `events` order.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedItem {
    /// One of the account's messages reached a final status.
    Final {
        /// Position in the `events` table.
        seq: i64,
        /// Unix ms of the change.
        at: i64,
        /// The status reached.
        status: Status,
        /// The message as it is now.
        message: Box<Message>,
        /// The submissions that make up the message (one, or one per part).
        submissions: Vec<StoredSubmission>,
    },
    /// An inbound SMS was stored.
    Inbound {
        /// Position in the `events` table.
        seq: i64,
        /// The message.
        message: InboundMessage,
    },
}

impl FeedItem {
    /// The item's position in the `events` table.
    pub fn seq(&self) -> i64 {
        match self {
            Self::Final { seq, .. } | Self::Inbound { seq, .. } => *seq,
        }
    }
}

/// A page of a client's feed.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Feed {
    /// The items, oldest first.
    pub items: Vec<FeedItem>,
    /// How far the page looked: once every item is handled the cursor may move here, past the
    /// events of no interest in between.
    pub up_to: i64,
}

/// The durable state of northbound protocol servers; see the module documentation.
#[async_trait]
pub trait NorthboundStore: Send + Sync + 'static {
    /// Stores a whole message (as `queued`, with its `queued` event) and its submission record
    /// in one commit.
    async fn submit_whole(
        &self,
        message: NewMessage,
        submission: Submission,
    ) -> StoreResult<Accepted>;

    /// Stores one part of a long message (`submission.part` must be set). Returns the group
    /// when this part completed it.
    async fn submit_part(&self, submission: Submission) -> StoreResult<PartProgress>;

    /// Inserts `message` and links the still unassembled submissions `ids` to it, in one
    /// commit. Returns the id of the message the parts belong to: `message.id`, or the earlier
    /// message when another call assembled them first (then nothing is written).
    async fn assemble(&self, ids: Vec<String>, message: NewMessage) -> StoreResult<MessageId>;

    /// One submission by the id its client was told.
    async fn submission(&self, id: &str) -> StoreResult<Option<StoredSubmission>>;

    /// The submissions a message was made of (none for a message another channel made), oldest
    /// first: how a channel finds its own record of a message it sees in the event log.
    async fn submissions_of(&self, message: MessageId) -> StoreResult<Vec<StoredSubmission>>;

    /// Unassembled groups that are complete, or whose oldest part was stored before
    /// `older_than` (Unix ms); each group's parts oldest first.
    async fn pending_groups(&self, older_than: i64) -> StoreResult<Vec<Vec<StoredSubmission>>>;

    /// The account's feed after event `after`: final statuses of messages whose `api_key_id`
    /// is `owner`, and (when `inbound`) every stored inbound SMS; at most `limit` items.
    async fn feed(&self, owner: &str, inbound: bool, after: i64, limit: u32) -> StoreResult<Feed>;

    /// The newest event's position (0 when there is none).
    async fn last_event_seq(&self) -> StoreResult<i64>;

    /// A named cursor, `None` when never set.
    async fn cursor(&self, name: &str) -> StoreResult<Option<i64>>;

    /// Moves a named cursor (it never moves backwards).
    async fn set_cursor(&self, name: &str, value: i64) -> StoreResult<()>;
}
