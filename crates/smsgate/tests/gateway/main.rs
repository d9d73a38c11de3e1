//! The `smsgate` crate's integration tests, in one test binary so the workspace links one
//! executable here instead of fifteen: one module per topic. Most start a whole gateway
//! in-process on port 0 (`smsgate_testkit::TestGateway`); `restart` and `crash` run the real
//! binary as child processes and kill those, never this process, so they share it too.
//!
//! Tests run in parallel threads of this one process: none may set environment variables,
//! change the current directory, install a global tracing subscriber or bind a fixed port.
//! Every listener binds 127.0.0.1:0 and every store lives in its own temp dir.
//!
//! Interop tests (third-party peers from `interop/`) run with `SMSGATE_INTEROP=1`.

mod api;
mod bench_cli;
mod cluster;
mod compliance;
mod crash;
mod dashboard;
mod fairness;
mod iot_scenario;
mod kannel;
mod metrics;
mod modem;
mod mqtt;
mod operator_cli;
mod receipt_retry;
mod restart;
mod routing;
mod security;
mod sim_smsc;
mod smpp_connector;
mod smpp_interop;
mod smpp_server;
mod smtp;
mod stream;
mod twilio;
mod upstream;

/// The binary under test, for the tests that run it as a process (the path is known only
/// while compiling this crate's tests, so the testkit takes it as a parameter).
const SMSGATE: &str = env!("CARGO_BIN_EXE_smsgate");
