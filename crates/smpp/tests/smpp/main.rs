//! The SMPP crate's integration tests, in one test binary (one link instead of six), one
//! module per tier as STYLE.md names them:
//! - `pdu`, `receipt`: tier 1, round trips per wire type and receipt parsing.
//! - `session`: tier 2, the session core with a simulated clock.
//! - `drivers`: tiers 3 and 4, the tokio drivers over `tokio::io::duplex` and loopback TCP.
//! - `tls`: SMPP over TLS on loopback with the test CA of `interop/tls`.
//! - `interop`: tier 5, npm `smpp` and PyPI `smpplib` (run with `SMSGATE_INTEROP=1`).
//!
//! Tests run in parallel threads of one process; every listener binds 127.0.0.1:0 and no test
//! touches process-global state.

use rusmpp::types::COctetString;

mod drivers;
mod interop;
mod pdu;
mod receipt;
mod session;
mod tls;

/// A C-octet string field from `s`, for building PDUs by hand.
fn cs<const N: usize>(s: &str) -> COctetString<1, N> {
    COctetString::from_vec([s.as_bytes(), &[0]].concat()).unwrap()
}
