//! The modem crate's integration tests, in one test binary (one link instead of three):
//! - `engine`: the AT engine without I/O, plain bytes and time passed in.
//! - `sim`: the modem simulator on plain bytes, and once over a real pseudo-terminal.
//! - `driver`: the tokio driver against the simulator over in-process pipes.
//!
//! Tests run in parallel threads of one process; each opens its own pipes or pty and none
//! touches process-global state.

mod driver;
mod engine;
mod sim;
