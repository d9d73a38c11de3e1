//! The User Data Header (3GPP TS 23.040 §9.2.3.24): concatenation (8- and 16-bit references),
//! national language shifts, and any other information element kept as raw bytes.

use crate::error::DecodeError;
use crate::national::{NationalLanguage, Shift};

/// IEI of concatenated short messages with an 8-bit reference (3GPP TS 23.040 §9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of application port addressing, 8-bit ports (3GPP TS 23.040 §9.2.3.24.3).
pub const IEI_PORTS_8: u8 = 0x04;
/// IEI of application port addressing, 16-bit ports (3GPP TS 23.040 §9.2.3.24.4).
pub const IEI_PORTS_16: u8 = 0x05;
/// IEI of concatenated short messages with a 16-bit reference (3GPP TS 23.040 §9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI of the national language single shift (3GPP TS 23.040 §9.2.3.24.15).
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// IEI of the national language locking shift (3GPP TS 23.040 §9.2.3.24.16).
pub const IEI_LOCKING_SHIFT: u8 = 0x25;

/// One information element: identifier and data (3GPP TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InformationElement {
    /// IEI.
    pub id: u8,
    /// IEDA, at most 253 octets (the UDH length octet counts 255 at most, minus IEI and IEDL).
    pub data: Vec<u8>,
}

/// Where a part sits in a concatenated message (3GPP TS 23.040 §9.2.3.24.1 and §9.2.3.24.8;
/// SMPP 3.4 §5.3.2.22–24 `sar_msg_ref_num`, `sar_total_segments`, `sar_segment_seqnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConcatInfo {
    /// Concatenated short message reference number; only the low 8 bits with IEI 0x00.
    pub reference: u16,
    /// Maximum number of short messages in the concatenated message (1..=255).
    pub total: u8,
    /// Sequence number of this part (1..=total).
    pub sequence: u8,
    /// Whether the reference is 16-bit (IEI 0x08, or SMPP SAR) rather than 8-bit (IEI 0x00).
    pub wide_reference: bool,
}

impl ConcatInfo {
    /// Whether the counters are usable: the spec asks receivers to ignore the element when the
    /// total or the sequence is 0 or the sequence exceeds the total (3GPP TS 23.040 §9.2.3.24.1).
    pub fn is_valid(&self) -> bool {
        self.total >= 1 && self.sequence >= 1 && self.sequence <= self.total
    }

    /// The counters of an SMPP part from its SAR TLVs (SMPP 3.4 §5.3.2.22–24): `sar_msg_ref_num`
    /// is 16-bit, so the reference is marked wide.
    pub fn from_sar(msg_ref_num: u16, total_segments: u8, segment_seqnum: u8) -> Self {
        ConcatInfo {
            reference: msg_ref_num,
            total: total_segments,
            sequence: segment_seqnum,
            wide_reference: true,
        }
    }

    /// The information element for this part (IEI 0x00 or 0x08).
    pub fn to_element(&self) -> InformationElement {
        if self.wide_reference {
            let [hi, lo] = self.reference.to_be_bytes();
            InformationElement {
                id: IEI_CONCAT_16,
                data: vec![hi, lo, self.total, self.sequence],
            }
        } else {
            InformationElement {
                id: IEI_CONCAT_8,
                data: vec![self.reference as u8, self.total, self.sequence],
            }
        }
    }
}

/// A parsed User Data Header (3GPP TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Udh {
    /// The information elements in wire order.
    pub elements: Vec<InformationElement>,
}

impl Udh {
    /// Parses a UDH that starts with its length octet (UDHL); returns it and the octets consumed
    /// (UDHL + 1). An element that runs past UDHL, or a UDHL past the input, is an error.
    pub fn parse(bytes: &[u8]) -> Result<(Udh, usize), DecodeError> {
        let Some(&udhl) = bytes.first() else {
            return Err(DecodeError::truncated("UDHL", 1, 0));
        };
        let end = 1 + udhl as usize;
        if bytes.len() < end {
            return Err(DecodeError::truncated("UDH", end, bytes.len()));
        }
        let mut elements = Vec::new();
        let mut i = 1;
        while i < end {
            if i + 2 > end {
                return Err(DecodeError::invalid(
                    "UDH",
                    "information element header past UDHL",
                ));
            }
            let id = bytes[i];
            let len = bytes[i + 1] as usize;
            let start = i + 2;
            if start + len > end {
                return Err(DecodeError::invalid(
                    "UDH",
                    "information element data past UDHL",
                ));
            }
            elements.push(InformationElement {
                id,
                data: bytes[start..start + len].to_vec(),
            });
            i = start + len;
        }
        Ok((Udh { elements }, end))
    }

    /// The octets of this header, UDHL first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push((self.encoded_len() - 1) as u8);
        for e in &self.elements {
            out.push(e.id);
            out.push(e.data.len() as u8);
            out.extend_from_slice(&e.data);
        }
        out
    }

    /// The length of [`Udh::to_bytes`], UDHL included.
    pub fn encoded_len(&self) -> usize {
        1 + self
            .elements
            .iter()
            .map(|e| 2 + e.data.len())
            .sum::<usize>()
    }

    /// The first concatenation element (IEI 0x00 or 0x08) with valid counters, if any.
    pub fn concat(&self) -> Option<ConcatInfo> {
        self.elements.iter().find_map(|e| {
            let c = match (e.id, e.data.as_slice()) {
                (IEI_CONCAT_8, &[r, total, sequence]) => ConcatInfo {
                    reference: u16::from(r),
                    total,
                    sequence,
                    wide_reference: false,
                },
                (IEI_CONCAT_16, &[hi, lo, total, sequence]) => ConcatInfo {
                    reference: u16::from_be_bytes([hi, lo]),
                    total,
                    sequence,
                    wide_reference: true,
                },
                _ => return None,
            };
            c.is_valid().then_some(c)
        })
    }

    /// The national language tables the header selects (IEs 0x24 and 0x25); default tables for
    /// languages without tables here.
    pub fn shift(&self) -> Shift {
        let mut shift = Shift::DEFAULT;
        for e in &self.elements {
            match (e.id, e.data.as_slice()) {
                (IEI_SINGLE_SHIFT, &[id]) => shift.single = NationalLanguage::from_identifier(id),
                (IEI_LOCKING_SHIFT, &[id]) => shift.locking = NationalLanguage::from_identifier(id),
                _ => {}
            }
        }
        shift
    }

    /// Application ports (destination, originator) from IE 0x05 or 0x04
    /// (3GPP TS 23.040 §9.2.3.24.3–4), e.g. for WAP push or SIM toolkit payloads.
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.elements
            .iter()
            .find_map(|e| match (e.id, e.data.as_slice()) {
                (IEI_PORTS_16, &[a, b, c, d]) => {
                    Some((u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])))
                }
                (IEI_PORTS_8, &[a, b]) => Some((u16::from(a), u16::from(b))),
                _ => None,
            })
    }

    /// The elements that select `shift` (nothing for the default tables).
    pub fn shift_elements(shift: Shift) -> Vec<InformationElement> {
        let mut v = Vec::new();
        if let Some(l) = shift.locking {
            v.push(InformationElement {
                id: IEI_LOCKING_SHIFT,
                data: vec![l.identifier()],
            });
        }
        if let Some(l) = shift.single {
            v.push(InformationElement {
                id: IEI_SINGLE_SHIFT,
                data: vec![l.identifier()],
            });
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenation_udh_8_bit_parses_and_round_trips() {
        let bytes = [0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, 0xFF];
        let (udh, n) = Udh::parse(&bytes).unwrap();
        assert_eq!(n, 6);
        assert_eq!(
            udh.concat(),
            Some(ConcatInfo {
                reference: 0x2A,
                total: 3,
                sequence: 2,
                wide_reference: false
            })
        );
        assert_eq!(udh.to_bytes(), bytes[..6].to_vec());
    }

    #[test]
    fn concatenation_udh_16_bit_parses() {
        let bytes = [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01];
        let (udh, _) = Udh::parse(&bytes).unwrap();
        let c = udh.concat().unwrap();
        assert_eq!((c.reference, c.total, c.sequence), (0x1234, 2, 1));
        assert!(c.wide_reference);
        assert_eq!(
            Udh {
                elements: vec![c.to_element()]
            }
            .to_bytes(),
            bytes.to_vec()
        );
    }

    #[test]
    fn a_sequence_beyond_the_total_is_ignored() {
        let (udh, _) = Udh::parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]).unwrap();
        assert_eq!(udh.concat(), None);
        let (udh, _) = Udh::parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x00]).unwrap();
        assert_eq!(udh.concat(), None);
    }

    #[test]
    fn truncated_or_overlong_elements_are_errors() {
        assert!(Udh::parse(&[]).is_err());
        assert!(Udh::parse(&[0x05, 0x00, 0x03]).is_err());
        assert!(Udh::parse(&[0x03, 0x00, 0x03, 0x01]).is_err());
        assert!(Udh::parse(&[0x01, 0x00]).is_err());
        assert_eq!(Udh::parse(&[0x00]).unwrap().1, 1);
    }

    #[test]
    fn shift_elements_select_national_tables() {
        let shift = Shift {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Spanish),
        };
        let udh = Udh {
            elements: Udh::shift_elements(shift),
        };
        assert_eq!(
            udh.to_bytes(),
            vec![0x06, 0x25, 0x01, 0x01, 0x24, 0x01, 0x02]
        );
        assert_eq!(Udh::parse(&udh.to_bytes()).unwrap().0.shift(), shift);
    }

    #[test]
    fn ports_are_read_from_16_bit_element() {
        let (udh, _) = Udh::parse(&[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0]).unwrap();
        assert_eq!(udh.ports(), Some((2948, 9200)));
    }
}
