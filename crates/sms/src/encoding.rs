//! The four encodings a message body can travel in, their SMPP `data_coding` values and their
//! 3GPP TP-DCS octet.

use std::fmt;
use std::str::FromStr;

use crate::error::DecodeError;

/// How the characters of a message are turned into bytes.
///
/// 3GPP TS 23.038 §4 (TP-DCS alphabets) and SMPP 3.4 §5.2.19 (`data_coding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Encoding {
    /// GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), optionally
    /// with national language shift tables (§6.2.1.2.4, Annex A). 160 septets per single SMS.
    Gsm7,
    /// UCS-2, sent as UTF-16 big-endian so characters outside the BMP travel as surrogate pairs
    /// (3GPP TS 23.038 §6.2.3). 70 UTF-16 units per single SMS.
    Ucs2,
    /// 8-bit data (3GPP TS 23.038 §4, alphabet 01). 140 octets per single SMS.
    #[cfg_attr(feature = "serde", serde(rename = "binary"))]
    Binary8,
    /// ISO 8859-1; exists only on SMPP (SMPP 3.4 §5.2.19 data_coding 0x03), for peers that ask
    /// for it. 140 characters per single SMS.
    Latin1,
}

impl Encoding {
    /// The name used in the API and the store: `gsm7`, `ucs2`, `binary`, `latin1`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
            Encoding::Binary8 => "binary",
            Encoding::Latin1 => "latin1",
        }
    }

    /// The SMPP `data_coding` to send this encoding with (SMPP 3.4 §5.2.19): 0x00 SMSC default
    /// (GSM 7-bit), 0x03 Latin-1, 0x04 octet unspecified (8-bit binary), 0x08 UCS-2.
    pub fn smpp_data_coding(&self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Latin1 => 0x03,
            Encoding::Binary8 => 0x04,
            Encoding::Ucs2 => 0x08,
        }
    }

    /// The encoding an SMPP `data_coding` names (SMPP 3.4 §5.2.19), or `None` for an alphabet
    /// this crate does not decode (JIS, Cyrillic, Hebrew, pictograms, KS C 5601 …).
    ///
    /// 0x00 is taken as GSM 7-bit (the usual SMSC default); 0x01 (IA5/ASCII) as Latin-1, of which
    /// ASCII is a subset; 0x02 and 0x04 as binary; 0x03 Latin-1; 0x08 UCS-2. Values 0xC0..=0xFF
    /// follow the GSM TP-DCS coding groups (3GPP TS 23.038 §4), which SMSCs use for
    /// message-class control.
    pub fn from_smpp_data_coding(data_coding: u8) -> Option<Encoding> {
        match data_coding {
            0x00 => Some(Encoding::Gsm7),
            0x01 | 0x03 => Some(Encoding::Latin1),
            0x02 | 0x04 => Some(Encoding::Binary8),
            0x08 => Some(Encoding::Ucs2),
            0xC0..=0xFF => Dcs::from_octet(data_coding).encoding().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given to [`Encoding::from_str`] is none of `gsm7`, `ucs2`, `binary`, `latin1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding {0:?} (expected gsm7, ucs2, binary or latin1)")]
pub struct UnknownEncoding(pub String);

impl FromStr for Encoding {
    type Err = UnknownEncoding;

    /// Parses the API name (see [`Encoding::as_str`]); also accepts `gsm`, `utf16`, `binary8`,
    /// `8bit` and `iso-8859-1`, case-insensitively, as users type them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gsm7" | "gsm" | "gsm-7" | "gsm_7" | "gsm0338" => Ok(Encoding::Gsm7),
            "ucs2" | "ucs-2" | "utf16" | "utf-16" => Ok(Encoding::Ucs2),
            "binary" | "binary8" | "8bit" | "octet" => Ok(Encoding::Binary8),
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" => Ok(Encoding::Latin1),
            _ => Err(UnknownEncoding(s.to_owned())),
        }
    }
}

/// TP-DCS message class (3GPP TS 23.038 §4): class 0 is a "flash" SMS shown and not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MessageClass {
    /// Class 0: displayed immediately, not stored ("flash SMS").
    Class0,
    /// Class 1: ME-specific.
    Class1,
    /// Class 2: SIM-specific.
    Class2,
    /// Class 3: TE-specific.
    Class3,
}

impl MessageClass {
    fn from_bits(b: u8) -> Self {
        match b & 0x03 {
            0 => MessageClass::Class0,
            1 => MessageClass::Class1,
            2 => MessageClass::Class2,
            _ => MessageClass::Class3,
        }
    }

    fn bits(self) -> u8 {
        match self {
            MessageClass::Class0 => 0,
            MessageClass::Class1 => 1,
            MessageClass::Class2 => 2,
            MessageClass::Class3 => 3,
        }
    }
}

/// TP-Data-Coding-Scheme octet (3GPP TS 23.040 §9.2.3.10, coded per 3GPP TS 23.038 §4).
///
/// Kept as the raw octet so an unusual value round-trips unchanged; the accessors interpret it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dcs(pub u8);

/// The character set a TP-DCS selects (3GPP TS 23.038 §4, bits 3..2 of the general group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet.
    Gsm7,
    /// 8-bit data.
    Eight,
    /// UCS-2 (UTF-16BE).
    Ucs2,
}

impl Dcs {
    /// Takes the octet as received.
    pub fn from_octet(octet: u8) -> Self {
        Dcs(octet)
    }

    /// The TP-DCS for an encoding and optional class (3GPP TS 23.038 §4, general data coding
    /// group 00xx: uncompressed; class bits only when a class is given). Latin-1 has no TP-DCS.
    pub fn new(
        encoding: Encoding,
        class: Option<MessageClass>,
    ) -> Result<Self, crate::EncodeError> {
        let alphabet = match encoding {
            Encoding::Gsm7 => 0b00,
            Encoding::Binary8 => 0b01,
            Encoding::Ucs2 => 0b10,
            Encoding::Latin1 => return Err(crate::EncodeError::NotInTpdu(encoding)),
        };
        let class_bits = class.map_or(0, |c| 0x10 | c.bits());
        Ok(Dcs(alphabet << 2 | class_bits))
    }

    /// The octet on the wire.
    pub fn octet(&self) -> u8 {
        self.0
    }

    /// The alphabet (3GPP TS 23.038 §4). Reserved coding groups are read as GSM 7-bit, as the
    /// spec asks receivers to do; the reserved alphabet value 11 of the general group likewise.
    pub fn alphabet(&self) -> Alphabet {
        let b = self.0;
        match b >> 4 {
            // General data coding (00xx) and automatic deletion (01xx) groups.
            0x0..=0x7 => match (b >> 2) & 0x03 {
                0b01 => Alphabet::Eight,
                0b10 => Alphabet::Ucs2,
                _ => Alphabet::Gsm7,
            },
            // Message waiting indication: discard / store (GSM 7-bit), store (UCS-2).
            0xC | 0xD => Alphabet::Gsm7,
            0xE => Alphabet::Ucs2,
            // Data coding / message class group.
            0xF => {
                if b & 0x04 != 0 {
                    Alphabet::Eight
                } else {
                    Alphabet::Gsm7
                }
            }
            // 1000..1011: reserved coding groups.
            _ => Alphabet::Gsm7,
        }
    }

    /// The alphabet as an [`Encoding`]; an error when the text is compressed (bit 5 of the
    /// general group, 3GPP TS 23.042), which this crate does not implement.
    pub fn encoding(&self) -> Result<Encoding, DecodeError> {
        if self.compressed() {
            return Err(DecodeError::Compressed);
        }
        Ok(match self.alphabet() {
            Alphabet::Gsm7 => Encoding::Gsm7,
            Alphabet::Eight => Encoding::Binary8,
            Alphabet::Ucs2 => Encoding::Ucs2,
        })
    }

    /// Whether the user data is compressed (3GPP TS 23.038 §4, bit 5 of groups 00xx/01xx).
    pub fn compressed(&self) -> bool {
        self.0 >> 6 <= 1 && self.0 & 0x20 != 0
    }

    /// The message class, when the octet carries one (bit 4 of groups 00xx/01xx, or group 1111).
    pub fn class(&self) -> Option<MessageClass> {
        let b = self.0;
        match b >> 4 {
            0x0..=0x7 if b & 0x10 != 0 => Some(MessageClass::from_bits(b)),
            0xF => Some(MessageClass::from_bits(b)),
            _ => None,
        }
    }

    /// Whether this is a class 0 ("flash") message.
    pub fn is_flash(&self) -> bool {
        self.class() == Some(MessageClass::Class0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for e in [
            Encoding::Gsm7,
            Encoding::Ucs2,
            Encoding::Binary8,
            Encoding::Latin1,
        ] {
            assert_eq!(e.as_str().parse::<Encoding>().unwrap(), e);
            assert_eq!(
                Encoding::from_smpp_data_coding(e.smpp_data_coding()),
                Some(e)
            );
        }
        assert!("klingon".parse::<Encoding>().is_err());
    }

    #[test]
    fn smpp_data_coding_values_follow_smpp_3_4() {
        assert_eq!(
            Encoding::from_smpp_data_coding(0x02),
            Some(Encoding::Binary8)
        );
        assert_eq!(Encoding::from_smpp_data_coding(0x06), None);
        assert_eq!(Encoding::from_smpp_data_coding(0xF0), Some(Encoding::Gsm7));
        assert_eq!(
            Encoding::from_smpp_data_coding(0xF4),
            Some(Encoding::Binary8)
        );
    }

    #[test]
    fn dcs_octets_decode_per_23_038() {
        assert_eq!(Dcs(0x00).encoding(), Ok(Encoding::Gsm7));
        assert_eq!(Dcs(0x08).encoding(), Ok(Encoding::Ucs2));
        assert_eq!(Dcs(0x04).encoding(), Ok(Encoding::Binary8));
        assert_eq!(Dcs(0x10).class(), Some(MessageClass::Class0));
        assert!(Dcs(0x10).is_flash());
        assert!(Dcs(0xF0).is_flash());
        assert_eq!(Dcs(0x18).encoding(), Ok(Encoding::Ucs2));
        assert_eq!(Dcs(0x20).encoding(), Err(DecodeError::Compressed));
        assert_eq!(Dcs(0xE0).encoding(), Ok(Encoding::Ucs2));
        assert_eq!(Dcs(0x00).class(), None);
        assert_eq!(
            Dcs::new(Encoding::Ucs2, Some(MessageClass::Class0)).unwrap(),
            Dcs(0x18)
        );
        assert!(Dcs::new(Encoding::Latin1, None).is_err());
    }
}
