//! GSM/LTE modems for smsgate: send and receive SMS through a modem's AT commands in PDU mode
//! (3GPP TS 27.005 for SMS, TS 27.007 for the rest, ITU-T V.250 for the framing).
//!
//! # Layout
//! - [`at`]: the AT-command engine without I/O — framing, final result codes with their
//!   meanings, the `> ` prompt, URCs anywhere, per-command timeouts with time passed in, echo on
//!   or off — and the parsers of the responses the gateway reads.
//! - [`transport`]: serial ports and pseudo-terminals (rustix termios/pty + tokio `AsyncFd`),
//!   TCP serial servers, and the [`transport::Opener`] the driver reopens through.
//! - [`driver`]: the tokio driver — start-up, send, receive, health, reset with backoff — behind
//!   the [`driver::Modem`] handle, with acknowledgeable [`driver::ModemEvent`]s.
//! - [`sim`]: the modem simulator ([`sim::SimModem`] without I/O, [`sim::Simulator`] serving
//!   it on a pty, TCP or an in-process pipe) and its text control language.
//!
//! # Tests
//! Unit tests per module; in the test binary `tests/modem/`, `engine` drives the engine with
//! plain bytes and time passed in; `sim` drives the simulator the same way and once over a real
//! pseudo-terminal; `driver` runs the driver against the simulator over in-process pipes (life of a
//! message, inbound single and long, `+CMT`/`AT+CNMA`, a URC during `AT+CMGS`, wrong PIN, hang
//! and reset, a crash between `AT+CMGR` and `AT+CMGD`). The gateway's
//! `crates/smsgate/tests/gateway/modem.rs` runs the whole gateway on a pty, including the real
//! `smsgate sim modem --pty` process. The AT engine and line parsers have a fuzz target
//! (`fuzz/fuzz_targets/modem_at.rs`).

pub mod at;
pub mod driver;
pub mod sim;
pub mod transport;
