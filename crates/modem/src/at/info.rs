//! Parsers for the information responses the gateway reads (3GPP TS 27.005 §3, TS 27.007 §5–8).
//! Pure functions over a [`Response`]; malformed answers are `None`, never a panic.

use super::command::Response;
use super::line::params;

/// `+CMGS: <mr>` (3GPP TS 27.005 §3.5.1): the TP-MR the modem gave the SMS-SUBMIT.
pub fn cmgs_reference(r: &Response) -> Option<u8> {
    let v = r.value("+CMGS")?;
    params(v).first()?.parse().ok()
}

/// A stored message as `AT+CMGR` or `AT+CMGL` show it in PDU mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPdu {
    /// Storage index (`AT+CMGL`; for `AT+CMGR` the index that was asked for).
    pub index: u32,
    /// `<stat>`: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    pub stat: u8,
    /// `<length>`: TPDU octets.
    pub length: usize,
    /// The PDU hex with the SMSC address.
    pub pdu: String,
}

/// `+CMGR: <stat>,[<alpha>],<length><CR><LF><pdu>` (3GPP TS 27.005 §3.4.3). `None` when the
/// slot is empty (some modems answer `OK` alone) or the answer is malformed.
pub fn cmgr(r: &Response, index: u32) -> Option<StoredPdu> {
    let pos = r.lines.iter().position(|l| l.starts_with("+CMGR:"))?;
    let ps = params(r.lines[pos]["+CMGR:".len()..].trim());
    let stat = ps.first()?.parse().ok()?;
    let length = ps.last()?.parse().ok()?;
    let pdu = r.lines.get(pos + 1)?.clone();
    Some(StoredPdu {
        index,
        stat,
        length,
        pdu,
    })
}

/// `+CMGL: <index>,<stat>,[<alpha>],<length><CR><LF><pdu>` repeated (3GPP TS 27.005
/// §3.4.2). Malformed entries are skipped.
pub fn cmgl(r: &Response) -> Vec<StoredPdu> {
    let mut out = Vec::new();
    let mut it = r.lines.iter().peekable();
    while let Some(line) = it.next() {
        let Some(rest) = line.strip_prefix("+CMGL:") else {
            continue;
        };
        let ps = params(rest.trim());
        let parsed = (|| {
            Some((
                ps.first()?.parse().ok()?,
                ps.get(1)?.parse().ok()?,
                ps.last()?.parse().ok()?,
            ))
        })();
        let Some((index, stat, length)) = parsed else {
            continue;
        };
        if it.peek().is_some_and(|l| !l.starts_with("+CMGL:")) {
            let pdu = it.next().cloned().unwrap_or_default();
            out.push(StoredPdu {
                index,
                stat,
                length,
                pdu,
            });
        }
    }
    out
}

/// Signal quality from `+CSQ: <rssi>,<ber>` (3GPP TS 27.007 §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Signal {
    /// `<rssi>` 0..=31, or 99 when unknown.
    pub rssi: u8,
    /// `<ber>` 0..=7, or 99 when unknown.
    pub ber: u8,
}

impl Signal {
    /// Received power in dBm (`-113 + 2·rssi`), `None` when unknown.
    pub fn dbm(&self) -> Option<i32> {
        (self.rssi <= 31).then(|| -113 + 2 * i32::from(self.rssi))
    }
}

/// `+CSQ: <rssi>,<ber>`.
pub fn csq(r: &Response) -> Option<Signal> {
    let ps = params(r.value("+CSQ")?);
    Some(Signal {
        rssi: ps.first()?.parse().ok()?,
        ber: ps.get(1)?.parse().ok()?,
    })
}

/// Network registration `<stat>` (3GPP TS 27.007 §7.2, §10.1.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered, home network.
    Home,
    /// 2: not registered, searching.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown.
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// 6/7 (SMS only, home/roaming) and later values that still allow SMS.
    SmsOnly,
}

impl Registration {
    /// From `<stat>`.
    pub fn from_stat(stat: u8) -> Self {
        match stat {
            0 => Self::NotRegistered,
            1 => Self::Home,
            2 => Self::Searching,
            3 => Self::Denied,
            5 => Self::Roaming,
            6 | 7 | 9 | 10 => Self::SmsOnly,
            _ => Self::Unknown,
        }
    }

    /// Whether SMS can be sent.
    pub fn is_registered(self) -> bool {
        matches!(self, Self::Home | Self::Roaming | Self::SmsOnly)
    }
}

/// The answer to `AT+CREG?` / `AT+CEREG?`: `+CREG: <n>,<stat>[,...]`.
pub fn registration(r: &Response, prefix: &str) -> Option<Registration> {
    let ps = params(r.value(prefix)?);
    Some(Registration::from_stat(ps.get(1)?.parse().ok()?))
}

/// `+CPIN: <code>` (3GPP TS 27.007 §8.3): `READY`, `SIM PIN`, `SIM PUK`, …
pub fn cpin(r: &Response) -> Option<&str> {
    r.value("+CPIN")
}

/// `+CSCA: <sca>,<tosca>` (3GPP TS 27.005 §3.3.1): the SMSC address, empty when unset.
pub fn csca(r: &Response) -> Option<String> {
    params(r.value("+CSCA")?).into_iter().next()
}

/// `+CPMS: <used1>,<total1>,...` (3GPP TS 27.005 §3.2.2): used and total slots of the
/// read/delete storage.
pub fn cpms(r: &Response) -> Option<(u32, u32)> {
    let ps = params(r.value("+CPMS")?);
    // The set form answers `<used1>,<total1>,...`; the read form `<mem1>,<used1>,<total1>,...`.
    let nums: Vec<u32> = ps.iter().filter_map(|p| p.parse().ok()).collect();
    Some((*nums.first()?, *nums.get(1)?))
}

/// `+CSMS: [<service>,]<mt>,<mo>,<bm>` (3GPP TS 27.005 §3.2.1); the read form starts with the
/// service, which says whether `+CMT`/`+CDS` must be acknowledged with `AT+CNMA` (1).
pub fn csms_service(r: &Response) -> Option<u8> {
    let ps = params(r.value("+CSMS")?);
    if ps.len() >= 4 {
        ps.first()?.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::line::Final;

    fn resp(lines: &[&str]) -> Response {
        Response {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            result: Final::Ok,
        }
    }

    #[test]
    fn information_responses_parse() {
        assert_eq!(cmgs_reference(&resp(&["+CMGS: 17"])), Some(17));
        assert_eq!(cmgs_reference(&resp(&["+CMGS: 300"])), None);
        assert_eq!(
            cmgr(&resp(&["+CMGR: 0,,24", "0791"]), 3),
            Some(StoredPdu {
                index: 3,
                stat: 0,
                length: 24,
                pdu: "0791".into()
            })
        );
        assert_eq!(cmgr(&resp(&[]), 3), None);
        let l = cmgl(&resp(&[
            "+CMGL: 1,0,,5",
            "00AA",
            "+CMGL: x",
            "+CMGL: 4,1,\"bob\",6",
            "00BB",
        ]));
        assert_eq!(l.len(), 2);
        assert_eq!((l[1].index, l[1].stat, l[1].length), (4, 1, 6));
        assert_eq!(
            csq(&resp(&["+CSQ: 21,99"])).and_then(|s| s.dbm()),
            Some(-71)
        );
        assert_eq!(
            registration(&resp(&["+CREG: 0,5"]), "+CREG"),
            Some(Registration::Roaming)
        );
        assert_eq!(cpin(&resp(&["+CPIN: SIM PIN"])), Some("SIM PIN"));
        assert_eq!(
            csca(&resp(&["+CSCA: \"+491710760000\",145"])).as_deref(),
            Some("+491710760000")
        );
        assert_eq!(cpms(&resp(&["+CPMS: 2,30,2,30,2,30"])), Some((2, 30)));
        assert_eq!(csms_service(&resp(&["+CSMS: 1,1,1,1"])), Some(1));
        assert_eq!(csms_service(&resp(&["+CSMS: 1,1,1"])), None);
    }
}
