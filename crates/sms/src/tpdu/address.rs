//! Address fields (3GPP TS 23.040 §9.1.2.5) and the SMSC address that precedes a TPDU in AT
//! PDU mode (3GPP TS 27.005 §3.1 `<pdu>`, coded as an RP address, 3GPP TS 24.011 §8.2.5.1).

use std::fmt;

use super::Reader;
use crate::error::{DecodeError, EncodeError};
use crate::gsm7;
use crate::national::Shift;

/// Type of number (3GPP TS 23.040 §9.1.2.5, bits 6..4 of Type-of-Address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TypeOfNumber {
    /// 000: unknown (the network decides; numbers as dialled).
    Unknown,
    /// 001: international, E.164 with country code (shown with a leading `+`).
    International,
    /// 010: national, without the national prefix.
    National,
    /// 011: network specific.
    NetworkSpecific,
    /// 100: subscriber number.
    Subscriber,
    /// 101: alphanumeric, GSM 7-bit packed (3GPP TS 23.038).
    Alphanumeric,
    /// 110: abbreviated number.
    Abbreviated,
    /// 111: reserved.
    Reserved,
}

impl TypeOfNumber {
    fn from_bits(b: u8) -> Self {
        match b & 0x07 {
            0 => TypeOfNumber::Unknown,
            1 => TypeOfNumber::International,
            2 => TypeOfNumber::National,
            3 => TypeOfNumber::NetworkSpecific,
            4 => TypeOfNumber::Subscriber,
            5 => TypeOfNumber::Alphanumeric,
            6 => TypeOfNumber::Abbreviated,
            _ => TypeOfNumber::Reserved,
        }
    }

    fn bits(self) -> u8 {
        match self {
            TypeOfNumber::Unknown => 0,
            TypeOfNumber::International => 1,
            TypeOfNumber::National => 2,
            TypeOfNumber::NetworkSpecific => 3,
            TypeOfNumber::Subscriber => 4,
            TypeOfNumber::Alphanumeric => 5,
            TypeOfNumber::Abbreviated => 6,
            TypeOfNumber::Reserved => 7,
        }
    }
}

/// Numbering plan 0001: ISDN/telephone (E.164), the usual one (3GPP TS 23.040 §9.1.2.5).
pub const NPI_ISDN: u8 = 0x1;
/// Numbering plan 0000: unknown (used with alphanumeric addresses).
pub const NPI_UNKNOWN: u8 = 0x0;

/// Most digits in a TP address: 10 address octets (3GPP TS 23.040 §9.1.2.5).
pub const MAX_DIGITS: usize = 20;
/// Most characters in an alphanumeric address: 10 octets hold 11 septets.
pub const MAX_ALPHANUMERIC_SEPTETS: usize = 11;

/// An originating, destination or recipient address (3GPP TS 23.040 §9.1.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Address {
    /// Type of number.
    pub ton: TypeOfNumber,
    /// Numbering plan identification (bits 3..0), usually [`NPI_ISDN`].
    pub npi: u8,
    /// Digits (`0-9 * # a b c`) without `+`, or the alphanumeric text.
    pub value: String,
}

impl Address {
    /// An international E.164 number; a leading `+` is dropped.
    pub fn international(digits: &str) -> Self {
        Address {
            ton: TypeOfNumber::International,
            npi: NPI_ISDN,
            value: digits.trim_start_matches('+').to_owned(),
        }
    }

    /// A national number (type of number 010).
    pub fn national(digits: &str) -> Self {
        Address {
            ton: TypeOfNumber::National,
            npi: NPI_ISDN,
            value: digits.to_owned(),
        }
    }

    /// A number of unknown type, as dialled (short codes, numbers without `+`).
    pub fn unknown(digits: &str) -> Self {
        Address {
            ton: TypeOfNumber::Unknown,
            npi: NPI_ISDN,
            value: digits.to_owned(),
        }
    }

    /// An alphanumeric sender ID (type of number 101), at most 11 GSM 7-bit septets.
    pub fn alphanumeric(text: &str) -> Self {
        Address {
            ton: TypeOfNumber::Alphanumeric,
            npi: NPI_UNKNOWN,
            value: text.to_owned(),
        }
    }

    /// `+digits` → international; only semi-octet digits → unknown; anything else →
    /// alphanumeric.
    pub fn parse(s: &str) -> Self {
        if let Some(rest) = s.strip_prefix('+')
            && !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            return Address::international(rest);
        }
        if !s.is_empty() && s.chars().all(|c| digit_nibble(c).is_some()) {
            return Address::unknown(s);
        }
        Address::alphanumeric(s)
    }

    /// Type-of-Address octet: bit 7 set, TON, NPI.
    fn toa(&self) -> u8 {
        0x80 | self.ton.bits() << 4 | (self.npi & 0x0F)
    }

    /// The address value as semi-octets or packed septets, and the semi-octet count.
    fn body(&self) -> Result<(usize, Vec<u8>), EncodeError> {
        if self.ton == TypeOfNumber::Alphanumeric {
            let septets = gsm7::encode(&self.value, Shift::DEFAULT)?;
            if septets.len() > MAX_ALPHANUMERIC_SEPTETS {
                return Err(EncodeError::TooLong {
                    field: "alphanumeric address (septets)",
                    len: septets.len(),
                    max: MAX_ALPHANUMERIC_SEPTETS,
                });
            }
            let packed = gsm7::pack(&septets, 0);
            Ok(((septets.len() * 7).div_ceil(4), packed))
        } else {
            let digits: Vec<u8> = self
                .value
                .chars()
                .map(|c| digit_nibble(c).ok_or(EncodeError::InvalidAddress(c)))
                .collect::<Result<_, _>>()?;
            if digits.len() > MAX_DIGITS {
                return Err(EncodeError::TooLong {
                    field: "address digits",
                    len: digits.len(),
                    max: MAX_DIGITS,
                });
            }
            Ok((digits.len(), pack_semi_octets(&digits)))
        }
    }

    /// Appends the TP address field: semi-octet length, Type-of-Address, value
    /// (3GPP TS 23.040 §9.1.2.5).
    pub fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let (len, body) = self.body()?;
        out.push(len as u8);
        out.push(self.toa());
        out.extend_from_slice(&body);
        Ok(())
    }

    pub(crate) fn decode_tp(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let len = r.u8(field)? as usize;
        let toa = r.u8(field)?;
        if len > MAX_DIGITS {
            return Err(DecodeError::invalid(field, "more than 20 semi-octets"));
        }
        let body = r.take(len.div_ceil(2), field)?;
        Self::from_parts(toa, body, len, field)
    }

    fn from_parts(
        toa: u8,
        body: &[u8],
        semi_octets: usize,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        let ton = TypeOfNumber::from_bits(toa >> 4);
        let npi = toa & 0x0F;
        let value = if ton == TypeOfNumber::Alphanumeric {
            let septets = gsm7::unpack(body, 0, semi_octets * 4 / 7)?;
            gsm7::decode(&septets, Shift::DEFAULT)?
        } else {
            let mut s = String::with_capacity(semi_octets);
            for i in 0..semi_octets {
                let b = body[i / 2];
                let n = if i % 2 == 0 { b & 0x0F } else { b >> 4 };
                s.push(nibble_digit(n).ok_or(DecodeError::invalid(field, "filler inside digits"))?);
            }
            s
        };
        Ok(Address { ton, npi, value })
    }

    /// The SMSC address field of a modem PDU: octet count (0 for the SIM's default SMSC),
    /// Type-of-Address, semi-octets (3GPP TS 24.011 §8.2.5.1, 3GPP TS 27.005 §3.1).
    pub fn encode_smsc(smsc: Option<&Address>) -> Result<Vec<u8>, EncodeError> {
        let Some(a) = smsc else {
            return Ok(vec![0x00]);
        };
        let (_, body) = a.body()?;
        let mut out = Vec::with_capacity(2 + body.len());
        out.push((1 + body.len()) as u8);
        out.push(a.toa());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads the SMSC address field; `None` when its length is 0.
    pub fn decode_smsc(bytes: &[u8]) -> Result<(Option<Address>, usize), DecodeError> {
        let mut r = Reader::new(bytes);
        let len = r.u8("SMSC address length")? as usize;
        if len == 0 {
            return Ok((None, 1));
        }
        if len > 11 {
            return Err(DecodeError::invalid(
                "SMSC address",
                "longer than 11 octets",
            ));
        }
        let toa = r.u8("SMSC type of address")?;
        let body = r.take(len - 1, "SMSC address")?;
        // The count is in octets: a trailing 0xF nibble is filler.
        let mut semi = (len - 1) * 2;
        let ton = TypeOfNumber::from_bits(toa >> 4);
        if ton != TypeOfNumber::Alphanumeric && body.last().is_some_and(|b| b >> 4 == 0x0F) {
            semi -= 1;
        }
        let a = Self::from_parts(toa, body, semi, "SMSC address")?;
        Ok((Some(a), 1 + len))
    }
}

impl fmt::Display for Address {
    /// International numbers with a leading `+`, everything else as is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton == TypeOfNumber::International {
            write!(f, "+{}", self.value)
        } else {
            f.write_str(&self.value)
        }
    }
}

fn digit_nibble(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(0xA),
        '#' => Some(0xB),
        'a' => Some(0xC),
        'b' => Some(0xD),
        'c' => Some(0xE),
        _ => None,
    }
}

fn nibble_digit(n: u8) -> Option<char> {
    match n {
        0..=9 => Some(char::from(b'0' + n)),
        0xA => Some('*'),
        0xB => Some('#'),
        0xC => Some('a'),
        0xD => Some('b'),
        0xE => Some('c'),
        _ => None,
    }
}

/// Semi-octets, low nibble first, an odd count padded with 0xF (3GPP TS 23.040 §9.1.2.3).
fn pack_semi_octets(digits: &[u8]) -> Vec<u8> {
    digits
        .chunks(2)
        .map(|p| p[0] | p.get(1).copied().unwrap_or(0x0F) << 4)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(a: &Address) -> String {
        let mut v = Vec::new();
        a.encode_tp(&mut v).unwrap();
        crate::hex::encode(&v)
    }

    #[test]
    fn international_number_uses_swapped_semi_octets_and_filler() {
        let a = Address::parse("+31641600986");
        assert_eq!(a.ton, TypeOfNumber::International);
        assert_eq!(enc(&a), "0B911346610089F6");
        assert_eq!(a.to_string(), "+31641600986");
        let bytes = crate::hex::decode("0B911346610089F6").unwrap();
        let mut r = Reader::new(&bytes);
        assert_eq!(Address::decode_tp(&mut r, "TP-OA").unwrap(), a);
    }

    #[test]
    fn national_and_unknown_numbers_keep_their_type() {
        assert_eq!(enc(&Address::national("0301234567")), "0AA13010325476");
        let a = Address::parse("12345");
        assert_eq!(a.ton, TypeOfNumber::Unknown);
        assert_eq!(enc(&a), "05812143F5");
    }

    #[test]
    fn alphanumeric_sender_is_packed_septets() {
        // "Design@Home" is the example of 3GPP TS 23.040 §9.1.2.5 (semi-octet length 0x14).
        let a = Address::alphanumeric("Design@Home");
        let hex = enc(&a);
        assert_eq!(&hex[..4], "14D0");
        assert_eq!(hex, "14D0C4F23C7D760390EF7619");
        let bytes = crate::hex::decode(&hex).unwrap();
        let mut r = Reader::new(&bytes);
        assert_eq!(Address::decode_tp(&mut r, "TP-OA").unwrap(), a);
        assert!(
            Address::alphanumeric("TwelveLetter")
                .encode_tp(&mut Vec::new())
                .is_err()
        );
    }

    #[test]
    fn smsc_address_round_trips_and_default_is_a_zero_octet() {
        let smsc = Address::international("491710760000");
        let b = Address::encode_smsc(Some(&smsc)).unwrap();
        assert_eq!(crate::hex::encode(&b), "0791947101670000");
        let (a, n) = Address::decode_smsc(&b).unwrap();
        assert_eq!((a.unwrap(), n), (smsc, 8));
        assert_eq!(Address::encode_smsc(None).unwrap(), vec![0]);
        let (a, n) =
            Address::decode_smsc(&crate::hex::decode("07911326040000F0").unwrap()).unwrap();
        assert_eq!(a.unwrap().to_string(), "+31624000000");
        assert_eq!(n, 8);
    }

    #[test]
    fn bad_digits_are_errors() {
        assert!(
            Address::international("12x")
                .encode_tp(&mut Vec::new())
                .is_err()
        );
        assert!(
            Address::unknown(&"1".repeat(21))
                .encode_tp(&mut Vec::new())
                .is_err()
        );
        let bytes = [0x03, 0x91, 0xF1, 0x21];
        assert!(Address::decode_tp(&mut Reader::new(&bytes), "TP-DA").is_err());
        assert!(Address::decode_tp(&mut Reader::new(&[0x0B, 0x91, 0x13]), "TP-DA").is_err());
    }
}
