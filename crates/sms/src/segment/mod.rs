//! Choosing an encoding, splitting text into parts that each fit one SMS, and the estimate the API
//! returns with every accepted message.
//!
//! Limits (3GPP TS 23.040 §9.2.3.24, TP-UD is 140 octets): a single SMS holds 160 GSM septets,
//! 70 UTF-16 units or 140 octets; a part of a concatenated message loses 6 octets to the UDH
//! (7 with a 16-bit reference), leaving 153 / 67 / 134 (152 / 66 / 133). National language shift
//! IEs (3 octets each) shrink both further. An escape pair (3GPP TS 23.038 §6.2.1.1) or a
//! surrogate pair is never split across parts.

use crate::error::EncodeError;
use crate::national::{NationalLanguage, Shift};
mod plan;

use crate::udh::{ConcatInfo, InformationElement, Udh};
use crate::{Encoding, charsets, gsm7};
use plan::{TextRange, capacities, check_max_parts, plan};

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
    segment_binary_with(data, &[], opts)
}

/// [`segment_binary`] with the sender's own information elements (application port
/// addressing, WAP, OTA, …: 3GPP TS 23.040 §9.2.3.24) in every part's UDH, before the
/// concatenation IE the split adds; their octets are taken from each part's 140.
pub fn segment_binary_with(
    data: &[u8],
    elements: &[crate::udh::InformationElement],
    opts: &SegmentOptions,
) -> Result<Segmented, EncodeError> {
    check_max_parts(opts)?;
    let own: usize = elements.iter().map(|e| 2 + e.data.len()).sum();
    // Room must stay for the concatenation IE and at least one octet of data.
    if 1 + own + 6 >= MAX_USER_DATA_OCTETS {
        return Err(EncodeError::TooLong {
            field: "user data header",
            len: 1 + own,
            max: MAX_USER_DATA_OCTETS - 7,
        });
    }
    let (single, multi) = capacities(Encoding::Binary8, own, opts.concat);
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
            let mut ies: Vec<crate::udh::InformationElement> = elements.to_vec();
            if let Some(c) = concat.filter(|_| matches!(opts.concat, Concat::Udh8 | Concat::Udh16))
            {
                ies.push(c.to_element());
            }
            let udh = (!ies.is_empty()).then(|| Udh { elements: ies }.to_bytes());
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

#[cfg(test)]
mod tests;
