//! One response line, classified: final result codes (3GPP TS 27.007 §5.7.1 / V.250 §5.7.2,
//! `+CME ERROR` §9.2, `+CMS ERROR` TS 27.005 §3.2.5) and unsolicited result codes (TS 27.005
//! §3.4.1 `+CMTI`/`+CMT`/`+CDS`/`+CDSI`, TS 27.007 §7.2 `+CREG`, §10.1.22 `+CEREG`, §6.2 `RING`).
//!
//! Pure functions over `&str`; the engine decides, from the command in progress, whether a line
//! that looks like a URC is really the information response it asked for.

use super::errors::{CmeError, CmsError};

/// A final result code: the command is over (V.250 §5.7.2, 3GPP TS 27.007 §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK`.
    Ok,
    /// `ERROR` (or a vendor's plain failure such as `COMMAND NOT SUPPORT`).
    Error,
    /// `+CME ERROR: <err>` (3GPP TS 27.007 §9.2).
    Cme(CmeError),
    /// `+CMS ERROR: <err>` (3GPP TS 27.005 §3.2.5).
    Cms(CmsError),
    /// `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE` (V.250 §5.7.2): call results, only
    /// final while a command runs.
    Call(String),
}

/// Reads a final result code, if `line` is one. Only verbose codes (`ATV1`, every modem's
/// default) are read: the numeric `0`/`4` of `ATV0` are indistinguishable from information
/// lines such as a `+CGSN` serial number.
pub fn parse_final(line: &str) -> Option<Final> {
    match line {
        "OK" => return Some(Final::Ok),
        "ERROR" | "COMMAND NOT SUPPORT" | "TOO MANY PARAMETERS" => return Some(Final::Error),
        "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE" => {
            return Some(Final::Call(line.to_owned()));
        }
        _ => {}
    }
    if let Some(rest) = line.strip_prefix("+CME ERROR:") {
        return Some(Final::Cme(CmeError::parse(rest)));
    }
    if let Some(rest) = line.strip_prefix("+CMS ERROR:") {
        return Some(Final::Cms(CmsError::parse(rest)));
    }
    None
}

/// An unsolicited result code: something the modem says on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: <mem>,<index>`: an SMS-DELIVER was stored (3GPP TS 27.005 §3.4.1, `<mt>`=1).
    Cmti {
        /// Storage (`"SM"`, `"ME"`, `"MT"`), without quotes.
        mem: String,
        /// Location in that storage.
        index: u32,
    },
    /// `+CMT: [<alpha>],<length><CR><LF><pdu>`: an SMS-DELIVER routed directly to us (TS 27.005
    /// §3.4.1, `<mt>`=2); must be acknowledged with `AT+CNMA` when `+CSMS` service is 1.
    Cmt {
        /// TPDU octets (`<length>`), without the SMSC address.
        length: usize,
        /// The `<pdu>` hex with the SMSC address.
        pdu: String,
    },
    /// `+CDS: <length><CR><LF><pdu>`: an SMS-STATUS-REPORT routed directly (TS 27.005 §3.4.1,
    /// `<ds>`=1); acknowledged like `+CMT`.
    Cds {
        /// TPDU octets.
        length: usize,
        /// The `<pdu>` hex with the SMSC address.
        pdu: String,
    },
    /// `+CDSI: <mem>,<index>`: an SMS-STATUS-REPORT was stored (TS 27.005 §3.4.1, `<ds>`=2).
    Cdsi {
        /// Storage, without quotes.
        mem: String,
        /// Location.
        index: u32,
    },
    /// `RING` / `+CRING: <type>` (3GPP TS 27.007 §6.11): an incoming call; we do not answer.
    Ring,
    /// `+CREG: <stat>[,...]` (3GPP TS 27.007 §7.2), `+CGREG` (§10.1.20) or `+CEREG` (§10.1.22):
    /// network registration changed.
    Registration {
        /// `CREG`, `CGREG` or `CEREG`.
        kind: &'static str,
        /// `<stat>`: 1 home, 5 roaming (6/7: SMS only), others not registered.
        stat: u8,
    },
    /// Any other line the modem volunteered (vendor URCs like `^RSSI`, `RDY`, a late `OK`).
    Other(String),
}

/// The first line of a two-line URC: the header whose PDU follows on the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PduUrc {
    /// `+CMT:`.
    Cmt {
        /// `<length>`.
        length: usize,
    },
    /// `+CDS:`.
    Cds {
        /// `<length>`.
        length: usize,
    },
}

/// What a non-final line is, before the engine's context is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsolicited {
    /// A complete one-line URC.
    Urc(Urc),
    /// The header of `+CMT` / `+CDS`; the PDU line comes next.
    Header(PduUrc),
}

/// The `+XXX` (or `^XXX`) token before `:` of a line, e.g. `+CMTI`.
pub fn prefix(line: &str) -> Option<&str> {
    let first = line.as_bytes().first()?;
    if *first != b'+' && *first != b'^' {
        return None;
    }
    let end = line.find(':')?;
    Some(&line[..end])
}

/// Splits a parameter list at commas outside double quotes and removes the quotes.
pub fn params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

/// Reads `line` as a URC if it has a URC's prefix (without the engine's context).
pub fn parse_unsolicited(line: &str) -> Option<Unsolicited> {
    if line == "RING" || line.starts_with("+CRING:") {
        return Some(Unsolicited::Urc(Urc::Ring));
    }
    let p = prefix(line)?;
    let rest = line[p.len() + 1..].trim();
    let ps = params(rest);
    let num = |i: usize| ps.get(i).and_then(|s| s.parse::<u32>().ok());
    let urc = match p {
        "+CMTI" => Urc::Cmti {
            mem: ps.first()?.clone(),
            index: num(1)?,
        },
        "+CDSI" => Urc::Cdsi {
            mem: ps.first()?.clone(),
            index: num(1)?,
        },
        "+CMT" => {
            let length = ps.last()?.parse().ok()?;
            return Some(Unsolicited::Header(PduUrc::Cmt { length }));
        }
        "+CDS" => {
            let length = ps.first()?.parse().ok()?;
            return Some(Unsolicited::Header(PduUrc::Cds { length }));
        }
        "+CREG" | "+CGREG" | "+CEREG" => {
            let kind = match p {
                "+CREG" => "CREG",
                "+CGREG" => "CGREG",
                _ => "CEREG",
            };
            // The URC is `<stat>[,<lac>,<ci>...]`; the read response `<n>,<stat>[,...]`. As a
            // URC, the first field is the status.
            Urc::Registration {
                kind,
                stat: u8::try_from(num(0)?).ok()?,
            }
        }
        _ if p.starts_with('^') => Urc::Other(line.to_owned()),
        _ => return None,
    };
    Some(Unsolicited::Urc(urc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_codes_are_recognised() {
        assert_eq!(parse_final("OK"), Some(Final::Ok));
        assert_eq!(parse_final("ERROR"), Some(Final::Error));
        assert!(matches!(
            parse_final("+CMS ERROR: 500"),
            Some(Final::Cms(CmsError {
                code: Some(500),
                ..
            }))
        ));
        assert!(matches!(
            parse_final("+CME ERROR: SIM PIN required"),
            Some(Final::Cme(CmeError { code: None, .. }))
        ));
        assert_eq!(parse_final("+CMGS: 12"), None);
    }

    #[test]
    fn cmti_is_not_mistaken_for_cmt() {
        assert_eq!(
            parse_unsolicited("+CMTI: \"SM\",3"),
            Some(Unsolicited::Urc(Urc::Cmti {
                mem: "SM".into(),
                index: 3
            }))
        );
        assert_eq!(
            parse_unsolicited("+CMT: ,24"),
            Some(Unsolicited::Header(PduUrc::Cmt { length: 24 }))
        );
        assert_eq!(
            parse_unsolicited("+CMT: \"a,b\",24"),
            Some(Unsolicited::Header(PduUrc::Cmt { length: 24 }))
        );
        assert_eq!(
            parse_unsolicited("+CDS: 25"),
            Some(Unsolicited::Header(PduUrc::Cds { length: 25 }))
        );
        assert_eq!(parse_unsolicited("+CMGS: 4"), None);
        assert_eq!(parse_unsolicited("+CMTI: garbage"), None);
    }

    #[test]
    fn params_respect_quotes() {
        assert_eq!(params("\"SM\",1,\"a,b\""), vec!["SM", "1", "a,b"]);
    }
}
