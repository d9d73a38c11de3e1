//! GSM 7-bit: characters ↔ septets (3GPP TS 23.038 §6.2.1) and septets ↔ packed octets
//! (3GPP TS 23.038 §6.1.2.1.1), with the fill bits that align septets after a UDH
//! (3GPP TS 23.040 §9.2.3.24).
//!
//! "Unpacked" septets are one per octet (values 0x00..=0x7F), as SMPP carries them by default;
//! "packed" septets are 8 septets per 7 octets, least significant bit first, as the air interface
//! (and modem PDU mode) carries them.

use crate::Encoding;
use crate::error::{DecodeError, EncodeError};
use crate::national::{Shift, Tables};

/// The escape septet to the extension / single shift table (3GPP TS 23.038 §6.2.1.1).
pub const ESCAPE: u8 = 0x1B;

/// The septets one character needs: 1 for the (locking) alphabet, 2 for escape + extension code.
#[inline]
fn lookup(
    c: char,
    locking: &crate::national::Table,
    single: &crate::national::Table,
) -> Option<(u8, Option<u8>)> {
    if let Some(code) = locking.code(c) {
        Some((code, None))
    } else {
        single.code(c).map(|code| (ESCAPE, Some(code)))
    }
}

/// The number of septets `c` takes with these tables (1 or 2), `None` when it has no code.
///
/// 3GPP TS 23.038 §6.2.1.1: extension characters cost an escape septet plus their code.
pub fn char_septets(c: char, shift: Shift) -> Option<usize> {
    let (l, s) = Tables::get().pair(shift);
    lookup(c, l, s).map(|(_, ext)| if ext.is_some() { 2 } else { 1 })
}

/// Whether every character of `text` has a code in these tables.
pub fn is_encodable(text: &str, shift: Shift) -> bool {
    let (l, s) = Tables::get().pair(shift);
    text.chars().all(|c| lookup(c, l, s).is_some())
}

/// The number of septets `text` takes, or the first character without a code.
pub fn septet_len(text: &str, shift: Shift) -> Result<usize, EncodeError> {
    let (l, s) = Tables::get().pair(shift);
    let mut n = 0;
    for (index, c) in text.chars().enumerate() {
        match lookup(c, l, s) {
            Some((_, None)) => n += 1,
            Some((_, Some(_))) => n += 2,
            None => {
                return Err(EncodeError::Unencodable {
                    ch: c,
                    index,
                    encoding: Encoding::Gsm7,
                });
            }
        }
    }
    Ok(n)
}

/// Encodes `text` to unpacked septets (one per octet), or names the first character without a
/// code (3GPP TS 23.038 §6.2.1). Never substitutes `?`.
pub fn encode(text: &str, shift: Shift) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(text.len());
    encode_into(text, shift, &mut out)?;
    Ok(out)
}

/// Like [`encode`], appending to `out` (which is left partially written on error).
pub fn encode_into(text: &str, shift: Shift, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let (l, s) = Tables::get().pair(shift);
    for (index, c) in text.chars().enumerate() {
        match lookup(c, l, s) {
            Some((code, None)) => out.push(code),
            Some((esc, Some(code))) => {
                out.push(esc);
                out.push(code);
            }
            None => {
                return Err(EncodeError::Unencodable {
                    ch: c,
                    index,
                    encoding: Encoding::Gsm7,
                });
            }
        }
    }
    Ok(())
}

/// Decodes unpacked septets to text (3GPP TS 23.038 §6.2.1, §6.2.1.1).
///
/// An escape followed by a code the single shift table lacks shows the locking table's character
/// for that code, as §6.2.1.1 asks; escape-escape (reserved) and a lone final escape show a space.
/// An octet above 0x7F is an error: it cannot be a septet.
pub fn decode(septets: &[u8], shift: Shift) -> Result<String, DecodeError> {
    let (l, s) = Tables::get().pair(shift);
    let mut out = String::with_capacity(septets.len());
    let mut i = 0;
    while i < septets.len() {
        let b = septets[i];
        if b > 0x7F {
            return Err(DecodeError::NotASeptet(b));
        }
        if b == ESCAPE {
            match septets.get(i + 1) {
                Some(&n) if n > 0x7F => return Err(DecodeError::NotASeptet(n)),
                Some(&ESCAPE) | None => out.push(' '),
                Some(&n) => out.push(s.fwd[n as usize].or(l.fwd[n as usize]).unwrap_or(' ')),
            }
            i += 2;
        } else {
            out.push(l.fwd[b as usize].unwrap_or(' '));
            i += 1;
        }
    }
    Ok(out)
}

/// The fill bits that align the first septet after a UDH of `udh_octets` octets (UDHL included)
/// on a septet boundary (3GPP TS 23.040 §9.2.3.24: 0..=6 bits).
pub fn fill_bits(udh_octets: usize) -> u8 {
    ((7 - (udh_octets * 8) % 7) % 7) as u8
}

/// The septets a UDH of `udh_octets` octets (UDHL included) occupies in TP-UDL, fill bits
/// included (3GPP TS 23.040 §9.2.3.16).
pub fn udh_septets(udh_octets: usize) -> usize {
    (udh_octets * 8).div_ceil(7)
}

/// Packs septets, 8 per 7 octets, LSB first, after `fill_bits` zero bits (3GPP TS 23.038
/// §6.1.2.1.1).
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity((septets.len() * 7 + fill_bits as usize).div_ceil(8));
    pack_into(septets, fill_bits, &mut out);
    out
}

/// Like [`pack`], appending to `out`. Only the low 7 bits of each septet are used.
pub fn pack_into(septets: &[u8], fill_bits: u8, out: &mut Vec<u8>) {
    let mut acc: u32 = 0;
    let mut bits: u32 = u32::from(fill_bits % 8);
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        if bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Unpacks `count` septets from packed octets that start with `fill_bits` fill bits; an error when
/// the octets hold fewer bits than that.
pub fn unpack(octets: &[u8], fill_bits: u8, count: usize) -> Result<Vec<u8>, DecodeError> {
    let needed = (count * 7 + fill_bits as usize).div_ceil(8);
    if octets.len() < needed {
        return Err(DecodeError::truncated(
            "packed septets",
            needed,
            octets.len(),
        ));
    }
    let mut out = Vec::with_capacity(count);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut skip = u32::from(fill_bits);
    let mut iter = octets.iter();
    while out.len() < count {
        while bits < 7 + skip {
            // `needed` was checked above, so the octets last until `count` septets are read.
            let Some(&o) = iter.next() else {
                return Err(DecodeError::truncated(
                    "packed septets",
                    needed,
                    octets.len(),
                ));
            };
            acc |= u32::from(o) << bits;
            bits += 8;
        }
        if skip > 0 {
            acc >>= skip;
            bits -= skip;
            skip = 0;
        }
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        bits -= 7;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NationalLanguage;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn hello_packs_like_the_23_038_example() {
        // The classic example: "hellohello" → E8329BFD4697D9EC37.
        let s = encode("hellohello", Shift::DEFAULT).unwrap();
        assert_eq!(hex(&pack(&s, 0)), "E8329BFD4697D9EC37");
        assert_eq!(unpack(&pack(&s, 0), 0, 10).unwrap(), s);
    }

    #[test]
    fn how_are_you_packs_like_the_smspdudecoder_example() {
        let s = encode("How are you?", Shift::DEFAULT).unwrap();
        assert_eq!(hex(&pack(&s, 0)), "C8F71D14969741F977FD07");
    }

    #[test]
    fn eight_septets_fill_seven_octets_exactly() {
        let s = encode("12345678", Shift::DEFAULT).unwrap();
        let p = pack(&s, 0);
        assert_eq!(p.len(), 7);
        assert_eq!(unpack(&p, 0, 8).unwrap(), s);
    }

    #[test]
    fn fill_bits_after_a_concatenation_udh_is_one() {
        assert_eq!(fill_bits(6), 1);
        assert_eq!(fill_bits(7), 0);
        assert_eq!(fill_bits(0), 0);
        assert_eq!(udh_septets(6), 7);
        assert_eq!(udh_septets(7), 8);
        let s = encode("abc", Shift::DEFAULT).unwrap();
        let p = pack(&s, 1);
        assert_eq!(unpack(&p, 1, 3).unwrap(), s);
        // 'a' = 0x61 shifted left by one fill bit.
        assert_eq!(p[0], 0xC2);
    }

    #[test]
    fn extension_characters_take_two_septets() {
        assert_eq!(septet_len("€[]{}", Shift::DEFAULT).unwrap(), 10);
        assert_eq!(encode("€", Shift::DEFAULT).unwrap(), vec![0x1B, 0x65]);
        assert_eq!(decode(&[0x1B, 0x65], Shift::DEFAULT).unwrap(), "€");
    }

    #[test]
    fn unencodable_character_is_named() {
        let e = encode("ab😀", Shift::DEFAULT).unwrap_err();
        assert_eq!(
            e,
            EncodeError::Unencodable {
                ch: '😀',
                index: 2,
                encoding: Encoding::Gsm7
            }
        );
        assert!(e.to_string().contains("U+1F600"));
    }

    #[test]
    fn unknown_extension_code_shows_the_base_character_and_double_escape_a_space() {
        assert_eq!(decode(&[0x1B, 0x41], Shift::DEFAULT).unwrap(), "A");
        assert_eq!(decode(&[0x1B, 0x1B, 0x41], Shift::DEFAULT).unwrap(), " A");
        assert_eq!(decode(&[0x41, 0x1B], Shift::DEFAULT).unwrap(), "A ");
        assert!(decode(&[0x80], Shift::DEFAULT).is_err());
    }

    #[test]
    fn turkish_tables_encode_dotless_i_in_one_septet() {
        let tr = Shift {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        let s = encode("ışİ", tr).unwrap();
        assert_eq!(s, vec![0x07, 0x1D, 0x40]);
        assert_eq!(decode(&s, tr).unwrap(), "ışİ");
        assert!(encode("ı", Shift::DEFAULT).is_err());
    }

    #[test]
    fn unpack_reports_truncation() {
        assert!(unpack(&[0xE8, 0x32], 0, 3).is_err());
        assert!(unpack(&[], 0, 0).unwrap().is_empty());
    }
}
