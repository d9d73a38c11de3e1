//! The REST handlers of smsgate-api driven through `smsgate_api::router` on 127.0.0.1:0,
//! in-process and without a gateway: the router over a real store (SQLite in a temp dir), the
//! intake door and a scripted connector, no dispatcher, so every message stays where the
//! handlers left it.
//!
//! - `harness`: the router's services, keys, and the recording phone behind
//!   `/v1/sim/inbound`.
//! - `auth`: bearer keys (missing, malformed, unknown, revoked), scoping by key, admin-only
//!   routes.
//! - `messages`: submit, get, estimate, cancel, and the JSON errors of bad requests.
//! - `batch`: valid entries accepted, the rest named one by one; whole-batch refusals.
//! - `listing`: pages with a cursor, filters, inbound SMS.
//! - `queue`: the queue bound (429 with `Retry-After`), queue stats, health and readiness.
//! - `webhooks`: subscriptions and per-message callbacks with status filters.
//! - `stream`: where a new event stream starts, with the webhook cursor far behind.
//!
//! Tests run in parallel threads of one process; each has its own store and port.

mod auth;
mod batch;
mod harness;
mod listing;
mod messages;
mod optouts;
mod queue;
mod stream;
mod tenants;
mod webhooks;
