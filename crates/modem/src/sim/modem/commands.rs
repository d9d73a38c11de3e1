//! The AT command set of [`SimModem`]: parsing one command line and answering it (27.007 general
//! and SIM commands, 27.005 SMS commands in PDU mode).

use std::time::Instant;

use smsgate_sms::tpdu::Address;

use super::{Fail, Reply, Sim, SimModem};

impl SimModem {
    pub(super) fn on_command(&mut self, text: &str, now: Instant) {
        let Some(body) = text
            .get(2..)
            .filter(|_| text[..2].eq_ignore_ascii_case("AT"))
        else {
            self.respond(now, &[], Err(Fail::Plain));
            return;
        };
        let upper = body.to_ascii_uppercase();
        let (name, arg) = match upper.find(['=', '?']) {
            Some(i) => (&upper[..i], &body[i..]),
            None => (upper.as_str(), ""),
        };
        let result = self.command(name, arg, now);
        match result {
            Reply::Done(lines, r) => self.respond(now, &lines, r),
            Reply::Prompt => self.emit(now + self.config.latency, b"\r\n> ".to_vec()),
        }
        // Storage freed, indications switched on, an acknowledgement came: hand over more.
        self.flush_network(now);
    }

    fn command(&mut self, name: &str, arg: &str, now: Instant) -> Reply {
        let set = arg.strip_prefix('=').unwrap_or("");
        let query = arg == "?";
        let ok = || Reply::Done(Vec::new(), Ok(()));
        let lines = |l: Vec<String>| Reply::Done(l, Ok(()));
        let fail = |f| Reply::Done(Vec::new(), Err(f));
        let n = |s: &str| s.trim().parse::<u32>().ok();
        match name {
            "" | "V1" | "&F0" => ok(),
            "Z" | "&F" => {
                self.echo = true;
                self.cmee = 0;
                ok()
            }
            "E0" => {
                self.echo = false;
                ok()
            }
            "E1" | "E" => {
                self.echo = true;
                ok()
            }
            "+CMEE" if query => lines(vec![format!("+CMEE: {}", self.cmee)]),
            "+CMEE" => match n(set) {
                Some(v @ 0..=2) => {
                    self.cmee = v as u8;
                    ok()
                }
                _ => fail(Fail::Cme(3)),
            },
            "+CPIN" if query => lines(vec![format!(
                "+CPIN: {}",
                match self.sim {
                    Sim::Ready => "READY",
                    Sim::PinRequired { .. } => "SIM PIN",
                    Sim::PukRequired => "SIM PUK",
                }
            )]),
            "+CPIN" => self.enter_pin(set.trim().trim_matches('"'), now),
            "+CGMI" => lines(vec![self.config.manufacturer.clone()]),
            "+CGMM" => lines(vec![self.config.model.clone()]),
            "+CGSN" => lines(vec![self.config.imei.clone()]),
            "+CIMI" => match self.sim_ready() {
                Ok(()) => lines(vec![self.config.imsi.clone()]),
                Err(f) => fail(f),
            },
            "+CMGF" if query => lines(vec![format!("+CMGF: {}", u8::from(!self.pdu_mode))]),
            "+CMGF" => match n(set) {
                Some(0) => {
                    self.pdu_mode = true;
                    ok()
                }
                Some(1) => {
                    self.pdu_mode = false;
                    ok()
                }
                _ => fail(Fail::Cms(302)),
            },
            "+CSMS" if query => lines(vec![format!("+CSMS: {},1,1,1", self.csms)]),
            "+CSMS" => match n(set) {
                Some(v @ 0..=1) => {
                    self.csms = v as u8;
                    lines(vec!["+CSMS: 1,1,1".into()])
                }
                _ => fail(Fail::Cms(303)),
            },
            "+CPMS" => {
                if let Err(f) = self.sms_ready() {
                    return fail(f);
                }
                let (used, total) = (self.storage.len(), self.config.storage_slots);
                if query {
                    lines(vec![format!(
                        "+CPMS: \"SM\",{used},{total},\"SM\",{used},{total},\"SM\",{used},{total}"
                    )])
                } else {
                    lines(vec![format!(
                        "+CPMS: {used},{total},{used},{total},{used},{total}"
                    )])
                }
            }
            "+CNMI" if query => lines(vec![format!("+CNMI: 2,{},0,{},0", self.mt, self.ds)]),
            "+CNMI" => {
                let ps: Vec<Option<u32>> = set.split(',').map(n).collect();
                let mt = ps.get(1).copied().flatten().unwrap_or(0);
                let ds = ps.get(3).copied().flatten().unwrap_or(0);
                if mt > 3 || ds > 2 {
                    return fail(Fail::Cms(303));
                }
                self.mt = mt as u8;
                self.ds = ds as u8;
                ok()
            }
            "+CSCA" if query => lines(vec![format!("+CSCA: \"{}\",145", self.config.smsc)]),
            "+CSCA" => {
                self.config.smsc = set.split(',').next().unwrap_or("").trim_matches('"').into();
                ok()
            }
            "+CSQ" => lines(vec![format!("+CSQ: {},99", self.config.rssi)]),
            "+CREG" | "+CEREG" | "+CGREG" if query => {
                lines(vec![format!("{name}: 0,{}", self.config.registration)])
            }
            "+CREG" | "+CEREG" | "+CGREG" => ok(),
            "+CMGS" => {
                if let Err(f) = self.sms_ready() {
                    return fail(f);
                }
                if !self.pdu_mode {
                    return fail(Fail::Cms(302));
                }
                match n(set) {
                    Some(len @ 7..=164) => {
                        self.text_entry = Some((len as usize, Vec::new()));
                        Reply::Prompt
                    }
                    _ => fail(Fail::Cms(304)),
                }
            }
            "+CMGR" => {
                if let Err(f) = self.sms_ready() {
                    return fail(f);
                }
                let Some(i) = n(set) else {
                    return fail(Fail::Cms(321));
                };
                self.stats.reads += 1;
                match self.storage.get_mut(&i) {
                    Some(s) => {
                        let stat = s.stat;
                        s.stat = 1;
                        let (len, hex) = self.pdu_hex(i);
                        lines(vec![format!("+CMGR: {stat},,{len}"), hex])
                    }
                    None => fail(Fail::Cms(321)),
                }
            }
            "+CMGL" => {
                if let Err(f) = self.sms_ready() {
                    return fail(f);
                }
                let want = n(set).unwrap_or(0);
                let idx: Vec<u32> = self
                    .storage
                    .iter()
                    .filter(|(_, s)| want == 4 || u32::from(s.stat) == want)
                    .map(|(i, _)| *i)
                    .collect();
                let mut out = Vec::new();
                for i in idx {
                    let stat = self.storage[&i].stat;
                    let (len, hex) = self.pdu_hex(i);
                    out.push(format!("+CMGL: {i},{stat},,{len}"));
                    out.push(hex);
                    if let Some(s) = self.storage.get_mut(&i) {
                        s.stat = s.stat.max(1);
                    }
                }
                lines(out)
            }
            "+CMGD" => {
                if let Err(f) = self.sms_ready() {
                    return fail(f);
                }
                let ps: Vec<Option<u32>> = set.split(',').map(n).collect();
                let flag = ps.get(1).copied().flatten().unwrap_or(0);
                self.stats.deletes += 1;
                match ps.first().copied().flatten() {
                    _ if flag == 4 => self.storage.clear(),
                    Some(i) if i >= 1 && (i as usize) <= self.config.storage_slots => {
                        self.storage.remove(&i);
                    }
                    _ => return fail(Fail::Cms(321)),
                }
                ok()
            }
            "+CNMA" => match self.awaiting_ack.take() {
                Some(_) => {
                    self.stats.acks += 1;
                    ok()
                }
                None => fail(Fail::Cms(340)),
            },
            _ => fail(Fail::Plain),
        }
    }

    fn enter_pin(&mut self, pin: &str, now: Instant) -> Reply {
        let _ = now;
        self.stats.pin_attempts += 1;
        match self.sim {
            Sim::Ready => Reply::Done(Vec::new(), Err(Fail::Cme(3))),
            Sim::PukRequired => Reply::Done(Vec::new(), Err(Fail::Cme(12))),
            Sim::PinRequired { attempts_left } => {
                if self.config.pin.as_deref() == Some(pin) {
                    self.sim = Sim::Ready;
                    Reply::Done(Vec::new(), Ok(()))
                } else {
                    self.sim = match attempts_left.saturating_sub(1) {
                        0 => Sim::PukRequired,
                        left => Sim::PinRequired {
                            attempts_left: left,
                        },
                    };
                    Reply::Done(Vec::new(), Err(Fail::Cme(16)))
                }
            }
        }
    }

    /// `<length>` and the hex PDU (with the SMSC address) of a stored message.
    fn pdu_hex(&self, index: u32) -> (usize, String) {
        let tpdu = &self.storage[&index].tpdu;
        self.with_smsc(tpdu)
    }

    pub(super) fn with_smsc(&self, tpdu: &[u8]) -> (usize, String) {
        let smsc = Address::parse(&self.config.smsc);
        let mut all = Address::encode_smsc(Some(&smsc)).unwrap_or_else(|_| vec![0]);
        all.extend_from_slice(tpdu);
        (tpdu.len(), smsgate_sms::hex::encode(&all))
    }
}
