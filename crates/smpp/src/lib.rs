//! SMPP 3.4 / 5.0 for smsgate: the southbound connector to carrier SMSCs, the northbound SMPP
//! server for client applications, and an SMSC simulator.
//!
//! PDU bodies are encoded and decoded by `rusmpp` (DESIGN: the chosen codec); everything
//! stateful is ours. One session core serves both roles and both protocol versions (STYLE §6).
//!
//! # Layout
//! - [`pdu`]: the 16-octet header (SMPP 3.4 §3.2), bodies via `rusmpp`, the stream splitter that
//!   checks `command_length` before buffering, and the error status for every kind of malformed
//!   input (`generic_nack`, `ESME_RINVCMDLEN`, `ESME_RINVCMDID`, `ESME_RINVMSGLEN`, …).
//! - [`session`]: the session core without I/O (states `Open`, `BoundTx`, `BoundRx`, `BoundTrx`,
//!   `Unbound`, `Closed`; window; timers; keep-alive; unbind handshake), driven by `handle_*`
//!   inputs and drained by `poll_*` outputs.
//! - [`client`]: the ESME tokio driver: `connect`/`bind`, the cloneable [`client::Client`]
//!   handle (`submit` with window, pacing and failure classes) and [`client::ClientEvent`]s with
//!   acknowledgeable inbound messages.
//! - [`supervisor`]: a reconnecting ESME with exponential backoff and jitter, over TCP or TLS
//!   (the [`supervisor::Dialer`] opens the TCP or TLS stream).
//! - [`tls`]: SMPP over TLS (rustls, ring): PEM loading with errors that name the file, client
//!   and server configurations, optional mutual TLS.
//! - [`server`]: the SMSC tokio driver (plain TCP or TLS listeners) and the [`server::Handler`]
//!   trait the gateway implements.
//! - [`sim`]: an SMSC simulator (receipts, fault injection, MO injection, stats).
//! - [`receipt`]: delivery receipt parsing (TLVs and SMPP 3.4 Appendix B text) and message-id
//!   normalisation.
//! - [`address`]: TON/NPI ⇄ the gateway's address form (`+` and digits, short codes, ids).
//! - [`view`]: one borrowed view of the fields `submit_sm`, `data_sm` and `deliver_sm` share.
//! - [`time`]: SMPP time strings (absolute, relative) and receipt dates.
//! - [`counters`]: metric-like counters for peer garbage and session health.
//! - [`pacer`]: `max_tps` pacing shared across sessions.
//! - [`rng`]: a seeded random generator for jitter and fault injection.
//!
//! # Tests
//! One integration test binary, `tests/smpp/`: round-trip tests per PDU type (`pdu`),
//! deterministic session tests with a simulated clock (`session`), in-memory duplex and loopback
//! tests of the drivers, the simulator and the supervisor (`drivers`), TLS on loopback (`tls`),
//! and interop tests against npm `smpp` and PyPI `smpplib` (`interop`, run with
//! `SMSGATE_INTEROP=1`).

pub mod address;
pub mod client;
pub mod counters;
mod io;
pub mod pacer;
pub mod pdu;
pub mod receipt;
pub mod rng;
pub mod server;
pub mod session;
pub mod sim;
pub mod supervisor;
pub mod time;
pub mod tls;
pub mod view;
