//! The GSM 7-bit code tables: the default alphabet and its extension table (3GPP TS 23.038 §6.2.1,
//! §6.2.1.1) and the national language locking and single shift tables for Turkish, Spanish and
//! Portuguese (3GPP TS 23.038 Annex A.2.1–A.2.3, A.3.1–A.3.3).
//!
//! A *locking shift* table replaces the default alphabet for the whole message; a *single shift*
//! table replaces the extension table reached through the escape septet 0x1B. A message says which
//! it uses with the UDH information elements 0x25 (locking) and 0x24 (single)
//! (3GPP TS 23.040 §9.2.3.24.15, §9.2.3.24.16).

use std::sync::OnceLock;

/// A national language with shift tables in 3GPP TS 23.038 Annex A; only used when a connector
/// enables it, because many handsets do not implement them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum NationalLanguage {
    /// Turkish: single shift A.2.1, locking shift A.3.1.
    Turkish,
    /// Spanish: single shift A.2.2 (A.3.2 is void: no locking shift table).
    Spanish,
    /// Portuguese: single shift A.2.3, locking shift A.3.3.
    Portuguese,
}

impl NationalLanguage {
    /// All languages this crate has tables for.
    pub const ALL: [NationalLanguage; 3] = [
        NationalLanguage::Turkish,
        NationalLanguage::Spanish,
        NationalLanguage::Portuguese,
    ];

    /// The national language identifier carried in UDH IEs 0x24/0x25 (3GPP TS 23.038 §6.2.1.2.4).
    pub fn identifier(self) -> u8 {
        match self {
            NationalLanguage::Turkish => 1,
            NationalLanguage::Spanish => 2,
            NationalLanguage::Portuguese => 3,
        }
    }

    /// The language for an identifier, `None` for 0 (default) and for languages without tables
    /// here (Bengali … Urdu); text using those is read with the default tables.
    pub fn from_identifier(id: u8) -> Option<Self> {
        match id {
            1 => Some(NationalLanguage::Turkish),
            2 => Some(NationalLanguage::Spanish),
            3 => Some(NationalLanguage::Portuguese),
            _ => None,
        }
    }

    /// Whether 3GPP TS 23.038 Annex A.3 defines a locking shift table (Spanish: no, A.3.2 void).
    pub fn has_locking_shift(self) -> bool {
        !matches!(self, NationalLanguage::Spanish)
    }

    /// The lowercase name (`turkish`, `spanish`, `portuguese`) used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            NationalLanguage::Turkish => "turkish",
            NationalLanguage::Spanish => "spanish",
            NationalLanguage::Portuguese => "portuguese",
        }
    }
}

/// Which GSM 7-bit tables a message uses: the default alphabet and extension table when both are
/// `None` (3GPP TS 23.038 §6.2.1.2.4 "national language shift").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Shift {
    /// Locking shift table replacing the default alphabet (UDH IE 0x25).
    pub locking: Option<NationalLanguage>,
    /// Single shift table replacing the extension table (UDH IE 0x24).
    pub single: Option<NationalLanguage>,
}

impl Shift {
    /// The default alphabet with the default extension table.
    pub const DEFAULT: Shift = Shift {
        locking: None,
        single: None,
    };

    /// Whether both tables are the defaults (no UDH IE needed).
    pub fn is_default(&self) -> bool {
        self.locking.is_none() && self.single.is_none()
    }
}

/// One 128-entry code table with a reverse map.
pub(crate) struct Table {
    /// Code → character; `None` where the table has no character (and at 0x1B, the escape).
    pub(crate) fwd: [Option<char>; 128],
    /// Character → code for U+0000..U+00FF; 0xFF where absent.
    rev_lo: [u8; 256],
    /// Character → code above U+00FF, sorted by character.
    rev_hi: Vec<(char, u8)>,
}

impl Table {
    fn from_fwd(fwd: [Option<char>; 128]) -> Table {
        let mut rev_lo = [0xFFu8; 256];
        let mut rev_hi = Vec::new();
        // Iterate in reverse so that the lowest code wins if a table lists a character twice.
        for code in (0..128u8).rev() {
            if let Some(c) = fwd[code as usize] {
                if (c as u32) < 256 {
                    rev_lo[c as usize] = code;
                } else {
                    rev_hi.retain(|&(h, _)| h != c);
                    rev_hi.push((c, code));
                }
            }
        }
        rev_hi.sort_unstable();
        Table {
            fwd,
            rev_lo,
            rev_hi,
        }
    }

    fn locking(chars: &str) -> Table {
        let mut fwd = [None; 128];
        let mut n = 0;
        for (i, c) in chars.chars().enumerate() {
            // The escape code has no character of its own.
            fwd[i] = (i != 0x1B).then_some(c);
            n += 1;
        }
        debug_assert_eq!(n, 128, "a locking shift table has 128 codes");
        Table::from_fwd(fwd)
    }

    fn single(pairs: &[(u8, char)]) -> Table {
        let mut fwd = [None; 128];
        for &(code, c) in pairs {
            fwd[code as usize] = Some(c);
        }
        Table::from_fwd(fwd)
    }

    /// The code of a character in this table.
    #[inline]
    pub(crate) fn code(&self, c: char) -> Option<u8> {
        let u = c as u32;
        if u < 256 {
            let v = self.rev_lo[u as usize];
            (v != 0xFF).then_some(v)
        } else {
            self.rev_hi
                .binary_search_by_key(&c, |&(h, _)| h)
                .ok()
                .map(|i| self.rev_hi[i].1)
        }
    }
}

/// 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet, codes 0x00..0x7F in order.
const DEFAULT_ALPHABET: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// 3GPP TS 23.038 §6.2.1.1: the default alphabet extension table (after escape 0x1B).
const DEFAULT_EXTENSION: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// 3GPP TS 23.038 A.3.1: Turkish national language locking shift table.
const TURKISH_LOCKING: &str = "@£$¥€éùıòÇ\nĞğ\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ŞşßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
İABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§çabcdefghijklmnopqrstuvwxyzäöñüà";

/// 3GPP TS 23.038 A.2.1: Turkish national language single shift table (additions to §6.2.1.1).
const TURKISH_SINGLE: &[(u8, char)] = &[
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
];

/// 3GPP TS 23.038 A.2.2: Spanish national language single shift table (additions to §6.2.1.1).
const SPANISH_SINGLE: &[(u8, char)] = &[
    (0x09, 'ç'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// 3GPP TS 23.038 A.3.3: Portuguese national language locking shift table.
const PORTUGUESE_LOCKING: &str = "@£$¥êéúíóç\nÔô\rÁáΔ_ªÇÀ∞^\\€Ó|\u{1b}ÂâÊÉ !\"#º%&'()*+,-./0123456789:;<=>?\
ÍABCDEFGHIJKLMNOPQRSTUVWXYZÃÕÚÜ§~abcdefghijklmnopqrstuvwxyzãõ`üà";

/// 3GPP TS 23.038 A.2.3: Portuguese national language single shift table (complete: it moves
/// some default extension characters).
const PORTUGUESE_SINGLE: &[(u8, char)] = &[
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x14, '^'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
];

pub(crate) struct Tables {
    default_locking: Table,
    default_single: Table,
    turkish_locking: Table,
    turkish_single: Table,
    spanish_single: Table,
    portuguese_locking: Table,
    portuguese_single: Table,
}

impl Tables {
    pub(crate) fn get() -> &'static Tables {
        static TABLES: OnceLock<Tables> = OnceLock::new();
        TABLES.get_or_init(|| {
            let ext = |extra: &[(u8, char)]| {
                let mut all: Vec<(u8, char)> = DEFAULT_EXTENSION.to_vec();
                all.extend_from_slice(extra);
                Table::single(&all)
            };
            Tables {
                default_locking: Table::locking(DEFAULT_ALPHABET),
                default_single: Table::single(DEFAULT_EXTENSION),
                turkish_locking: Table::locking(TURKISH_LOCKING),
                turkish_single: ext(TURKISH_SINGLE),
                spanish_single: ext(SPANISH_SINGLE),
                portuguese_locking: Table::locking(PORTUGUESE_LOCKING),
                portuguese_single: Table::single(PORTUGUESE_SINGLE),
            }
        })
    }

    /// The (locking, single shift) pair for a shift selection.
    pub(crate) fn pair(&self, shift: Shift) -> (&Table, &Table) {
        let locking = match shift.locking {
            Some(NationalLanguage::Turkish) => &self.turkish_locking,
            Some(NationalLanguage::Portuguese) => &self.portuguese_locking,
            // A.3.2: Spanish has no locking shift table; the default alphabet applies.
            Some(NationalLanguage::Spanish) | None => &self.default_locking,
        };
        let single = match shift.single {
            Some(NationalLanguage::Turkish) => &self.turkish_single,
            Some(NationalLanguage::Spanish) => &self.spanish_single,
            Some(NationalLanguage::Portuguese) => &self.portuguese_single,
            None => &self.default_single,
        };
        (locking, single)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locking_table_has_128_codes_and_escape_at_0x1b() {
        for s in [DEFAULT_ALPHABET, TURKISH_LOCKING, PORTUGUESE_LOCKING] {
            assert_eq!(s.chars().count(), 128);
            assert_eq!(s.chars().nth(0x1B), Some('\u{1b}'));
            assert_eq!(s.chars().nth(0x20), Some(' '));
        }
    }

    #[test]
    fn default_alphabet_spot_checks_match_23_038_table() {
        let t = Tables::get();
        let (l, s) = t.pair(Shift::DEFAULT);
        assert_eq!(l.code('@'), Some(0x00));
        assert_eq!(l.code('Δ'), Some(0x10));
        assert_eq!(l.code('¡'), Some(0x40));
        assert_eq!(l.code('¿'), Some(0x60));
        assert_eq!(l.code('à'), Some(0x7F));
        assert_eq!(l.code('\u{1b}'), None);
        assert_eq!(s.code('€'), Some(0x65));
        assert_eq!(s.code('\u{0C}'), Some(0x0A));
        assert_eq!(l.fwd[0x24], Some('¤'));
    }

    #[test]
    fn national_tables_spot_checks() {
        let t = Tables::get();
        let tr = Shift {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        let (l, s) = t.pair(tr);
        assert_eq!(l.code('ı'), Some(0x07));
        assert_eq!(l.code('İ'), Some(0x40));
        assert_eq!(l.code('ç'), Some(0x60));
        assert_eq!(s.code('ş'), Some(0x73));
        assert_eq!(s.code('€'), Some(0x65));
        let pt = Shift {
            locking: Some(NationalLanguage::Portuguese),
            single: Some(NationalLanguage::Portuguese),
        };
        let (l, s) = t.pair(pt);
        assert_eq!(l.code('∞'), Some(0x15));
        assert_eq!(l.code('`'), Some(0x7D));
        assert_eq!(s.code('â'), Some(0x7F));
        let (_, s) = t.pair(Shift {
            locking: None,
            single: Some(NationalLanguage::Spanish),
        });
        assert_eq!(s.code('ú'), Some(0x75));
        assert_eq!(s.code('['), Some(0x3C));
    }
}
