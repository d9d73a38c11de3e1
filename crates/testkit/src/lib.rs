//! Test helpers shared by smsgate's crates, so every crate's tests start peers, processes,
//! stores and gateways the same way instead of keeping copies.
//!
//! A dev-dependency only (`publish = false`). The helpers that need a heavier crate sit behind
//! a feature, so a crate below the binary can use the kit without depending on what it is
//! itself a part of: `smsgate-store` takes `store`, `smsgate-core` takes `store` and
//! `receiver`, `smsgate-api` takes `store` and `http`, and only the `smsgate` binary crate's
//! tests take `gateway`.
//!
//! # Layout
//! - [`interop`]: the `SMSGATE_INTEROP=1` switch, the repository's `interop/` folder, the
//!   checks that a third-party peer is installed, and [`interop::Peer`], a peer process read
//!   line by line.
//! - [`process`]: a binary under test as child processes (`smsgate serve`, `smsgate sim
//!   smsc`), started from a path the caller passes (`env!("CARGO_BIN_EXE_smsgate")` exists
//!   only inside the binary crate's tests), killed on drop.
//! - `connector` (feature `core`): a connector whose answers the test writes down.
//! - `store` (feature `store`): a store on a fresh SQLite file, and a plain queued message.
//! - `receiver` (feature `receiver`): a webhook receiver on 127.0.0.1:0 that records every
//!   POST and answers the status the test sets.
//! - `http` (feature `http`): a client for the REST API under test: requests with a key,
//!   JSON both ways, polling until a message reaches a status.
//! - `sse` (feature `http`): a reader of `GET /v1/events/stream` (server-sent events).
//! - `backend`: which database the fixtures use (SQLite, or PostgreSQL per test under
//!   `both_backends!`).
//! - `gateway` (feature `gateway`): a whole gateway in-process on port 0 with its admin key
//!   and an HTTP client.

pub mod backend;
pub mod interop;
pub mod process;

#[cfg(feature = "core")]
pub mod connector;

#[cfg(feature = "store")]
pub mod store;

#[cfg(feature = "receiver")]
mod receiver;
#[cfg(feature = "receiver")]
pub use receiver::{Hit, Receiver};

#[cfg(feature = "http")]
pub mod http;

#[cfg(feature = "http")]
pub mod sse;

#[cfg(feature = "gateway")]
mod gateway;
#[cfg(feature = "gateway")]
pub use gateway::{TestGateway, config};
