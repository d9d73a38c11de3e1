//! Hexadecimal strings as modems use them in PDU mode (3GPP TS 27.005 §3.1: `<pdu>` is the PDU
//! as upper-case hexadecimal, two characters per octet).

use crate::error::DecodeError;

/// Octets as upper-case hex, as AT+CMGS expects them (3GPP TS 27.005 §3.1).
pub fn encode(octets: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(octets.len() * 2);
    for &b in octets {
        s.push(char::from(DIGITS[(b >> 4) as usize]));
        s.push(char::from(DIGITS[(b & 0x0F) as usize]));
    }
    s
}

/// Hex (either case, surrounding whitespace ignored) to octets; an error for an odd length or a
/// non-hex character.
pub fn decode(hex: &str) -> Result<Vec<u8>, DecodeError> {
    let hex = hex.trim().as_bytes();
    if !hex.len().is_multiple_of(2) {
        return Err(DecodeError::Hex("odd number of digits"));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(DecodeError::Hex("not a hex digit")),
    };
    hex.chunks_exact(2)
        .map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(super::encode(&[0x00, 0xAB, 0x7F]), "00AB7F");
        assert_eq!(
            super::decode(" 00ab7F\r\n").unwrap(),
            vec![0x00, 0xAB, 0x7F]
        );
        assert!(super::decode("0").is_err());
        assert!(super::decode("0G").is_err());
    }
}
