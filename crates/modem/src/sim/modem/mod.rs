//! The simulated modem itself, without I/O: bytes in, bytes out, time passed in.
//!
//! It behaves like the hardware the connector meets: echo until `ATE0`, `+CMEE` error formats, a
//! SIM PIN with a limited number of attempts, PDU mode, message storage with indices,
//! `+CNMI` indications (`+CMTI`/`+CMT`, `+CDSI`/`+CDS`), `+CNMA` acknowledgement, status
//! reports for sends that asked for one, response latency, `+CMS ERROR` injection and a hang
//! mode in which it reads everything and answers nothing.
//!
//! # Calling order
//! [`SimModem::handle_input`] with bytes from the terminal, [`SimModem::handle_timeout`] at
//! [`SimModem::poll_timeout`], then drain [`SimModem::poll_output`] (bytes due by `now`). The
//! control methods (`inject_mo`, `set_hang`, …) may be called at any time.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use smsgate_sms::tpdu::{Address, SmsDeliver, Timestamp};
use smsgate_sms::udh::ConcatInfo;
use smsgate_sms::{Dcs, SegmentOptions, segment};

use super::SimConfig;

mod commands;
mod network;

const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;

/// What the simulated network reports for a message whose sender asked for a status report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    /// TP-ST 0x00: delivered.
    Delivered,
    /// TP-ST 0x41 (incompatible destination): permanently undelivered.
    Undelivered,
    /// No status report at all.
    None,
}

/// One SMS-SUBMIT the simulated network accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPart {
    /// The TP-MR the modem gave it (`+CMGS: <mr>`).
    pub mr: u8,
    /// TP-DA, with `+` when international.
    pub to: String,
    /// The part's text.
    pub text: String,
    /// Its concatenation counters.
    pub concat: Option<ConcatInfo>,
    /// Whether TP-SRR asked for a status report.
    pub status_report_requested: bool,
}

/// Counters and records for tests and the CLI's `status` command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every accepted SMS-SUBMIT, in order.
    pub sent: Vec<SentPart>,
    /// Messages (and status reports) in storage now.
    pub stored: usize,
    /// Messages waiting in the "network" for storage space or for the PIN.
    pub waiting: usize,
    /// `AT+CMGR` commands answered.
    pub reads: u32,
    /// `AT+CMGD` commands answered.
    pub deletes: u32,
    /// `AT+CNMA` acknowledgements received.
    pub acks: u32,
    /// Status reports handed to the terminal.
    pub reports: u32,
    /// `AT+CPIN=` attempts made (right or wrong).
    pub pin_attempts: u32,
    /// Whether the SIM now wants its PUK (the PIN was wrong too often).
    pub puk_required: bool,
    /// Command lines received.
    pub commands: u64,
    /// Whether the modem is hanging now.
    pub hanging: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sim {
    Ready,
    PinRequired { attempts_left: u8 },
    PukRequired,
}

#[derive(Debug, Clone)]
struct Stored {
    /// `<stat>`: 0 unread, 1 read.
    stat: u8,
    /// TPDU octets.
    tpdu: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hang {
    No,
    Until(Instant),
    Forever,
}

#[derive(Debug)]
enum Timer {
    Report(Vec<u8>),
    CnmaTimeout(u64),
}

/// The simulated modem; see the module documentation.
#[derive(Debug)]
pub struct SimModem {
    config: SimConfig,
    created: Instant,
    unix_at_creation: i64,
    echo: bool,
    cmee: u8,
    pdu_mode: bool,
    sim: Sim,
    csms: u8,
    /// `+CNMI` `<mt>` and `<ds>`.
    mt: u8,
    ds: u8,
    storage: BTreeMap<u32, Stored>,
    /// SMS-DELIVER/STATUS-REPORT TPDUs the network still has to hand over.
    network: VecDeque<Vec<u8>>,
    /// A `+CMT`/`+CDS` waiting for `AT+CNMA` (only with `+CSMS` service 1): its TPDU and a tag.
    awaiting_ack: Option<(u64, Vec<u8>)>,
    next_ack_tag: u64,
    next_mr: u8,
    next_concat_ref: u16,
    line: Vec<u8>,
    /// In text entry after `AT+CMGS=<length>`: the length and the PDU so far.
    text_entry: Option<(usize, Vec<u8>)>,
    out: VecDeque<(Instant, Vec<u8>)>,
    timers: Vec<(Instant, Timer)>,
    hang: Hang,
    fail_next_send: Option<u16>,
    mo_during_next_send: Vec<(String, String)>,
    stats: SimStats,
}

impl SimModem {
    /// A powered-on modem; `unix_now` anchors the time stamps it writes into PDUs.
    pub fn new(config: SimConfig, now: Instant, unix_now: i64) -> Self {
        let sim = match &config.pin {
            Some(_) => Sim::PinRequired {
                attempts_left: config.pin_attempts.max(1),
            },
            None => Sim::Ready,
        };
        Self {
            next_mr: config.first_reference,
            config,
            created: now,
            unix_at_creation: unix_now,
            echo: true,
            cmee: 0,
            pdu_mode: false,
            sim,
            csms: 0,
            mt: 0,
            ds: 0,
            storage: BTreeMap::new(),
            network: VecDeque::new(),
            awaiting_ack: None,
            next_ack_tag: 0,
            next_concat_ref: 1,
            line: Vec::new(),
            text_entry: None,
            out: VecDeque::new(),
            timers: Vec::new(),
            hang: Hang::No,
            fail_next_send: None,
            mo_during_next_send: Vec::new(),
            stats: SimStats::default(),
        }
    }

    /// Counters and records.
    pub fn stats(&self) -> SimStats {
        let mut s = self.stats.clone();
        s.stored = self.storage.len();
        s.waiting = self.network.len();
        s.puk_required = self.sim == Sim::PukRequired;
        s.hanging = self.hang != Hang::No;
        s
    }

    /// Delay before each command's answer.
    pub fn set_latency(&mut self, latency: Duration) {
        self.config.latency = latency;
    }

    /// What status reports say from now on.
    pub fn set_report(&mut self, report: ReportOutcome) {
        self.config.report = report;
    }

    /// Stops answering (for `duration`, or until [`SimModem::unhang`] when `None`). Pending
    /// answers are lost, as they are when real firmware locks up.
    pub fn set_hang(&mut self, duration: Option<Duration>, now: Instant) {
        self.hang = match duration {
            Some(d) => Hang::Until(now + d),
            None => Hang::Forever,
        };
        self.out.clear();
        self.line.clear();
        self.text_entry = None;
    }

    /// Answers again.
    pub fn unhang(&mut self, now: Instant) {
        self.hang = Hang::No;
        self.flush_network(now);
    }

    /// Answers the next `AT+CMGS` with `+CMS ERROR: <code>` instead of sending.
    pub fn fail_next_send(&mut self, code: u16) {
        self.fail_next_send = Some(code);
    }

    /// Delivers an SMS from `from` with `text` while the next `AT+CMGS` is in progress, so
    /// its indication arrives between the prompt and `+CMGS:`.
    pub fn inject_mo_during_next_send(&mut self, from: &str, text: &str) {
        self.mo_during_next_send
            .push((from.to_owned(), text.to_owned()));
    }

    /// A phone texts the modem: the text is segmented like a handset would (concatenated
    /// parts for a long text) and each SMS-DELIVER is handed over per `+CNMI`. Returns the
    /// number of parts.
    pub fn inject_mo(
        &mut self,
        from: &str,
        text: &str,
        now: Instant,
    ) -> Result<usize, smsgate_sms::EncodeError> {
        let reference = self.next_concat_ref;
        self.next_concat_ref = self.next_concat_ref.wrapping_add(1);
        let m = segment(
            text,
            &SegmentOptions {
                reference,
                ..SegmentOptions::default()
            },
        )?;
        self.deliver_parts(from, &m, now)
    }

    /// A device sends 8-bit data with its own header elements (ports, …): split like a
    /// handset would, each SMS-DELIVER with TP-DCS 0x04.
    pub fn inject_mo_binary(
        &mut self,
        from: &str,
        payload: &[u8],
        elements: &[smsgate_sms::udh::InformationElement],
        now: Instant,
    ) -> Result<usize, smsgate_sms::EncodeError> {
        let reference = self.next_concat_ref;
        self.next_concat_ref = self.next_concat_ref.wrapping_add(1);
        let m = smsgate_sms::segment_binary_with(
            payload,
            elements,
            &SegmentOptions {
                reference,
                ..SegmentOptions::default()
            },
        )?;
        self.deliver_parts(from, &m, now)
    }

    /// Hands each part of a segmented message from `from` over as an SMS-DELIVER, as the
    /// network would.
    fn deliver_parts(
        &mut self,
        from: &str,
        m: &smsgate_sms::Segmented,
        now: Instant,
    ) -> Result<usize, smsgate_sms::EncodeError> {
        let timestamp = self.timestamp(now);
        for part in &m.parts {
            let d = SmsDeliver {
                more_messages_to_send: false,
                loop_prevention: false,
                status_report_indication: false,
                reply_path: false,
                originator: Address::parse(from),
                protocol_identifier: 0,
                dcs: Dcs::new(part.encoding, None)?,
                timestamp,
                user_data: smsgate_sms::UserData::from_part(part),
            };
            self.network.push_back(d.encode()?);
        }
        self.flush_network(now);
        Ok(m.parts.len())
    }

    /// Puts a raw SMS-DELIVER TPDU into storage as if received earlier (start-up sweep tests).
    pub fn preload(&mut self, tpdu: Vec<u8>) -> Option<u32> {
        self.store(tpdu)
    }

    /// Takes bytes written by the terminal.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        self.check_hang(now);
        if self.hang != Hang::No {
            return;
        }
        for &b in bytes {
            if let Some((_, pdu)) = &mut self.text_entry {
                match b {
                    CTRL_Z => {
                        let Some((len, pdu)) = self.text_entry.take() else {
                            continue;
                        };
                        if self.echo {
                            self.emit(now, vec![CTRL_Z]);
                        }
                        self.on_pdu(len, &pdu, now);
                    }
                    ESC => {
                        self.text_entry = None;
                        self.respond(now, &[], Ok(()));
                    }
                    b'\r' | b'\n' => {}
                    _ => {
                        pdu.push(b);
                        if self.echo {
                            self.emit(now, vec![b]);
                        }
                    }
                }
                continue;
            }
            match b {
                b'\r' => {
                    let line = std::mem::take(&mut self.line);
                    if self.echo {
                        let mut e = line.clone();
                        e.push(b'\r');
                        self.emit(now, e);
                    }
                    let text = String::from_utf8_lossy(&line).trim().to_owned();
                    if !text.is_empty() {
                        self.stats.commands += 1;
                        self.on_command(&text, now);
                    }
                }
                b'\n' => {}
                _ if self.line.len() < 1024 => self.line.push(b),
                _ => {}
            }
        }
    }

    /// Fires due status reports and acknowledgement timeouts, and ends a timed hang.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_hang(now);
        if self.hang != Hang::No {
            return;
        }
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.timers.len() {
            if self.timers[i].0 <= now {
                due.push(self.timers.remove(i).1);
            } else {
                i += 1;
            }
        }
        for t in due {
            match t {
                Timer::Report(tpdu) => {
                    self.network.push_back(tpdu);
                }
                Timer::CnmaTimeout(tag) => {
                    // Not acknowledged: the network keeps the message and tries again.
                    if let Some((t, tpdu)) = self.awaiting_ack.take() {
                        if t == tag {
                            self.network.push_front(tpdu);
                        } else {
                            self.awaiting_ack = Some((t, tpdu));
                        }
                    }
                }
            }
        }
        self.flush_network(now);
    }

    /// Bytes due by `now`, if any.
    pub fn poll_output(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        while self.out.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, b)) = self.out.pop_front() {
                bytes.extend(b);
            }
        }
        (!bytes.is_empty()).then_some(bytes)
    }

    /// When to call [`SimModem::handle_timeout`] or [`SimModem::poll_output`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hang_end = match self.hang {
            Hang::Until(t) => Some(t),
            _ => None,
        };
        self.out
            .front()
            .map(|(t, _)| *t)
            .into_iter()
            .chain(self.timers.iter().map(|(t, _)| *t))
            .chain(hang_end)
            .min()
    }

    fn check_hang(&mut self, now: Instant) {
        if let Hang::Until(t) = self.hang
            && now >= t
        {
            self.unhang(now);
        }
    }

    fn timestamp(&self, now: Instant) -> Timestamp {
        let secs = self.unix_at_creation + now.duration_since(self.created).as_secs() as i64;
        Timestamp::from_unix_seconds(secs, 0)
    }

    /// Queues bytes at `now` (URCs, echo), keeping the queue in time order.
    fn emit(&mut self, at: Instant, bytes: Vec<u8>) {
        let pos = self
            .out
            .iter()
            .position(|(t, _)| *t > at)
            .unwrap_or(self.out.len());
        self.out.insert(pos, (at, bytes));
    }

    /// Queues an unsolicited code after everything already queued (never before the answer
    /// of the command that caused it).
    fn urc(&mut self, now: Instant, text: String) {
        let at = self.out.back().map_or(now, |(t, _)| (*t).max(now));
        self.emit(at, text.into_bytes());
    }

    /// The answer to a command: information lines, then `OK` or the error, after the latency.
    fn respond(&mut self, now: Instant, lines: &[String], result: Result<(), Fail>) {
        let mut s = String::new();
        for l in lines {
            s.push_str(&format!("\r\n{l}\r\n"));
        }
        match result {
            Ok(()) => s.push_str("\r\nOK\r\n"),
            Err(f) => s.push_str(&format!("\r\n{}\r\n", self.error_line(f))),
        }
        let at = now + self.config.latency;
        self.emit(at, s.into_bytes());
    }

    fn error_line(&self, f: Fail) -> String {
        match (f, self.cmee) {
            (Fail::Plain, _) | (_, 0) => "ERROR".into(),
            (Fail::Cme(c), 1) => format!("+CME ERROR: {c}"),
            (Fail::Cms(c), 1) => format!("+CMS ERROR: {c}"),
            (Fail::Cme(c), _) => format!(
                "+CME ERROR: {}",
                crate::at::CmeError::parse(&c.to_string()).meaning()
            ),
            (Fail::Cms(c), _) => format!(
                "+CMS ERROR: {}",
                crate::at::CmsError::parse(&c.to_string()).meaning()
            ),
        }
    }

    fn sim_ready(&self) -> Result<(), Fail> {
        match self.sim {
            Sim::Ready => Ok(()),
            Sim::PinRequired { .. } => Err(Fail::Cme(11)),
            Sim::PukRequired => Err(Fail::Cme(12)),
        }
    }

    fn sms_ready(&self) -> Result<(), Fail> {
        match self.sim {
            Sim::Ready => Ok(()),
            Sim::PinRequired { .. } => Err(Fail::Cms(311)),
            Sim::PukRequired => Err(Fail::Cms(316)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Fail {
    Plain,
    Cme(u16),
    Cms(u16),
}

enum Reply {
    Done(Vec<String>, Result<(), Fail>),
    Prompt,
}
