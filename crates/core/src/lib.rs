//! The middle of smsgate: domain types, the [`store::Store`] and [`connector::Connector`]
//! traits every backend and network link implements, and the loops that move messages between
//! them (dispatcher, event ingest, webhooks).
//!
//! This crate knows no protocol and no HTTP framework: SMPP, modems and the REST API plug in
//! from their own crates through the two traits.
//!
//! # Layout
//! - [`number`]: `Msisdn` (E.164) and `SenderId`, parsed at the edge.
//! - [`message`]: ids, statuses and their one-way lifecycle, events.
//! - [`connector`]: the southbound trait, submit outcomes, receipts and inbound events.
//! - [`store`]: the durable-state trait and its record types.
//! - [`northbound`]: what northbound servers (SMPP) store beside messages: submissions, parts
//!   of long messages, per-client feeds over the events.
//! - [`dispatcher`]: claim → route → submit → record, with retries and expiry.
//! - [`routing`]: prefix routes with failover order.
//! - [`intake`]: the one door into the queue (prepare → admit → insert → signal), shared by
//!   every channel, with the queue-depth gate.
//! - [`signals`]: wake-ups between the loops.
//! - [`ingest`]: connector events into the store, acknowledged after commit.
//! - [`compliance`]: STOP/START/HELP by reply and the opt-outs the intake refuses by.
//! - [`inbound_rules`]: keyword routing of inbound SMS (automatic replies, forwards).
//! - [`outbound`]: where a tenant's webhooks may connect (the SSRF policy).
//! - [`retention`]: texts redacted and rows deleted after their periods.
//! - [`quiet`]: quiet hours in the recipient's local time.
//! - [`webhook`]: the webhook pipeline: outbox to signed POSTs from per-endpoint queues, only
//!   failures stored and retried.
//! - [`keys`], [`clock`], [`backoff`]: API keys, injectable time, retry schedules.

pub mod backoff;
pub mod clock;
pub mod cluster;
pub mod compliance;
pub mod connector;
pub mod dispatcher;
pub mod inbound_rules;
pub mod ingest;
pub mod intake;
pub mod kannel;
pub mod keys;
pub mod message;
pub mod northbound;
pub mod number;
pub mod outbound;
pub mod quiet;
pub mod retention;
pub mod routing;
pub mod signals;
pub mod store;
pub mod twilio;
pub mod webhook;

pub use smsgate_sms as sms;
