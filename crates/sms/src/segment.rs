//! Choosing an encoding, splitting text into parts that each fit one SMS, and the estimate the API
//! returns with every accepted message.
//!
//! Limits (3GPP TS 23.040 §9.2.3.24, TP-UD is 140 octets): a single SMS holds 160 GSM septets,
//! 70 UTF-16 units or 140 octets; a part of a concatenated message loses 6 octets to the UDH
//! (7 with a 16-bit reference), leaving 153 / 67 / 134 (152 / 66 / 133). National language shift
//! IEs (3 octets each) shrink both further. An escape pair (3GPP TS 23.038 §6.2.1.1) or a
//! surrogate pair is never split across parts.

use std::ops::Range;

use crate::error::EncodeError;
use crate::national::{NationalLanguage, Shift, Table, Tables};
use crate::udh::{ConcatInfo, InformationElement, Udh};
use crate::{Encoding, charsets, gsm7};

/// TP-UD capacity in octets (3GPP TS 23.040 §9.2.3.24).
pub const MAX_USER_DATA_OCTETS: usize = 140;
/// The most parts a concatenated message can have: the counters are one octet
/// (3GPP TS 23.040 §9.2.3.24.1).
pub const MAX_PARTS: usize = 255;

/// How the parts of a long message are tied together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Concat {
    /// A UDH with IEI 0x00, 8-bit reference (3GPP TS 23.040 §9.2.3.24.1): 153/67/134 per part.
    #[default]
    Udh8,
    /// A UDH with IEI 0x08, 16-bit reference (3GPP TS 23.040 §9.2.3.24.8): 152/66/133 per part.
    Udh16,
    /// SMPP `sar_msg_ref_num`/`sar_total_segments`/`sar_segment_seqnum` TLVs (SMPP 3.4
    /// §5.3.2.22–24): parts carry no concatenation UDH but are sized as with [`Concat::Udh8`],
    /// since the SMSC adds one on the air interface.
    Sar,
    /// One SMPP `message_payload` TLV (SMPP 3.4 §5.3.2.32) with the whole text; the SMSC
    /// segments. [`Segmented::segments`] still counts the parts the handset will receive.
    MessagePayload,
}

/// Options for [`segment`]; a connector builds them from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentOptions {
    /// A forced encoding; `None` chooses GSM 7-bit when every character fits, else UCS-2.
    pub encoding: Option<Encoding>,
    /// How parts are tied together. Default: 8-bit UDH reference.
    pub concat: Concat,
    /// The most parts the connector accepts (1..=255). Default: 255.
    pub max_parts: usize,
    /// The concatenation reference of this message; the connector keeps the counter. Only the low
    /// 8 bits are used with [`Concat::Udh8`]. Default: 0.
    pub reference: u16,
    /// National language shift tables the connector enables (3GPP TS 23.038 Annex A); tried only
    /// when the default alphabet does not fit the text. Default: none.
    pub national_languages: Vec<NationalLanguage>,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            encoding: None,
            concat: Concat::Udh8,
            max_parts: MAX_PARTS,
            reference: 0,
            national_languages: Vec::new(),
        }
    }
}

/// SMPP SAR TLV values for one part (SMPP 3.4 §5.3.2.22–24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sar {
    /// `sar_msg_ref_num`.
    pub msg_ref_num: u16,
    /// `sar_total_segments`.
    pub total_segments: u8,
    /// `sar_segment_seqnum` (1-based).
    pub segment_seqnum: u8,
}

/// One SMS worth of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1-based position.
    pub sequence: u8,
    /// The encoding of `payload`.
    pub encoding: Encoding,
    /// The UDH octets, UDHL first (concatenation and/or national language IEs), or `None`.
    /// When present, set TP-UDHI (SMS-SUBMIT) or `esm_class` bit 6 (SMPP 3.4 §5.2.12).
    pub udh: Option<Vec<u8>>,
    /// The body: unpacked septets (one per octet) for GSM 7-bit, else octets. See
    /// [`Part::packed_payload`] and [`Part::tp_user_data`] for the packed forms.
    pub payload: Vec<u8>,
    /// Septets (GSM 7-bit), UTF-16 units (UCS-2) or octets of `payload`.
    pub units: usize,
    /// The concatenation counters of this part (also set for [`Concat::Sar`]); `None` for a
    /// single SMS or a `message_payload`.
    pub concat: Option<ConcatInfo>,
    /// The SAR TLV values, only with [`Concat::Sar`].
    pub sar: Option<Sar>,
    /// The characters of this part.
    pub text: String,
}

impl Part {
    /// Whether a UDH is present (TP-UDHI, 3GPP TS 23.040 §9.2.3.23).
    pub fn udhi(&self) -> bool {
        self.udh.is_some()
    }

    /// The payload as it follows the UDH inside TP-UD: GSM septets packed after the fill bits
    /// that align them (3GPP TS 23.040 §9.2.3.24), other encodings unchanged.
    pub fn packed_payload(&self) -> Vec<u8> {
        match self.encoding {
            Encoding::Gsm7 => {
                let udh_len = self.udh.as_ref().map_or(0, Vec::len);
                gsm7::pack(&self.payload, gsm7::fill_bits(udh_len))
            }
            _ => self.payload.clone(),
        }
    }

    /// TP-UDL and TP-UD for an SMS-SUBMIT/DELIVER (3GPP TS 23.040 §9.2.3.16, §9.2.3.24): for
    /// GSM 7-bit the length counts septets, UDH and fill bits included; else octets.
    pub fn tp_user_data(&self) -> (u8, Vec<u8>) {
        let udh = self.udh.as_deref().unwrap_or(&[]);
        let mut ud = udh.to_vec();
        match self.encoding {
            Encoding::Gsm7 => {
                gsm7::pack_into(&self.payload, gsm7::fill_bits(udh.len()), &mut ud);
                let udl = gsm7::udh_septets(udh.len()) + self.payload.len();
                (udl as u8, ud)
            }
            _ => {
                ud.extend_from_slice(&self.payload);
                (ud.len() as u8, ud)
            }
        }
    }

    /// The SMPP `short_message` (or `message_payload`) octets: UDH, then the payload; GSM 7-bit
    /// unpacked (one septet per octet, the SMPP default) unless `packed`.
    pub fn smpp_short_message(&self, packed: bool) -> Vec<u8> {
        let mut out = self.udh.clone().unwrap_or_default();
        if packed && self.encoding == Encoding::Gsm7 {
            gsm7::pack_into(&self.payload, gsm7::fill_bits(out.len()), &mut out);
        } else {
            out.extend_from_slice(&self.payload);
        }
        out
    }
}

/// A message split into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmented {
    /// The encoding chosen or forced.
    pub encoding: Encoding,
    /// The GSM 7-bit tables used (default unless national languages were enabled and needed).
    pub shift: Shift,
    /// The concatenation method used.
    pub concat: Concat,
    /// The reference in the parts' concatenation info, when there is more than one part.
    pub reference: Option<u16>,
    /// The parts to send, in order (one for [`Concat::MessagePayload`]).
    pub parts: Vec<Part>,
    /// The SMS the handset receives (equal to `parts.len()` except for `MessagePayload`).
    pub segments: usize,
    /// Characters (Unicode scalar values) in the text.
    pub characters: usize,
}

/// What sending a text costs: the API returns it with every accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Estimate {
    /// The encoding that will be used.
    pub encoding: Encoding,
    /// The number of SMS (parts).
    pub segments: usize,
    /// Characters (Unicode scalar values) in the text.
    pub characters: usize,
    /// Units still free in the last part: septets (an extension character costs 2), UTF-16 units
    /// (an emoji costs 2) or octets.
    pub remaining_in_last_segment: usize,
    /// Units the whole text takes, in the same unit.
    pub units: usize,
}

/// Estimates parts and remaining room with default options (8-bit UDH concatenation, no national
/// languages, up to 255 parts) and an optional forced encoding.
///
/// 3GPP TS 23.040 §9.2.3.24 limits; errors name a character the forced encoding lacks.
pub fn estimate(text: &str, forced: Option<Encoding>) -> Result<Estimate, EncodeError> {
    estimate_with(
        text,
        &SegmentOptions {
            encoding: forced,
            ..SegmentOptions::default()
        },
    )
}

/// [`estimate`] with a connector's options.
pub fn estimate_with(text: &str, opts: &SegmentOptions) -> Result<Estimate, EncodeError> {
    let plan = plan(text, opts)?;
    let last = plan.ranges.last().map_or(0, |r| r.units);
    Ok(Estimate {
        encoding: plan.encoding,
        segments: plan.ranges.len(),
        characters: plan.characters,
        remaining_in_last_segment: plan.capacity_last.saturating_sub(last),
        units: plan.units,
    })
}

/// Splits a text into parts ready for a TPDU or an SMPP `submit_sm`.
///
/// Concatenation of the parts' `text` equals the input; each part's `units` is within the limit
/// for its UDH; an escape or surrogate pair is never split (3GPP TS 23.040 §9.2.3.24,
/// 3GPP TS 23.038 §6.2.1.1).
pub fn segment(text: &str, opts: &SegmentOptions) -> Result<Segmented, EncodeError> {
    let plan = plan(text, opts)?;
    let segments = plan.ranges.len();
    let base = Udh::shift_elements(plan.shift);
    let multi = segments > 1;
    let reference = match opts.concat {
        Concat::Udh8 => opts.reference & 0xFF,
        _ => opts.reference,
    };
    let mut parts = Vec::with_capacity(if opts.concat == Concat::MessagePayload {
        1
    } else {
        segments
    });
    let ranges: Vec<TextRange> = if opts.concat == Concat::MessagePayload {
        vec![TextRange {
            bytes: 0..text.len(),
            units: plan.units,
        }]
    } else {
        plan.ranges
    };
    for (i, r) in ranges.iter().enumerate() {
        let sequence = (i + 1) as u8;
        let chunk = &text[r.bytes.clone()];
        let concat = (multi && opts.concat != Concat::MessagePayload).then_some(ConcatInfo {
            reference,
            total: segments as u8,
            sequence,
            wide_reference: opts.concat != Concat::Udh8,
        });
        let mut elements: Vec<InformationElement> = Vec::new();
        if let Some(c) = concat
            && matches!(opts.concat, Concat::Udh8 | Concat::Udh16)
        {
            elements.push(c.to_element());
        }
        elements.extend(base.iter().cloned());
        let udh = (!elements.is_empty()).then(|| Udh { elements }.to_bytes());
        let payload = encode_chunk(chunk, plan.encoding, plan.shift)?;
        parts.push(Part {
            sequence,
            encoding: plan.encoding,
            udh,
            payload,
            units: r.units,
            concat,
            sar: concat.filter(|_| opts.concat == Concat::Sar).map(|c| Sar {
                msg_ref_num: c.reference,
                total_segments: c.total,
                segment_seqnum: c.sequence,
            }),
            text: chunk.to_owned(),
        });
    }
    Ok(Segmented {
        encoding: plan.encoding,
        shift: plan.shift,
        concat: opts.concat,
        reference: multi.then_some(reference),
        parts,
        segments,
        characters: plan.characters,
    })
}

/// Splits raw 8-bit data (3GPP TS 23.038 §4, alphabet 01) into parts of 140 octets, or 134/133
/// with a concatenation UDH. `opts.encoding` and `national_languages` are ignored.
pub fn segment_binary(data: &[u8], opts: &SegmentOptions) -> Result<Segmented, EncodeError> {
    check_max_parts(opts)?;
    let (single, multi) = capacities(Encoding::Binary8, 0, opts.concat);
    let chunks: Vec<&[u8]> = if data.len() <= single {
        vec![data]
    } else {
        data.chunks(multi).collect()
    };
    let segments = chunks.len();
    let max = opts.max_parts.min(MAX_PARTS);
    if segments > max {
        return Err(EncodeError::TooManyParts {
            needed: segments,
            max,
        });
    }
    let reference = match opts.concat {
        Concat::Udh8 => opts.reference & 0xFF,
        _ => opts.reference,
    };
    let multi_part = segments > 1;
    let chunks = if opts.concat == Concat::MessagePayload {
        vec![data]
    } else {
        chunks
    };
    let parts = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let concat =
                (multi_part && opts.concat != Concat::MessagePayload).then_some(ConcatInfo {
                    reference,
                    total: segments as u8,
                    sequence: (i + 1) as u8,
                    wide_reference: opts.concat != Concat::Udh8,
                });
            let udh = concat
                .filter(|_| matches!(opts.concat, Concat::Udh8 | Concat::Udh16))
                .map(|c| {
                    Udh {
                        elements: vec![c.to_element()],
                    }
                    .to_bytes()
                });
            Part {
                sequence: (i + 1) as u8,
                encoding: Encoding::Binary8,
                udh,
                payload: c.to_vec(),
                units: c.len(),
                concat,
                sar: concat.filter(|_| opts.concat == Concat::Sar).map(|c| Sar {
                    msg_ref_num: c.reference,
                    total_segments: c.total,
                    segment_seqnum: c.sequence,
                }),
                text: String::new(),
            }
        })
        .collect();
    Ok(Segmented {
        encoding: Encoding::Binary8,
        shift: Shift::DEFAULT,
        concat: opts.concat,
        reference: multi_part.then_some(reference),
        parts,
        segments,
        characters: 0,
    })
}

/// Encodes a text in one encoding without splitting: unpacked septets for GSM 7-bit, UTF-16BE
/// for UCS-2, ISO 8859-1, or the UTF-8 octets for binary.
pub fn encode_text(text: &str, encoding: Encoding, shift: Shift) -> Result<Vec<u8>, EncodeError> {
    encode_chunk(text, encoding, shift)
}

fn encode_chunk(chunk: &str, encoding: Encoding, shift: Shift) -> Result<Vec<u8>, EncodeError> {
    Ok(match encoding {
        Encoding::Gsm7 => gsm7::encode(chunk, shift)?,
        Encoding::Ucs2 => charsets::encode_ucs2(chunk),
        Encoding::Latin1 => charsets::encode_latin1(chunk)?,
        Encoding::Binary8 => chunk.as_bytes().to_vec(),
    })
}

/// Units available per part: (single SMS, part of a concatenated message), given the national
/// language IE octets in the UDH.
fn capacities(encoding: Encoding, shift_ie_octets: usize, concat: Concat) -> (usize, usize) {
    let concat_ie = match concat {
        Concat::Udh16 => 6,
        Concat::Udh8 | Concat::Sar | Concat::MessagePayload => 5,
    };
    let single_udh = if shift_ie_octets > 0 {
        1 + shift_ie_octets
    } else {
        0
    };
    let multi_udh = 1 + shift_ie_octets + concat_ie;
    let cap = |udh: usize| match encoding {
        Encoding::Gsm7 => (MAX_USER_DATA_OCTETS - udh) * 8 / 7,
        Encoding::Ucs2 => (MAX_USER_DATA_OCTETS - udh) / 2,
        Encoding::Binary8 | Encoding::Latin1 => MAX_USER_DATA_OCTETS - udh,
    };
    (cap(single_udh), cap(multi_udh))
}

struct TextRange {
    bytes: Range<usize>,
    units: usize,
}

struct Plan {
    encoding: Encoding,
    shift: Shift,
    characters: usize,
    units: usize,
    ranges: Vec<TextRange>,
    capacity_last: usize,
}

fn check_max_parts(opts: &SegmentOptions) -> Result<(), EncodeError> {
    if opts.max_parts == 0 {
        return Err(EncodeError::InvalidOptions("max_parts must be at least 1"));
    }
    Ok(())
}

fn plan(text: &str, opts: &SegmentOptions) -> Result<Plan, EncodeError> {
    check_max_parts(opts)?;
    let plan = match opts.encoding {
        Some(Encoding::Gsm7) => plan_gsm7(text, opts)?,
        None => match plan_gsm7(text, opts) {
            Ok(p) => p,
            Err(EncodeError::Unencodable { .. }) => {
                plan_for(text, Encoding::Ucs2, Shift::DEFAULT, opts.concat)?
            }
            Err(e) => return Err(e),
        },
        Some(e) => plan_for(text, e, Shift::DEFAULT, opts.concat)?,
    };
    let max = opts.max_parts.min(MAX_PARTS);
    if plan.ranges.len() > max {
        return Err(EncodeError::TooManyParts {
            needed: plan.ranges.len(),
            max,
        });
    }
    Ok(plan)
}

/// GSM 7-bit with the default tables, or the enabled national tables that give the fewest parts
/// (ties: fewest shift IEs) when the default alphabet lacks a character.
fn plan_gsm7(text: &str, opts: &SegmentOptions) -> Result<Plan, EncodeError> {
    let first = plan_for(text, Encoding::Gsm7, Shift::DEFAULT, opts.concat);
    let mut err = match first {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let mut best: Option<(usize, usize, Plan)> = None;
    for &lang in &opts.national_languages {
        let mut candidates = vec![Shift {
            locking: None,
            single: Some(lang),
        }];
        if lang.has_locking_shift() {
            candidates.push(Shift {
                locking: Some(lang),
                single: None,
            });
            candidates.push(Shift {
                locking: Some(lang),
                single: Some(lang),
            });
        }
        for shift in candidates {
            let ies = usize::from(shift.locking.is_some()) + usize::from(shift.single.is_some());
            match plan_for(text, Encoding::Gsm7, shift, opts.concat) {
                Ok(p) => {
                    let better = best
                        .as_ref()
                        .is_none_or(|(n, i, _)| (p.ranges.len(), ies) < (*n, *i));
                    if better {
                        best = Some((p.ranges.len(), ies, p));
                    }
                }
                Err(e) => {
                    // Report the character that got furthest: it fails every table tried.
                    if let (
                        EncodeError::Unencodable { index: a, .. },
                        EncodeError::Unencodable { index: b, .. },
                    ) = (&e, &err)
                        && a > b
                    {
                        err = e;
                    }
                }
            }
        }
    }
    best.map(|(_, _, p)| p).ok_or(err)
}

#[inline]
fn unit_len(c: char, encoding: Encoding, tables: (&Table, &Table)) -> Option<usize> {
    match encoding {
        Encoding::Gsm7 => {
            if tables.0.code(c).is_some() {
                Some(1)
            } else if tables.1.code(c).is_some() {
                Some(2)
            } else {
                None
            }
        }
        Encoding::Ucs2 => Some(c.len_utf16()),
        Encoding::Latin1 => ((c as u32) <= 0xFF).then_some(1),
        Encoding::Binary8 => Some(c.len_utf8()),
    }
}

fn plan_for(
    text: &str,
    encoding: Encoding,
    shift: Shift,
    concat: Concat,
) -> Result<Plan, EncodeError> {
    let tables = Tables::get().pair(shift);
    let ie_octets =
        3 * (usize::from(shift.locking.is_some()) + usize::from(shift.single.is_some()));
    let (single_cap, multi_cap) = capacities(encoding, ie_octets, concat);

    // First pass: total units, and the first unencodable character.
    let mut units = 0;
    let mut characters = 0;
    for (index, ch) in text.chars().enumerate() {
        match unit_len(ch, encoding, tables) {
            Some(n) => units += n,
            None => {
                return Err(EncodeError::Unencodable {
                    ch,
                    index,
                    encoding,
                });
            }
        }
        characters += 1;
    }
    if units <= single_cap {
        return Ok(Plan {
            encoding,
            shift,
            characters,
            units,
            ranges: vec![TextRange {
                bytes: 0..text.len(),
                units,
            }],
            capacity_last: single_cap,
        });
    }

    // Second pass: greedy split; a character's units (escape pair, surrogate pair) stay together.
    let mut ranges = Vec::with_capacity(units / multi_cap + 1);
    let mut start = 0;
    let mut cur = 0;
    for (pos, ch) in text.char_indices() {
        // Every character was encodable in the first pass.
        let n = unit_len(ch, encoding, tables).unwrap_or(1);
        if cur + n > multi_cap {
            ranges.push(TextRange {
                bytes: start..pos,
                units: cur,
            });
            start = pos;
            cur = 0;
        }
        cur += n;
    }
    ranges.push(TextRange {
        bytes: start..text.len(),
        units: cur,
    });
    Ok(Plan {
        encoding,
        shift,
        characters,
        units,
        ranges,
        capacity_last: multi_cap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(text: &str) -> Estimate {
        estimate(text, None).unwrap()
    }

    #[test]
    fn limits_are_160_153_70_67() {
        let e = est(&"a".repeat(160));
        assert_eq!(
            (e.encoding, e.segments, e.remaining_in_last_segment),
            (Encoding::Gsm7, 1, 0)
        );
        let e = est(&"a".repeat(161));
        assert_eq!(
            (e.segments, e.remaining_in_last_segment),
            (2, 153 * 2 - 161)
        );
        let e = est(&"ж".repeat(70));
        assert_eq!((e.encoding, e.segments), (Encoding::Ucs2, 1));
        let e = est(&"ж".repeat(71));
        assert_eq!((e.segments, e.remaining_in_last_segment), (2, 67 * 2 - 71));
        let e = estimate(&"a".repeat(141), Some(Encoding::Binary8)).unwrap();
        assert_eq!(
            (e.segments, e.remaining_in_last_segment),
            (2, 134 * 2 - 141)
        );
        let e = est("");
        assert_eq!(
            (e.segments, e.remaining_in_last_segment, e.characters),
            (1, 160, 0)
        );
    }

    #[test]
    fn extension_characters_count_twice() {
        let e = est(&"€".repeat(80));
        assert_eq!((e.segments, e.units, e.characters), (1, 160, 80));
        let e = est(&"€".repeat(81));
        assert_eq!(e.segments, 2);
    }

    #[test]
    fn an_escape_pair_is_never_split() {
        // 152 'a' then '€': the escape pair would straddle the 153-septet boundary.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let s = segment(&text, &SegmentOptions::default()).unwrap();
        assert_eq!(s.parts[0].units, 152);
        assert_eq!(s.parts[1].payload[0], 0x1B);
        let joined: String = s.parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn a_surrogate_pair_is_never_split() {
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        let s = segment(&text, &SegmentOptions::default()).unwrap();
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.parts[0].units, 66);
        assert_eq!(&s.parts[1].payload[..2], &[0xD8, 0x3D]);
    }

    #[test]
    fn concatenation_udh_carries_reference_total_and_sequence() {
        let opts = SegmentOptions {
            reference: 0x1234,
            ..SegmentOptions::default()
        };
        let s = segment(&"x".repeat(400), &opts).unwrap();
        assert_eq!(s.parts.len(), 3);
        assert_eq!(s.parts[1].udh.as_deref(), Some(&[5, 0, 3, 0x34, 3, 2][..]));
        let opts = SegmentOptions {
            reference: 0x1234,
            concat: Concat::Udh16,
            ..SegmentOptions::default()
        };
        let s = segment(&"x".repeat(400), &opts).unwrap();
        assert_eq!(s.parts[0].units, 152);
        assert_eq!(
            s.parts[2].udh.as_deref(),
            Some(&[6, 8, 4, 0x12, 0x34, 3, 3][..])
        );
    }

    #[test]
    fn sar_parts_have_no_udh_but_sar_values() {
        let opts = SegmentOptions {
            reference: 700,
            concat: Concat::Sar,
            ..SegmentOptions::default()
        };
        let s = segment(&"x".repeat(200), &opts).unwrap();
        assert_eq!(s.parts.len(), 2);
        assert!(s.parts[0].udh.is_none());
        assert_eq!(
            s.parts[1].sar,
            Some(Sar {
                msg_ref_num: 700,
                total_segments: 2,
                segment_seqnum: 2
            })
        );
        assert_eq!(s.parts[0].units, 153);
    }

    #[test]
    fn message_payload_is_one_part_that_counts_air_segments() {
        let opts = SegmentOptions {
            concat: Concat::MessagePayload,
            ..SegmentOptions::default()
        };
        let s = segment(&"x".repeat(400), &opts).unwrap();
        assert_eq!((s.parts.len(), s.segments), (1, 3));
        assert_eq!(s.parts[0].payload.len(), 400);
        assert!(s.parts[0].udh.is_none());
    }

    #[test]
    fn max_parts_is_enforced() {
        let opts = SegmentOptions {
            max_parts: 2,
            ..SegmentOptions::default()
        };
        assert_eq!(
            segment(&"x".repeat(400), &opts).unwrap_err(),
            EncodeError::TooManyParts { needed: 3, max: 2 }
        );
        assert!(segment(&"x".repeat(306), &opts).is_ok());
        let zero = SegmentOptions {
            max_parts: 0,
            ..SegmentOptions::default()
        };
        assert!(segment("x", &zero).is_err());
    }

    #[test]
    fn forced_gsm7_names_the_unencodable_character() {
        // ß is in the default alphabet; the emoji is not.
        let e = estimate("Gruß 😀", Some(Encoding::Gsm7)).unwrap_err();
        assert!(matches!(
            e,
            EncodeError::Unencodable {
                ch: '😀',
                index: 5,
                ..
            }
        ));
        assert!(estimate("€", Some(Encoding::Latin1)).is_err());
    }

    #[test]
    fn turkish_text_uses_national_tables_when_enabled() {
        let text = "Işık ğüzel şey";
        assert_eq!(est(text).encoding, Encoding::Ucs2);
        let opts = SegmentOptions {
            national_languages: vec![NationalLanguage::Turkish],
            ..SegmentOptions::default()
        };
        let s = segment(text, &opts).unwrap();
        assert_eq!(s.encoding, Encoding::Gsm7);
        assert!(s.shift.locking.is_some() || s.shift.single.is_some());
        let udh = s.parts[0].udh.as_ref().unwrap();
        let (parsed, _) = Udh::parse(udh).unwrap();
        assert_eq!(parsed.shift(), s.shift);
        assert_eq!(gsm7::decode(&s.parts[0].payload, s.shift).unwrap(), text);
        let e = estimate_with(text, &opts).unwrap();
        assert_eq!(e.encoding, Encoding::Gsm7);
    }

    #[test]
    fn packed_user_data_has_septet_length_with_udh() {
        let s = segment(&"a".repeat(200), &SegmentOptions::default()).unwrap();
        let (udl, ud) = s.parts[0].tp_user_data();
        assert_eq!(udl, 160);
        assert_eq!(ud.len(), 140);
        let (udl, _) = s.parts[1].tp_user_data();
        assert_eq!(udl as usize, 7 + 47);
    }

    #[test]
    fn binary_splits_at_134_octets() {
        let s = segment_binary(&[0xAB; 300], &SegmentOptions::default()).unwrap();
        assert_eq!(s.parts.len(), 3);
        assert_eq!(s.parts[0].payload.len(), 134);
        assert_eq!(s.parts[2].payload.len(), 32);
        let s = segment_binary(&[0xAB; 140], &SegmentOptions::default()).unwrap();
        assert_eq!(s.parts.len(), 1);
    }
}
