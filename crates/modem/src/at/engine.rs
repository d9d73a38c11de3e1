//! The AT-command engine: one command at a time over a byte stream, with unsolicited result
//! codes sorted out of the answers. No I/O and no clock: the owner passes bytes and `now` in.
//!
//! # Calling order (STYLE: `handle_*` in, `poll_*` out)
//! 1. [`Engine::submit`] queues a [`Command`]; commands run strictly one after the other
//!    (ITU-T V.250 §5.2: a modem answers one command line at a time).
//! 2. Write everything [`Engine::poll_transmit`] returns to the modem.
//! 3. Feed what the modem sends to [`Engine::handle_input`].
//! 4. At [`Engine::poll_timeout`], call [`Engine::handle_timeout`].
//! 5. Drain [`Engine::poll_event`]: completed commands and URCs, in the order they happened.
//!
//! After every `handle_*` or `submit`, do 2 and 5 again.
//!
//! # What it handles
//! - **Echo**, on or off: a line equal to the running command (or its PDU) is dropped, so the
//!   same engine works before and after `ATE0`.
//! - **Final result codes** `OK`, `ERROR`, `+CME ERROR`, `+CMS ERROR` (with their meanings, see
//!   [`super::errors`]).
//! - **The `> ` prompt** of `AT+CMGS` (3GPP TS 27.005 §3.5.1): the PDU and Ctrl-Z are written
//!   when it arrives; if it never does, ESC leaves text entry and the command times out at
//!   [`Stage::Prompt`] (nothing was sent).
//! - **URCs anywhere**, between commands or in the middle of one (even between the prompt and
//!   `+CMGS:`): `+CMTI`, `+CMT` and `+CDS` with their PDU line, `+CDSI`, `RING`, `+CREG`,
//!   `+CEREG`. A line with the running command's own prefix is its answer, so `+CREG: 0,1` to
//!   `AT+CREG?` is not mistaken for a registration URC.
//! - **Per-command timeouts**, and final codes that arrive with no command running (a late
//!   `OK` after a timeout) reported as [`Event::Stray`] instead of answering the next command.

use std::collections::VecDeque;
use std::time::Instant;

use super::command::{Command, CommandError, Response, Stage};
use super::framer::{CTRL_Z, ESC, Frame, Framer};
use super::line::{PduUrc, Unsolicited, Urc, parse_final, parse_unsolicited};

/// Identifies a submitted command in its [`Event::Completed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub u64);

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A command finished: its response (whatever the final code) or why there is none.
    Completed {
        /// The id [`Engine::submit`] returned.
        id: CommandId,
        /// The answer.
        result: Result<Response, CommandError>,
    },
    /// The modem said something on its own.
    Urc(Urc),
    /// A line that belongs to nothing: a final code with no command running (a late answer
    /// after a timeout) or a `+CMT`/`+CDS` header whose PDU line never came.
    Stray(String),
}

/// Engine limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Longest line kept; longer ones are discarded (a PDU line is at most ~360 characters).
    pub max_line: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { max_line: 4096 }
    }
}

/// Where the running command is.
#[derive(Debug)]
enum Phase {
    /// The line was written; waiting for information lines and a final code.
    Command,
    /// `AT+CMGS=<n>` was written; waiting for `> `.
    Prompt,
    /// The PDU was written after the prompt; waiting for `+CMGS:` and the final code.
    Pdu,
}

#[derive(Debug)]
struct Running {
    id: CommandId,
    command: Command,
    phase: Phase,
    deadline: Instant,
    lines: Vec<String>,
}

/// The engine; see the module documentation for the calling order.
#[derive(Debug)]
pub struct Engine {
    framer: Framer,
    queue: VecDeque<(CommandId, Command)>,
    running: Option<Running>,
    /// The header of a `+CMT:`/`+CDS:` whose PDU line comes next.
    pdu_urc: Option<(PduUrc, String)>,
    next_id: u64,
    transmit: Vec<u8>,
    events: VecDeque<Event>,
}

impl Engine {
    /// An idle engine.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            framer: Framer::new(config.max_line),
            queue: VecDeque::new(),
            running: None,
            pdu_urc: None,
            next_id: 0,
            transmit: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// Queues a command; it is written at once when no other command runs.
    pub fn submit(&mut self, command: Command, now: Instant) -> CommandId {
        let id = CommandId(self.next_id);
        self.next_id += 1;
        self.queue.push_back((id, command));
        self.start_next(now);
        id
    }

    /// Whether a command is running or queued.
    pub fn is_busy(&self) -> bool {
        self.running.is_some() || !self.queue.is_empty()
    }

    /// Over-long lines discarded so far (peer garbage).
    pub fn discarded_lines(&self) -> u64 {
        self.framer.discarded()
    }

    /// Takes bytes read from the modem.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        self.framer.push(bytes);
        loop {
            let prompt_expected = matches!(
                self.running,
                Some(Running {
                    phase: Phase::Prompt,
                    ..
                })
            );
            match self.framer.next(prompt_expected) {
                None => break,
                Some(Frame::Prompt) => self.on_prompt(now),
                Some(Frame::Line(line)) => self.on_line(line, now),
            }
        }
    }

    /// Fails the running command if its deadline passed, and starts the next one.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(r) = &self.running else { return };
        if now < r.deadline {
            return;
        }
        let stage = match r.phase {
            Phase::Command => Stage::Command,
            Phase::Prompt => {
                // Leave text entry so that the next command line is not taken as PDU.
                self.transmit.push(ESC);
                Stage::Prompt
            }
            Phase::Pdu => Stage::Pdu,
        };
        self.finish(Err(CommandError::Timeout { stage }), now);
    }

    /// Forgets everything in progress (the transport was closed and reopened): the running and
    /// queued commands complete with [`CommandError::Aborted`], buffered bytes are dropped.
    pub fn reset(&mut self) {
        self.framer.clear();
        self.pdu_urc = None;
        self.transmit.clear();
        if let Some(r) = self.running.take() {
            self.events.push_back(Event::Completed {
                id: r.id,
                result: Err(CommandError::Aborted),
            });
        }
        for (id, _) in self.queue.drain(..) {
            self.events.push_back(Event::Completed {
                id,
                result: Err(CommandError::Aborted),
            });
        }
    }

    /// Bytes to write to the modem, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.transmit.is_empty()).then(|| std::mem::take(&mut self.transmit))
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.running.as_ref().map(|r| r.deadline)
    }

    fn start_next(&mut self, now: Instant) {
        if self.running.is_some() {
            return;
        }
        let Some((id, command)) = self.queue.pop_front() else {
            return;
        };
        self.transmit.extend_from_slice(command.line.as_bytes());
        self.transmit.push(b'\r');
        let phase = if command.pdu.is_some() {
            Phase::Prompt
        } else {
            Phase::Command
        };
        self.running = Some(Running {
            id,
            deadline: now + command.timeout,
            command,
            phase,
            lines: Vec::new(),
        });
    }

    fn finish(&mut self, result: Result<Response, CommandError>, now: Instant) {
        if let Some(r) = self.running.take() {
            self.events.push_back(Event::Completed { id: r.id, result });
        }
        self.start_next(now);
    }

    fn on_prompt(&mut self, now: Instant) {
        let Some(r) = &mut self.running else { return };
        let pdu = r.command.pdu.clone().unwrap_or_default();
        self.transmit.extend_from_slice(pdu.as_bytes());
        self.transmit.push(CTRL_Z);
        r.phase = Phase::Pdu;
        r.deadline = now + r.command.pdu_timeout;
    }

    fn is_echo(&self, line: &str) -> bool {
        match &self.running {
            Some(r) => {
                line.eq_ignore_ascii_case(r.command.line.trim())
                    || r.command.pdu.as_deref() == Some(line)
                    || r.command.pdu.as_deref().is_some_and(|p| {
                        // Some modems echo the PDU after the prompt on the same line.
                        line.strip_prefix('>').map(str::trim) == Some(p)
                    })
            }
            // The echo of a command that timed out.
            None => line.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT")),
        }
    }

    fn on_line(&mut self, line: String, now: Instant) {
        if let Some((header, header_line)) = self.pdu_urc.take() {
            if is_hex(&line) {
                let urc = match header {
                    PduUrc::Cmt { length } => Urc::Cmt { length, pdu: line },
                    PduUrc::Cds { length } => Urc::Cds { length, pdu: line },
                };
                self.events.push_back(Event::Urc(urc));
                return;
            }
            self.events.push_back(Event::Stray(header_line));
        }
        if self.is_echo(&line) {
            return;
        }
        if let Some(result) = parse_final(&line) {
            match &mut self.running {
                Some(r) => {
                    let lines = std::mem::take(&mut r.lines);
                    self.finish(Ok(Response { lines, result }), now);
                }
                None => self.events.push_back(Event::Stray(line)),
            }
            return;
        }
        if let Some(r) = &mut self.running
            && let Some(p) = r.command.response_prefix()
            && line.len() > p.len()
            && line.is_char_boundary(p.len())
            && line[..p.len()].eq_ignore_ascii_case(p)
            && line[p.len()..].starts_with(':')
        {
            r.lines.push(line);
            return;
        }
        match parse_unsolicited(&line) {
            Some(Unsolicited::Header(h)) => self.pdu_urc = Some((h, line)),
            Some(Unsolicited::Urc(u)) => self.events.push_back(Event::Urc(u)),
            None => match &mut self.running {
                Some(r) => r.lines.push(line),
                None => self.events.push_back(Event::Urc(Urc::Other(line))),
            },
        }
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}
