//! The loops of smsgate-core against a real store (smsgate-store on a temp SQLite file) and
//! the simulated network of smsgate-connectors, wired the way `smsgate::gateway` wires them,
//! without HTTP or a process: the dispatcher, event ingest (receipts and inbound SMS) and the
//! two webhook loops (fan-out and delivery). In-memory loopback tier: real tasks, real
//! SQLite, a webhook receiver on 127.0.0.1:0, real time kept short by the settings.
//!
//! - `harness`: the store, the loops, the connectors (the simulated network and a scripted
//!   one whose answers a test chooses), and the waits.
//! - `dispatch`: claim → submit → record: delivery by receipt, retries, failover, permanent
//!   refusals, the attempt limit, a stop that records what was in flight.
//! - `ingest`: receipts and inbound SMS committed before they are acknowledged.
//! - `webhooks`: outbox events posted signed, filtered by subscription, retried after a 500.
//!
//! Tests run in parallel threads of one process; each has its own store, loops and ports.

mod dispatch;
mod harness;
mod ingest;
mod outbound;
mod webhooks;
