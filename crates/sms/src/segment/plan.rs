//! Planning a split: which encoding and national tables, and where each part's text starts and
//! ends, before any octet is encoded.

use std::ops::Range;

use super::{Concat, MAX_PARTS, MAX_USER_DATA_OCTETS, SegmentOptions};
use crate::Encoding;
use crate::error::EncodeError;
use crate::national::{Shift, Table, Tables};

/// Units available per part: (single SMS, part of a concatenated message), given the national
/// language IE octets in the UDH.
pub(super) fn capacities(
    encoding: Encoding,
    shift_ie_octets: usize,
    concat: Concat,
) -> (usize, usize) {
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

pub(super) struct TextRange {
    pub(super) bytes: Range<usize>,
    pub(super) units: usize,
}

pub(super) struct Plan {
    pub(super) encoding: Encoding,
    pub(super) shift: Shift,
    pub(super) characters: usize,
    pub(super) units: usize,
    pub(super) ranges: Vec<TextRange>,
    pub(super) capacity_last: usize,
}

pub(super) fn check_max_parts(opts: &SegmentOptions) -> Result<(), EncodeError> {
    if opts.max_parts == 0 {
        return Err(EncodeError::InvalidOptions("max_parts must be at least 1"));
    }
    Ok(())
}

pub(super) fn plan(text: &str, opts: &SegmentOptions) -> Result<Plan, EncodeError> {
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
