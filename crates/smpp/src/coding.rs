//! `data_coding` handling (SMPP 3.4 §5.2.19), kept behind this small module so it can switch
//! to the `smsgate-sms` codec once that crate offers what is needed here.
//!
//! Only what the SMPP layer itself needs: turning the text of simulator receipts and injected
//! mobile-originated messages into `short_message` octets, and back for display and receipt
//! parsing. GSM 03.38 is handled unpacked (one septet per octet), which is how SMPP carries the
//! default alphabet (3GPP TS 23.038 §6.2.1 table; SMPP 3.4 §5.2.19 `data_coding` 0).

use rusmpp::values::DataCoding;

/// GSM 03.38 default alphabet, indexed by septet (3GPP TS 23.038 §6.2.1).
const GSM_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', 'Δ', '_',
    'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', ' ', '!', '"', '#',
    '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', '0', '1', '2', '3', '4', '5', '6',
    '7', '8', '9', ':', ';', '<', '=', '>', '?', '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I',
    'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö',
    'Ñ', 'Ü', '§', '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// GSM 03.38 extension table (after the 0x1B escape; 3GPP TS 23.038 §6.2.1.1).
const GSM_EXT: [(u8, char); 10] = [
    (0x0A, '\u{c}'),
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

/// Encodes `text` in the GSM 03.38 default alphabet, one septet per octet; `None` if a character
/// is outside the alphabet and its extension table.
pub fn encode_gsm(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(pos) = GSM_BASIC.iter().position(|&g| g == c && c != '\u{1b}') {
            out.push(pos as u8);
        } else if let Some((code, _)) = GSM_EXT.iter().find(|(_, g)| *g == c) {
            out.extend_from_slice(&[0x1B, *code]);
        } else {
            return None;
        }
    }
    Some(out)
}

/// Decodes unpacked GSM 03.38 septets; unknown escapes decode as a space.
pub fn decode_gsm(octets: &[u8]) -> String {
    let mut out = String::with_capacity(octets.len());
    let mut iter = octets.iter();
    while let Some(&b) = iter.next() {
        if b == 0x1B {
            let next = iter.next().copied().unwrap_or(0);
            out.push(
                GSM_EXT
                    .iter()
                    .find(|(c, _)| *c == next)
                    .map_or(' ', |(_, ch)| *ch),
            );
        } else {
            out.push(GSM_BASIC[(b & 0x7F) as usize]);
        }
    }
    out
}

/// Encodes `text` as UCS-2 big-endian (SMPP `data_coding` 8); characters outside the BMP are
/// written as UTF-16 surrogate pairs, as handsets do.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Decodes UCS-2/UTF-16 big-endian; a trailing odd octet and unpaired surrogates become U+FFFD.
pub fn decode_ucs2(octets: &[u8]) -> String {
    let units = octets
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

/// Chooses the coding for `text` as an SMSC would: GSM 03.38 when every character fits,
/// otherwise UCS-2. Returns the `data_coding` value and the `short_message` octets.
pub fn encode_text(text: &str) -> (DataCoding, Vec<u8>) {
    match encode_gsm(text) {
        Some(octets) => (DataCoding::McSpecific, octets),
        None => (DataCoding::Ucs2, encode_ucs2(text)),
    }
}

/// Decodes `short_message` octets according to `data_coding` (SMPP 3.4 §5.2.19): GSM 03.38
/// for 0 (the common SMSC default), IA5/ASCII for 1, Latin-1 for 3, UCS-2 for 8; other codings
/// are decoded as Latin-1 so that receipts stay readable.
pub fn decode_text(data_coding: DataCoding, octets: &[u8]) -> String {
    match data_coding {
        DataCoding::McSpecific => decode_gsm(octets),
        DataCoding::Ucs2 => decode_ucs2(octets),
        _ => octets.iter().map(|&b| b as char).collect(),
    }
}
