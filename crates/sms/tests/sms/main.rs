//! The sms crate's integration tests, in one test binary (one link instead of three):
//! - `vectors`: published PDUs and spec examples, byte for byte.
//! - `properties`: proptest round trips and segmentation invariants (its regressions live in
//!   `properties.proptest-regressions` beside it).
//! - `interop`: our TPDUs against PyPI `smspdudecoder` and `python-gsmmodem-new` (run with
//!   `SMSGATE_INTEROP=1`).

mod interop;
mod properties;
mod vectors;
