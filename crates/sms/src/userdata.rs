//! Inbound user data: TP-UD of a TPDU (3GPP TS 23.040 §9.2.3.24) or an SMPP `short_message`
//! (SMPP 3.4 §5.2.25) turned into a UDH and a payload, and the payload into text.

use crate::error::{DecodeError, EncodeError};
use crate::national::Shift;
use crate::udh::{ConcatInfo, Udh};
use crate::{Encoding, charsets, gsm7};

/// Most septets in TP-UD (3GPP TS 23.040 §9.2.3.16).
pub const MAX_SEPTETS: usize = 160;

/// The user data of one SMS, split into header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UserData {
    /// The alphabet of `payload`.
    pub encoding: Encoding,
    /// The UDH, when TP-UDHI (or SMPP `esm_class` bit 6) says there is one.
    pub udh: Option<Udh>,
    /// Unpacked septets (one per octet) for GSM 7-bit, else the octets after the UDH.
    pub payload: Vec<u8>,
}

impl UserData {
    /// User data without a header.
    pub fn new(encoding: Encoding, payload: Vec<u8>) -> Self {
        UserData {
            encoding,
            udh: None,
            payload,
        }
    }

    /// The user data of a segmented part (see [`crate::segment`]). The UDH was built by this
    /// crate, so it parses.
    pub fn from_part(part: &crate::Part) -> Self {
        let udh = part
            .udh
            .as_deref()
            .and_then(|b| Udh::parse(b).ok())
            .map(|(u, _)| u);
        UserData {
            encoding: part.encoding,
            udh,
            payload: part.payload.clone(),
        }
    }

    /// The GSM 7-bit tables the header selects (3GPP TS 23.040 §9.2.3.24.15–16).
    pub fn shift(&self) -> Shift {
        self.udh.as_ref().map_or(Shift::DEFAULT, Udh::shift)
    }

    /// The concatenation counters, if the header has valid ones.
    pub fn concat(&self) -> Option<ConcatInfo> {
        self.udh.as_ref().and_then(Udh::concat)
    }

    /// The payload as text. Binary payloads are read as UTF-8 with U+FFFD for invalid octets
    /// (they are not text; callers that care use `payload`).
    pub fn text(&self) -> Result<String, DecodeError> {
        decode_text(self.encoding, self.shift(), &self.payload)
    }

    /// Reads TP-UD given TP-DCS's encoding, TP-UDHI and TP-UDL (3GPP TS 23.040 §9.2.3.16,
    /// §9.2.3.24). `ud` must hold exactly the user data octets that TP-UDL implies.
    pub fn decode_tp(
        encoding: Encoding,
        udhi: bool,
        udl: u8,
        ud: &[u8],
    ) -> Result<UserData, DecodeError> {
        let udl = udl as usize;
        match encoding {
            Encoding::Gsm7 => {
                if udl > MAX_SEPTETS {
                    return Err(DecodeError::invalid("TP-UDL", "more than 160 septets"));
                }
                let octets = (udl * 7).div_ceil(8);
                if ud.len() != octets {
                    return Err(DecodeError::truncated("TP-UD", octets, ud.len()));
                }
                let (udh, udh_octets) = if udhi {
                    let (h, n) = Udh::parse(ud)?;
                    (Some(h), n)
                } else {
                    (None, 0)
                };
                let udh_septets = gsm7::udh_septets(udh_octets);
                if udh_septets > udl {
                    return Err(DecodeError::invalid("TP-UDL", "shorter than the UDH"));
                }
                let payload = gsm7::unpack(
                    &ud[udh_octets..],
                    gsm7::fill_bits(udh_octets),
                    udl - udh_septets,
                )?;
                Ok(UserData {
                    encoding,
                    udh,
                    payload,
                })
            }
            Encoding::Ucs2 | Encoding::Binary8 | Encoding::Latin1 => {
                if udl > crate::segment::MAX_USER_DATA_OCTETS {
                    return Err(DecodeError::invalid("TP-UDL", "more than 140 octets"));
                }
                if ud.len() != udl {
                    return Err(DecodeError::truncated("TP-UD", udl, ud.len()));
                }
                Self::split_octets(encoding, udhi, ud)
            }
        }
    }

    /// TP-UDL and TP-UD for this user data (3GPP TS 23.040 §9.2.3.16, §9.2.3.24); an error when
    /// it exceeds 140 octets.
    pub fn encode_tp(&self) -> Result<(u8, Vec<u8>), EncodeError> {
        let udh = self.udh.as_ref().map(Udh::to_bytes).unwrap_or_default();
        let mut ud = udh.clone();
        let udl = match self.encoding {
            Encoding::Gsm7 => {
                gsm7::pack_into(&self.payload, gsm7::fill_bits(udh.len()), &mut ud);
                gsm7::udh_septets(udh.len()) + self.payload.len()
            }
            _ => {
                ud.extend_from_slice(&self.payload);
                ud.len()
            }
        };
        if ud.len() > crate::segment::MAX_USER_DATA_OCTETS {
            return Err(EncodeError::TooLong {
                field: "TP-UD",
                len: ud.len(),
                max: crate::segment::MAX_USER_DATA_OCTETS,
            });
        }
        Ok((udl as u8, ud))
    }

    /// Reads an SMPP `short_message` or `message_payload` (SMPP 3.4 §5.2.19, §5.2.25): the
    /// encoding from `data_coding`, a UDH when `udhi` (`esm_class` bit 6), and GSM 7-bit either
    /// unpacked (the SMPP default) or `packed` (some SMSCs; the septet count is then the largest
    /// that fits, so a final 7 spare bits read as `@`).
    pub fn from_smpp(
        data_coding: u8,
        udhi: bool,
        short_message: &[u8],
        packed: bool,
    ) -> Result<UserData, DecodeError> {
        let encoding = Encoding::from_smpp_data_coding(data_coding)
            .ok_or(DecodeError::UnsupportedDataCoding(data_coding))?;
        let mut ud = Self::split_octets(encoding, udhi, short_message)?;
        if encoding == Encoding::Gsm7 {
            if packed {
                let udh_octets = ud.udh.as_ref().map_or(0, Udh::encoded_len);
                let fill = gsm7::fill_bits(udh_octets);
                let count = (ud.payload.len() * 8).saturating_sub(fill as usize) / 7;
                ud.payload = gsm7::unpack(&ud.payload, fill, count)?;
            } else if let Some(&b) = ud.payload.iter().find(|&&b| b > 0x7F) {
                return Err(DecodeError::NotASeptet(b));
            }
        }
        Ok(ud)
    }

    fn split_octets(
        encoding: Encoding,
        udhi: bool,
        octets: &[u8],
    ) -> Result<UserData, DecodeError> {
        let (udh, n) = if udhi {
            let (h, n) = Udh::parse(octets)?;
            (Some(h), n)
        } else {
            (None, 0)
        };
        Ok(UserData {
            encoding,
            udh,
            payload: octets[n..].to_vec(),
        })
    }
}

/// Decodes a payload (unpacked septets for GSM 7-bit, else octets) to text.
///
/// 3GPP TS 23.038 §6.2.1 (GSM 7-bit, with the given shift tables), §6.2.3 (UCS-2 as UTF-16BE,
/// lone surrogates become U+FFFD), ISO 8859-1, and binary read as lossy UTF-8.
pub fn decode_text(
    encoding: Encoding,
    shift: Shift,
    payload: &[u8],
) -> Result<String, DecodeError> {
    Ok(match encoding {
        Encoding::Gsm7 => gsm7::decode(payload, shift)?,
        Encoding::Ucs2 => charsets::decode_ucs2(payload),
        Encoding::Latin1 => charsets::decode_latin1(payload),
        Encoding::Binary8 => String::from_utf8_lossy(payload).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SegmentOptions, segment};

    #[test]
    fn segmented_parts_decode_back_through_tp_user_data() {
        for text in ["hello [world] €", "привет 😀", ""] {
            let long = text.repeat(30);
            let s = segment(&long, &SegmentOptions::default()).unwrap();
            let mut out = String::new();
            for p in &s.parts {
                let (udl, ud) = p.tp_user_data();
                let d = UserData::decode_tp(p.encoding, p.udhi(), udl, &ud).unwrap();
                assert_eq!(d.concat(), p.concat);
                out.push_str(&d.text().unwrap());
                assert_eq!(UserData::from_part(p).encode_tp().unwrap(), (udl, ud));
            }
            assert_eq!(out, long);
        }
    }

    #[test]
    fn smpp_short_messages_decode_packed_and_unpacked() {
        let s = segment(&"a€".repeat(70), &SegmentOptions::default()).unwrap();
        for packed in [false, true] {
            let mut out = String::new();
            for p in &s.parts {
                let sm = p.smpp_short_message(packed);
                let d = UserData::from_smpp(0x00, p.udhi(), &sm, packed).unwrap();
                out.push_str(&d.text().unwrap());
            }
            assert_eq!(out, "a€".repeat(70));
        }
        assert!(UserData::from_smpp(0x00, false, &[0x80], false).is_err());
        assert!(UserData::from_smpp(0x06, false, b"x", false).is_err());
        let d = UserData::from_smpp(0x03, false, b"caf\xe9", false).unwrap();
        assert_eq!(d.text().unwrap(), "café");
    }

    #[test]
    fn inconsistent_lengths_are_errors() {
        assert!(UserData::decode_tp(Encoding::Gsm7, false, 161, &[0; 141]).is_err());
        assert!(UserData::decode_tp(Encoding::Gsm7, false, 10, &[0; 3]).is_err());
        assert!(UserData::decode_tp(Encoding::Ucs2, false, 4, &[0; 3]).is_err());
        // UDHL says 5 octets but UDL only 3 septets.
        assert!(UserData::decode_tp(Encoding::Gsm7, true, 3, &[5, 0, 3]).is_err());
        assert!(UserData::decode_tp(Encoding::Binary8, true, 3, &[5, 0, 3]).is_err());
    }
}
