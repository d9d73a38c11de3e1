//! UCS-2 (sent as UTF-16BE, 3GPP TS 23.038 §6.2.3) and Latin-1 (ISO 8859-1, SMPP 3.4 §5.2.19
//! data_coding 0x03).
//!
//! Handsets send characters outside the Basic Multilingual Plane (emoji) as UTF-16 surrogate
//! pairs in "UCS-2" messages; we do the same and read them back.

use crate::Encoding;
use crate::error::{DecodeError, EncodeError};

/// Encodes text as UTF-16 big-endian (3GPP TS 23.038 §6.2.3); every character is encodable.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_ucs2_into(text, &mut out);
    out
}

/// Like [`encode_ucs2`], appending to `out`.
pub fn encode_ucs2_into(text: &str, out: &mut Vec<u8>) {
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// Decodes UTF-16 big-endian. A lone surrogate (a peer that split a pair across parts, decoded
/// part by part) becomes U+FFFD; so does a final odd octet.
pub fn decode_ucs2(octets: &[u8]) -> String {
    let units = octets
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    let mut s: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if octets.len() % 2 == 1 {
        s.push(char::REPLACEMENT_CHARACTER);
    }
    s
}

/// Encodes text as ISO 8859-1, or names the first character above U+00FF.
pub fn encode_latin1(text: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(text.len());
    encode_latin1_into(text, &mut out)?;
    Ok(out)
}

/// Like [`encode_latin1`], appending to `out`.
pub fn encode_latin1_into(text: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for (index, ch) in text.chars().enumerate() {
        let u = ch as u32;
        if u > 0xFF {
            return Err(EncodeError::Unencodable {
                ch,
                index,
                encoding: Encoding::Latin1,
            });
        }
        out.push(u as u8);
    }
    Ok(())
}

/// Decodes ISO 8859-1 (every octet is the code point of the same value).
pub fn decode_latin1(octets: &[u8]) -> String {
    octets.iter().map(|&b| char::from(b)).collect()
}

/// Reads a UCS-2 payload strictly: an error for an odd length, unlike [`decode_ucs2`].
pub fn decode_ucs2_strict(octets: &[u8]) -> Result<String, DecodeError> {
    if octets.len() % 2 == 1 {
        return Err(DecodeError::invalid(
            "UCS-2 payload",
            "odd number of octets",
        ));
    }
    Ok(decode_ucs2(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_travels_as_a_surrogate_pair() {
        let b = encode_ucs2("a😀");
        assert_eq!(b, vec![0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode_ucs2(&b), "a😀");
    }

    #[test]
    fn a_lone_high_surrogate_becomes_a_replacement_character() {
        assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0x00, 0x61]), "\u{FFFD}a");
        assert_eq!(decode_ucs2(&[0x00]), "\u{FFFD}");
        assert!(decode_ucs2_strict(&[0x00]).is_err());
    }

    #[test]
    fn latin1_rejects_the_euro_sign_by_name() {
        assert_eq!(encode_latin1("café").unwrap(), b"caf\xe9".to_vec());
        assert_eq!(decode_latin1(b"caf\xe9"), "café");
        let e = encode_latin1("1€").unwrap_err();
        assert!(matches!(
            e,
            EncodeError::Unencodable {
                ch: '€',
                index: 1,
                ..
            }
        ));
    }
}
