//! The SMS codec of smsgate: alphabets, segmentation, reassembly and 3GPP TPDUs. Pure: no I/O, no
//! async, no clock (time is passed in). Every connector uses it; so does the API, for the
//! estimate it returns with each accepted message.
//!
//! # Encodings (3GPP TS 23.038)
//! - **GSM 7-bit** ([`Encoding::Gsm7`], §6.2.1): 128 characters, plus the extension table
//!   reached by the escape septet 0x1B (§6.2.1.1: `^ { } \ [ ~ ] | €` and form feed), each
//!   extension character costing **two** septets. Septets are packed 8 per 7 octets (§6.1.2.1.1);
//!   after a UDH, fill bits align the first septet (3GPP TS 23.040 §9.2.3.24). SMPP carries them
//!   unpacked, one per octet, by default ([`Part::smpp_short_message`]).
//! - **National language shift tables** (§6.2.1.2.4, Annex A) for Turkish, Spanish and
//!   Portuguese, locking and single shift, signalled with UDH IEs 0x25/0x24; only tried when a
//!   connector enables them ([`SegmentOptions::national_languages`]).
//! - **UCS-2** ([`Encoding::Ucs2`], §6.2.3), sent as UTF-16BE so emoji travel as surrogate pairs.
//! - **8-bit binary** ([`Encoding::Binary8`], §4) and **Latin-1** ([`Encoding::Latin1`], only on
//!   SMPP: `data_coding` 0x03, SMPP 3.4 §5.2.19; see [`Encoding::smpp_data_coding`]).
//!
//! Encoding is automatic (GSM 7-bit when every character fits, else UCS-2) unless forced; under a
//! forced encoding an unencodable character is an [`EncodeError::Unencodable`] that names it,
//! never a silent `?`.
//!
//! # Limits (3GPP TS 23.040 §9.2.3.16, §9.2.3.24)
//! TP-UD holds 140 octets: **160** septets, **70** UTF-16 units or **140** octets in a single SMS;
//! **153 / 67 / 134** per part with an 8-bit-reference concatenation UDH (IEI 0x00,
//! §9.2.3.24.1), **152 / 66 / 133** with a 16-bit reference (IEI 0x08, §9.2.3.24.8). At most 255
//! parts, fewer when the connector says so ([`SegmentOptions::max_parts`]). An escape pair or a
//! surrogate pair is never split across parts. SMPP SAR TLVs (SMPP 3.4 §5.3.2.22–24) size parts
//! as the 8-bit UDH does; `message_payload` (§5.3.2.32) sends one part and lets the SMSC split.
//!
//! # Layout
//! - [`encoding`](Encoding): the [`Encoding`] enum, SMPP `data_coding` and TP-DCS ([`Dcs`]).
//! - [`gsm7`]: GSM 7-bit characters ↔ septets, packing and fill bits; `national`: the code
//!   tables ([`NationalLanguage`], [`Shift`]).
//! - [`charsets`]: UCS-2 (UTF-16BE) and Latin-1.
//! - [`udh`]: User Data Header and concatenation info ([`Udh`], [`ConcatInfo`]).
//! - `segment`: [`estimate`], [`segment`], [`segment_binary`] → [`Segmented`] / [`Part`].
//! - `userdata`: inbound TP-UD / SMPP `short_message` → [`UserData`] → text.
//! - `reassembly`: [`Reassembler`], a clock-less state machine for inbound concatenated SMS.
//! - [`tpdu`]: SMS-SUBMIT, SMS-DELIVER, SMS-STATUS-REPORT, addresses, time stamps, validity
//!   periods, and the AT+CMGS / +CMGR framing ([`tpdu::pdu_hex_for_cmgs`],
//!   [`tpdu::parse_modem_pdu`]).
//! - [`hex`]: the hex strings of modem PDU mode.
//!
//! Tests: unit tests per module; `tests/vectors.rs` (published PDUs and spec examples),
//! `tests/properties.rs` (proptest round trips and segmentation invariants), `tests/interop.rs`
//! (a PyPI implementation, run when `SMSGATE_INTEROP=1`). Fuzz targets per decoder live in
//! `fuzz/`; throughput benches in `benches/codec.rs`.

//! # Example
//! ```
//! use smsgate_sms::{estimate, segment, Encoding, SegmentOptions};
//! use smsgate_sms::tpdu::{Address, SmsSubmit};
//!
//! let e = estimate("Hello [world] €", None).unwrap();
//! assert_eq!((e.encoding, e.segments, e.remaining_in_last_segment), (Encoding::Gsm7, 1, 142));
//!
//! let text = "Zoë 😀 ".repeat(20); // UCS-2, 140 UTF-16 units → 3 parts of ≤ 67
//! let m = segment(&text, &SegmentOptions { reference: 42, ..SegmentOptions::default() }).unwrap();
//! assert_eq!((m.encoding, m.parts.len()), (Encoding::Ucs2, 3));
//!
//! let to = Address::parse("+4915112345678");
//! for sub in SmsSubmit::for_message(&to, &m, 0, None, None, true).unwrap() {
//!     let (hex, len) = sub.to_cmgs(None).unwrap(); // AT+CMGS=<len>, then <hex><Ctrl-Z>
//!     assert_eq!(hex.len() / 2, len + 1);
//! }
//! ```

pub mod charsets;
mod encoding;
mod error;
pub mod gsm7;
pub mod hex;
mod national;
mod reassembly;
mod segment;
pub mod tpdu;
pub mod udh;
mod userdata;

pub use encoding::{Alphabet, Dcs, Encoding, MessageClass, UnknownEncoding};
pub use error::{DecodeError, EncodeError};
pub use national::{NationalLanguage, Shift};
pub use reassembly::{
    Complete, DEFAULT_MAX_PENDING, DEFAULT_TIMEOUT_MS, Fragment, PendingPart, Reassembler,
};
pub use segment::{
    Concat, Estimate, MAX_PARTS, MAX_USER_DATA_OCTETS, Part, Sar, SegmentOptions, Segmented,
    encode_text, estimate, estimate_with, segment, segment_binary,
};
pub use udh::{ConcatInfo, Udh};
pub use userdata::{MAX_SEPTETS, UserData, decode_text};
