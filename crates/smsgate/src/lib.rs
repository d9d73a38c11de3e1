//! The `smsgate` binary as a library, so integration tests can start a gateway in-process.
//!
//! # Layout
//! - [`config`]: the TOML file and environment overrides.
//! - [`gateway`]: wiring and orderly shutdown.
//! - [`http_server`]: the HTTP listener (header timeout, connection limit, HTTPS).
//! - [`cli`]: the command line (`serve`, `send`, `status`, `messages`, `keys`, `migrate`, `sim`,
//!   `route`); [`cli::iot`]: `devices`, `alerts`, `contacts`, `groups`, `rules`, `iot`, the IoT
//!   engine from a terminal.
//! - [`bench`](mod@bench): `smsgate bench`, the end-to-end load benchmark.
//! - [`client`]: the HTTP client the CLI's remote commands use.
//! - [`csv`]: the small CSV reader of `send --file`.
//! - [`sim_sink`]: `smsgate sim sink`, a counting HTTP receiver for benchmarks.
//! - [`sim_smsc`]: `smsgate sim smsc`, the SMSC simulator as a process with a control API.

pub mod bench;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod csv;
pub mod data_lock;
pub mod gateway;
pub mod http_server;
pub mod sim_sink;
pub mod sim_smsc;
