//! Splits the modem's byte stream into lines and the `> ` prompt (3GPP TS 27.005 §3.5.1,
//! ITU-T V.250 §5.7.1: responses are framed `<CR><LF>text<CR><LF>`).
//!
//! Both `CR` and `LF` end a line, so `<CR><LF>`, a lone `<CR>` (echoed command lines) and a lone
//! `LF` all work; empty lines are skipped. `NUL` and the Ctrl-Z that ends a PDU (echoed by some
//! modems) are dropped. A line longer than the limit is discarded and counted, so a peer that
//! never sends a line end cannot make us buffer without bound.

/// Ctrl-Z: ends the PDU of `AT+CMGS` (3GPP TS 27.005 §3.5.1).
pub const CTRL_Z: u8 = 0x1A;
/// ESC: cancels the PDU of `AT+CMGS` (3GPP TS 27.005 §3.5.1).
pub const ESC: u8 = 0x1B;

/// One unit of modem output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its terminator, trimmed of surrounding spaces.
    Line(String),
    /// The `> ` of `AT+CMGS`/`AT+CMGW`: the modem waits for the PDU.
    Prompt,
}

/// The line splitter; see the module documentation.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    max_line: usize,
    /// Bytes of the unterminated line at the end of `buf`.
    line_len: usize,
    /// Inside an over-long line: drop bytes until its end.
    skipping: bool,
    discarded: u64,
}

impl Framer {
    /// A framer that discards lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_line: max_line.max(16),
            line_len: 0,
            skipping: false,
            discarded: 0,
        }
    }

    /// Appends bytes read from the modem.
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == 0 || b == CTRL_Z {
                continue;
            }
            if b == b'\r' || b == b'\n' {
                self.line_len = 0;
                self.skipping = false;
                self.buf.push(b);
                continue;
            }
            if self.skipping {
                continue;
            }
            if self.line_len >= self.max_line {
                // An over-long line: drop its start and skip to its end.
                self.buf.truncate(self.buf.len() - self.line_len);
                self.line_len = 0;
                self.skipping = true;
                self.discarded += 1;
                continue;
            }
            self.line_len += 1;
            self.buf.push(b);
        }
    }

    /// Over-long lines discarded so far (peer garbage, for counters).
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Drops everything buffered (after the transport was reopened).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.line_len = 0;
        self.skipping = false;
    }

    /// The next frame. `prompt_expected` says whether a `>` at the start of the pending,
    /// unterminated text is the prompt (only while `AT+CMGS` waits for it).
    pub fn next(&mut self, prompt_expected: bool) -> Option<Frame> {
        loop {
            let start = self
                .buf
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(self.buf.len());
            self.buf.drain(..start);
            if self.buf.is_empty() {
                return None;
            }
            if prompt_expected && self.buf[0] == b'>' {
                let n = if self.buf.get(1) == Some(&b' ') { 2 } else { 1 };
                self.buf.drain(..n);
                self.line_len = self.line_len.saturating_sub(n);
                return Some(Frame::Prompt);
            }
            let end = self.buf.iter().position(|&b| b == b'\r' || b == b'\n')?;
            let raw: Vec<u8> = self.buf.drain(..end).collect();
            let line = String::from_utf8_lossy(&raw).trim().to_owned();
            if line.is_empty() {
                continue;
            }
            return Some(Frame::Line(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(f: &mut Framer, prompt: bool) -> Vec<Frame> {
        std::iter::from_fn(|| f.next(prompt)).collect()
    }

    #[test]
    fn lines_end_at_cr_or_lf_and_blank_lines_vanish() {
        let mut f = Framer::new(64);
        f.push(b"AT\r\r\nOK\r\n\r\n+CSQ: 1");
        assert_eq!(
            frames(&mut f, false),
            vec![Frame::Line("AT".into()), Frame::Line("OK".into())]
        );
        f.push(b"9,99\r\n");
        assert_eq!(
            frames(&mut f, false),
            vec![Frame::Line("+CSQ: 19,99".into())]
        );
    }

    #[test]
    fn the_prompt_is_only_a_prompt_when_expected() {
        let mut f = Framer::new(64);
        f.push(b"\r\n> ");
        assert_eq!(f.next(false), None);
        assert_eq!(f.next(true), Some(Frame::Prompt));
        f.push(b"0011\x1a\r\n");
        assert_eq!(f.next(false), Some(Frame::Line("0011".into())));
    }

    #[test]
    fn an_overlong_line_is_discarded_without_growing_the_buffer() {
        let mut f = Framer::new(16);
        f.push(b"RDY\r\n");
        f.push(&[b'A'; 1000]);
        assert!(f.buf.len() <= 16 + 5);
        f.push(b"\r\nOK\r\n");
        assert_eq!(
            frames(&mut f, false),
            vec![Frame::Line("RDY".into()), Frame::Line("OK".into())]
        );
        assert_eq!(f.discarded(), 1);
    }
}
