//! The IoT logic of smsgate: devices that report by SMS, rules that raise alerts, people who
//! acknowledge them by replying, and commands whose answers are correlated.
//!
//! The engine is a plain state machine with time passed in ([`engine::Engine`]); a tokio task
//! ([`task`]) feeds it the inbound SMS the gateway stores, runs its timers, commits its changes
//! through [`store::IotStore`] in one transaction each, and queues its SMS through the same
//! intake as the REST API, so they are durable, routed and tracked like any other message.
//!
//! # Layout
//! - [`model`]: devices, contacts, groups, rules, alerts, commands, telemetry records.
//! - [`telemetry`]: SMS text into readings (`key=value`, JSON, regex with named captures).
//! - [`expr`]: rule conditions in CEL.
//! - [`template`]: alert texts in minijinja.
//! - [`reply`]: what people text (`ACK`, `ACK 42`, `STATUS pump-3`).
//! - [`engine`]: the state machine (registry, rules, alerts, escalation, commands).
//! - [`view`]: API and webhook shapes.
//! - [`store`]: the persistence trait a backend implements.
//! - [`task`]: the tokio task and [`task::IotService`], the handle the API uses.
//! - [`error`]: the error type ([`IotError`]).

pub mod engine;
pub mod error;
pub mod expr;
pub mod model;
pub mod reply;
pub mod store;
pub mod task;
pub mod telemetry;
pub mod template;
pub mod view;

pub use engine::{Batch, Engine, EngineConfig, Put, Snapshot};
pub use error::IotError;
