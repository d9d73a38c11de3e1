//! Error types: one for encoding (outbound text that cannot be sent as asked) and one for decoding
//! (inbound bytes that are truncated or inconsistent). Decoders return these; they never panic.

use crate::Encoding;

/// Why outbound text could not be encoded or segmented.
///
/// Surfaces from [`crate::estimate`], [`crate::segment`] and the alphabet encoders; the REST layer
/// turns it into a 4xx naming the offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A character has no code in the forced alphabet (3GPP TS 23.038 §6.2.1 for GSM 7-bit,
    /// ISO 8859-1 for Latin-1). Never replaced by `?`: the caller chooses what to do.
    #[error(
        "character {ch:?} (U+{code:04X}) at character position {index} cannot be encoded as {encoding}",
        code = *ch as u32
    )]
    Unencodable {
        /// The offending character.
        ch: char,
        /// Its position in the text, counted in characters (Unicode scalar values) from 0.
        index: usize,
        /// The encoding that could not represent it.
        encoding: Encoding,
    },
    /// The message needs more parts than the connector allows (`SegmentOptions::max_parts`), or
    /// more than 255, the limit of the concatenation counters (3GPP TS 23.040 §9.2.3.24.1).
    #[error("message needs {needed} parts but at most {max} are allowed")]
    TooManyParts {
        /// Parts the text would need.
        needed: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The options are contradictory, e.g. `max_parts` is 0.
    #[error("invalid segmentation options: {0}")]
    InvalidOptions(&'static str),
    /// The encoding cannot be carried in a 3GPP TPDU: Latin-1 exists only on SMPP
    /// (SMPP 3.4 §5.2.19 data_coding 0x03); TP-DCS has no code for it (3GPP TS 23.038 §4).
    #[error("{0} cannot be carried in a 3GPP TPDU (TP-DCS has no code for it)")]
    NotInTpdu(Encoding),
    /// A field is longer than its wire format allows, e.g. an address over 20 digits
    /// (3GPP TS 23.040 §9.1.2.5) or user data over 140 octets (§9.2.3.24).
    #[error("{field} is too long: {len} > {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The wire limit.
        max: usize,
    },
    /// An address contains a character that is not a semi-octet digit (3GPP TS 23.040 §9.1.2.3).
    #[error("invalid address character {0:?}")]
    InvalidAddress(char),
}

/// Why inbound bytes could not be decoded.
///
/// Surfaces from the TPDU decoders, the user-data decoders and [`crate::hex`]; connectors count it
/// in a metric and drop or report the PDU (it is the peer's fault, not ours).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends before a field that must be there.
    #[error("truncated: {field} needs {needed} octets, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Octets it needs.
        needed: usize,
        /// Octets left.
        available: usize,
    },
    /// A field has a value that the spec does not allow or that contradicts another field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes are left after the last field of a TPDU.
    #[error("{0} trailing octets after the TPDU")]
    TrailingBytes(usize),
    /// A message type indicator this crate does not decode (3GPP TS 23.040 §9.2.3.1).
    #[error("unsupported TP-MTI {0:#04b}")]
    UnsupportedMessageType(u8),
    /// The data coding scheme asks for compression (3GPP TS 23.042), which no handset uses.
    #[error("compressed user data (3GPP TS 23.042) is not supported")]
    Compressed,
    /// An SMPP data_coding value this crate has no alphabet for (SMPP 3.4 §5.2.19).
    #[error("unsupported SMPP data_coding {0:#04x}")]
    UnsupportedDataCoding(u8),
    /// A GSM 7-bit payload carried unpacked (one septet per octet, as SMPP does) has an octet
    /// with the top bit set (3GPP TS 23.038 §6.1.2.1).
    #[error("octet {0:#04x} is not a septet")]
    NotASeptet(u8),
    /// A hexadecimal string has an odd length or a non-hex character.
    #[error("invalid hex: {0}")]
    Hex(&'static str),
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Truncated`].
    pub(crate) fn truncated(field: &'static str, needed: usize, available: usize) -> Self {
        DecodeError::Truncated {
            field,
            needed,
            available,
        }
    }

    /// Shorthand for [`DecodeError::Invalid`].
    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        DecodeError::Invalid { field, reason }
    }
}
