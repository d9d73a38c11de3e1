//! The store's integration tests against real databases, in one test binary (one link
//! instead of five): one module per topic. Every test runs twice through
//! `smsgate_testkit::both_backends!`: `NAME::sqlite` on a file in a temp dir and
//! `NAME::postgres` in a schema of its own on the server `SMSGATE_TEST_POSTGRES` names
//! (skipped, and saying so, without it), so the tests share nothing but this process.
//!
//! - `files`: permissions of a new data directory and database.
//! - `inserts`: concurrent inserts merged into one commit, idempotency across them.
//! - `outbox`: the webhook outbox read with a status filter; a deleted webhook's retries.
//! - `claims`: how `claim_due` shares the queue (priority, fair shares per key).
//! - `receipts`: submits and delivery receipts, one status per message from its parts.
//! - `receipt_retry`: an `undelivered` receipt under a route's `retry_undelivered`.
//! - `northbound`: the SMPP server's submissions, long-message parts and client feeds.
//! - `iot`: the IoT engine's batches commit whole and load back after a restart.

mod claims;
mod copy;
mod files;
mod inserts;
mod iot;
mod nodes;
mod northbound;
mod outbox;
mod receipt_retry;
mod receipts;
mod retention;
