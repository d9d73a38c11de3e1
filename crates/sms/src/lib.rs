//! The SMS codec of smsgate: alphabets, segmentation, reassembly and 3GPP TPDUs. Pure: no I/O, no
//! async, no clock (time is passed in). Every connector uses it; so does the API, for the
//! estimate it returns with each accepted message.
//!
//! # Encodings (3GPP TS 23.038)
//! - **GSM 7-bit default alphabet** ([`Encoding::Gsm7`], §6.2.1): 128 characters, one septet
//!   each, plus the extension table reached by the escape septet 0x1B (§6.2.1.1:
//!   `^ { } \ [ ~ ] | €` and form feed), each extension character costing **two** septets.
//!   Septets are packed 8 per 7 octets, least significant bit first (character packing, §6.1.2;
//!   SMS packing, §6.1.2.1.1); after a UDH, 0–6 fill bits align the first septet on a septet boundary
//!   (3GPP TS 23.040 §9.2.3.24). SMPP carries septets unpacked, one per octet, by default
//!   ([`Part::smpp_short_message`]). On decoding, an escape followed by a code the extension
//!   table lacks shows the base character, escape-escape a space (§6.2.1.1).
//! - **National language shift tables** (§6.2.1.2.4 identifiers, Annex A.2 single shift,
//!   Annex A.3 locking shift) for Turkish (A.2.1/A.3.1), Spanish (A.2.2; A.3.2 is void) and
//!   Portuguese (A.2.3/A.3.3), signalled with UDH IEs 0x25 (locking) and 0x24 (single)
//!   (3GPP TS 23.040 §9.2.3.24.15–16, 3 octets each); only tried when a connector enables them
//!   ([`SegmentOptions::national_languages`]), because many handsets ignore them.
//! - **UCS-2** ([`Encoding::Ucs2`], §6.2.3), sent as UTF-16BE so characters outside the BMP
//!   (emoji) travel as surrogate pairs; a lone surrogate received decodes to U+FFFD.
//! - **8-bit data** ([`Encoding::Binary8`], §4 alphabet 01, §6.2.2) and **Latin-1**
//!   ([`Encoding::Latin1`]; only on SMPP: `data_coding` 0x03, SMPP 3.4 §5.2.19; TP-DCS has no
//!   code for it, so a TPDU refuses it with [`EncodeError::NotInTpdu`]). See
//!   [`Encoding::smpp_data_coding`] and [`Dcs`] (TP-DCS, §4; compressed text, 3GPP TS 23.042,
//!   is refused with [`DecodeError::Compressed`]).
//!
//! Encoding is automatic (GSM 7-bit when every character fits, else UCS-2) unless forced; under a
//! forced encoding an unencodable character is an [`EncodeError::Unencodable`] that names the
//! character and its position, never a silent `?`.
//!
//! # Limits (3GPP TS 23.040 §9.2.3.16, §9.2.3.24)
//! TP-UD holds 140 octets: **160** septets, **70** UTF-16 units or **140** octets in a single SMS;
//! **153 / 67 / 134** per part with an 8-bit-reference concatenation UDH (IEI 0x00, 6 octets,
//! §9.2.3.24.1), **152 / 66 / 133** with a 16-bit reference (IEI 0x08, 7 octets, §9.2.3.24.8);
//! each national language shift IE takes 3 more octets (e.g. 155 septets in a single SMS with
//! one shift table). At most 255 parts (one-octet counters, §9.2.3.24.1), fewer when the
//! connector says so ([`SegmentOptions::max_parts`]). An escape pair or a surrogate pair is
//! never split across parts; an emoji counts 2 UTF-16 units, an extension character 2 septets
//! ([`Estimate`]). SMPP SAR TLVs (SMPP 3.4 §5.3.2.22–24) size parts as the 8-bit UDH does;
//! `message_payload` (§5.3.2.32) sends one part and lets the SMSC split.
//!
//! TPDU fields ([`tpdu`]): addresses hold at most 20 semi-octets or 11 packed alphanumeric
//! septets (§9.1.2.5); the SMSC address before a modem PDU at most 11 octets (3GPP TS 24.011
//! §8.2.5.1, 3GPP TS 27.005 §3.1); time stamps are semi-octets with a quarter-hour time zone
//! (§9.2.3.11); validity periods are relative, absolute or enhanced (§9.2.3.12); TP-ST maps to
//! delivered / temporary / permanent (§9.2.3.15). Decoders return [`DecodeError`] for
//! truncated or inconsistent input and never panic (each has a fuzz target).
//!
//! Not supported, on purpose: compressed user data (3GPP TS 23.042, unused by handsets), the
//! shift tables of languages other than Turkish, Spanish and Portuguese (their text is read with
//! the default tables), and the TPDUs a gateway never handles (SMS-COMMAND, SMS-SUBMIT-REPORT,
//! SMS-DELIVER-REPORT).
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
//! Tests: unit tests per module; the test binary `tests/sms/` with `vectors` (published PDUs
//! and spec examples), `properties` (proptest round trips and segmentation invariants) and
//! `interop` (PyPI implementations, run when `SMSGATE_INTEROP=1`). Fuzz targets per decoder live in
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
    encode_text, estimate, estimate_with, segment, segment_binary, segment_binary_with,
};
pub use udh::{ConcatInfo, Udh};
pub use userdata::{MAX_SEPTETS, UserData, decode_text};
