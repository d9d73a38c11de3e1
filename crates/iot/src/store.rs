//! What the IoT engine needs from durable storage, as one trait a backend implements beside
//! `smsgate_core::store::Store` (SQLite in `smsgate-store`, the only backend today; another one
//! would implement the same methods over the same tables).
//!
//! The contract that keeps alerts and timers across restarts: [`IotStore::commit_iot`] applies
//! a whole [`Batch`] — registry changes, device states, telemetry, alerts, commands, condition
//! clocks, the SMS to queue (exactly as `Store::insert_messages` stores them), webhook outbox
//! events and the inbound cursor — in one transaction. An inbound SMS is therefore either fully
//! taken (its effects and the cursor past it) or not at all, and is taken again after a crash.

use async_trait::async_trait;
use smsgate_core::store::StoreResult;

use crate::engine::{Batch, Snapshot};
use crate::model::{Alert, AlertState, Command, TelemetryRecord};

/// Filters for listing alerts, newest first.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    /// Only alerts in this state.
    pub state: Option<AlertState>,
    /// Only this device's.
    pub device_id: Option<String>,
    /// Only this rule's.
    pub rule_id: Option<String>,
    /// Only alerts of this tenant (`None`: all).
    pub owner: Option<String>,
    /// Only alerts with a smaller id (the previous page's last).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Filters for listing commands, newest first.
#[derive(Clone, Debug, Default)]
pub struct CommandQuery {
    /// Only this device's.
    pub device_id: Option<String>,
    /// Only commands with a smaller id.
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Filters for a device's telemetry history, newest first.
#[derive(Clone, Debug, Default)]
pub struct TelemetryQuery {
    /// The device.
    pub device_id: String,
    /// Only entries received before this Unix ms (the previous page's last).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Durable state of the IoT engine.
#[async_trait]
pub trait IotStore: Send + Sync + 'static {
    /// Everything the engine starts from: registry, device states, unresolved alerts,
    /// outstanding commands, condition clocks, id counters and the inbound cursor.
    async fn load_iot(&self) -> StoreResult<Snapshot>;

    /// Applies a batch in one transaction (see the module doc).
    async fn commit_iot(&self, batch: Batch) -> StoreResult<()>;

    /// Alerts, newest first.
    async fn alerts(&self, q: &AlertQuery) -> StoreResult<Vec<Alert>>;

    /// One alert.
    async fn alert(&self, id: i64) -> StoreResult<Option<Alert>>;

    /// Commands, newest first.
    async fn commands(&self, q: &CommandQuery) -> StoreResult<Vec<Command>>;

    /// One command.
    async fn command(&self, id: i64) -> StoreResult<Option<Command>>;

    /// A device's telemetry history, newest first.
    async fn telemetry(&self, q: &TelemetryQuery) -> StoreResult<Vec<TelemetryRecord>>;
}
