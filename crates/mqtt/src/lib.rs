//! The MQTT bridge (`[mqtt]`): IoT systems that already speak MQTT send SMS by publishing to
//! `{prefix}/send`, follow them on `{prefix}/messages/{id}/status`, hear inbound SMS, alerts,
//! telemetry and command results on their topics, and command devices on
//! `{prefix}/devices/{id}/commands`, without an HTTP client. The topic tree is in
//! [`topics`].
//!
//! Every send goes through core's one door ([`smsgate_core::intake::Intake::send`]):
//! validation, opt-outs, quiet hours, the queue bound and the durable commit happen there, as
//! for the REST API. The bridge acknowledges a PUBLISH (manual acks, QoS 1) only once the
//! message is committed or refused for good, and moves its event cursor only past events the
//! broker acknowledged, so neither direction loses a message to a crash or a broker outage;
//! both may repeat one (at least once). A send that carries an `idempotency_key` is never
//! queued twice; without one, a broker redelivery after a crash between the commit and the
//! PUBACK queues it again (the network itself was ambiguous).
//!
//! In a cluster only the leading node runs the bridge (`smsgate_core::cluster::while_leader`),
//! so one client subscribes and the events are published once.
//!
//! # Layout
//! - [`config`]: `[mqtt]` and its checks.
//! - [`topics`]: the topic tree and the parse of received topics (pure).
//! - [`payload`]: send and command payloads decoded, refusals and their reports (pure).
//! - [`events`]: event log entries as topic and payload (pure).
//! - [`tracker`]: how far the events are acknowledged, for the cursor (pure).
//! - [`bridge`]: the tokio side: connection, reconnect with back-off, the loop.
//! - [`status`]: the link's state for `GET /v1/channels` and `/metrics`.
//! - `tls`: the rustls client configuration for `mqtts://`.

pub mod bridge;
pub mod config;
pub mod events;
pub mod payload;
pub mod status;
mod tls;
pub mod topics;
pub mod tracker;

pub use bridge::{Deps, run};
pub use config::MqttConfig;
pub use status::MqttStatus;
