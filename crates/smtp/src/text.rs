//! A mail becomes the text of an SMS: MIME and character sets decoded (`mail-parser`), HTML
//! turned into text, quoted replies and signatures cut, whitespace squeezed. Pure, so every
//! rule is tested on real-looking mails without a socket.

use mail_parser::MessageParser;

use crate::config::TextFrom;

/// What the listener keeps of a parsed mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailText {
    /// The SMS text (may be empty: the caller refuses that).
    pub text: String,
    /// `Message-ID` without angle brackets, when the mail has one.
    pub message_id: Option<String>,
    /// The subject, for the `Re:` of a reply.
    pub subject: Option<String>,
    /// The `Date:` header, RFC 3339: with the `Message-ID` it tells a repeat of this mail
    /// from a device that reuses one `Message-ID` for every mail.
    pub date: Option<String>,
}

/// Why a mail cannot be read at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the mail cannot be parsed as RFC 5322")]
pub struct Unreadable;

/// Reads `raw` (the DATA as received) into an SMS text taken from `from`.
pub fn extract(raw: &[u8], from: TextFrom) -> Result<MailText, Unreadable> {
    let mail = MessageParser::default().parse(raw).ok_or(Unreadable)?;
    let subject = mail.subject().map(squeeze).filter(|s| !s.is_empty());
    let body = || {
        mail.body_text(0)
            .map(|b| squeeze(&strip_replies(&b)))
            .unwrap_or_default()
    };
    let text = match from {
        TextFrom::Body => body(),
        TextFrom::Subject => subject.clone().unwrap_or_default(),
        TextFrom::Both => {
            let body = body();
            match (&subject, body.is_empty()) {
                (Some(s), true) => s.clone(),
                (Some(s), false) => format!("{s}\n{body}"),
                (None, _) => body,
            }
        }
    };
    Ok(MailText {
        text,
        message_id: mail
            .message_id()
            .map(|m| m.trim_matches(['<', '>']).to_owned()),
        subject,
        date: mail.date().map(|d| d.to_rfc3339()),
    })
}

/// Cuts what a person did not write for this SMS: everything from a signature separator
/// (`-- `), a mobile footer (`Sent from my …`) or a reply header (`On … wrote:`, Outlook's
/// `-----Original Message-----` or `From:` block) on, and every `>` quoted line.
pub fn strip_replies(body: &str) -> String {
    let mut out = Vec::new();
    let lines: Vec<&str> = body.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_end();
        let trimmed = t.trim_start();
        if t == "-- " || t == "--" || t == "__" {
            break;
        }
        if trimmed.starts_with("Sent from my ") || trimmed.starts_with("Von meinem ") {
            break;
        }
        if trimmed.starts_with("-----Original Message-----")
            || trimmed.starts_with("-----Ursprüngliche Nachricht-----")
        {
            break;
        }
        if is_reply_header(trimmed, lines.get(i + 1).map(|l| l.trim())) {
            break;
        }
        // An Outlook reply block: a rule of underscores, then From:.
        if trimmed.starts_with("________________")
            && lines
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with("From:"))
        {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        out.push(t);
    }
    out.join("\n")
}

/// `On Mon, 1 Jan 2026, Ann <a@b> wrote:` (also wrapped over two lines) and the German
/// `Am … schrieb …:`.
fn is_reply_header(line: &str, next: Option<&str>) -> bool {
    let starts = line.starts_with("On ") || line.starts_with("Am ");
    if !starts {
        return false;
    }
    let ends = |l: &str| l.ends_with("wrote:") || (l.contains("schrieb") && l.ends_with(':'));
    ends(line) || next.is_some_and(ends)
}

/// Trims each line, drops trailing blanks, and keeps at most one empty line in a row: in an
/// SMS every character counts.
pub fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        // Runs of spaces inside a line (HTML layouts) become one.
        let mut last_space = false;
        for c in line.chars() {
            let space = c == ' ' || c == '\t' || c == '\u{a0}';
            if space && last_space {
                continue;
            }
            out.push(if space { ' ' } else { c });
            last_space = space;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn plain_body_without_quotes_and_signature() {
        let raw = mail(
            "From: nvr@site.example\r\nTo: +4915112345678@sms.example.com\r\n\
             Subject: Motion\r\nMessage-ID: <abc@site.example>",
            "Motion   detected at gate 2\r\n\r\n\r\n\r\nCamera 4\r\n\
             > earlier text\r\n-- \r\nACME Security\r\n+49 30 1234\r\n",
        );
        let t = extract(&raw, TextFrom::Body).unwrap();
        assert_eq!(t.text, "Motion detected at gate 2\n\nCamera 4");
        assert_eq!(t.message_id.as_deref(), Some("abc@site.example"));
        assert_eq!(t.subject.as_deref(), Some("Motion"));
        assert_eq!(extract(&raw, TextFrom::Subject).unwrap().text, "Motion");
        assert_eq!(
            extract(&raw, TextFrom::Both).unwrap().text,
            "Motion\nMotion detected at gate 2\n\nCamera 4"
        );
    }

    #[test]
    fn replies_are_cut_at_their_header() {
        let body = "Yes, reset it.\r\n\r\nOn Mon, 7 Dec 2026 at 10:00, smsgate <sms@x> wrote:\r\n\
                    > Pump 3 pressure low\r\n";
        assert_eq!(
            extract(&mail("Subject: Re: x", body), TextFrom::Body)
                .unwrap()
                .text,
            "Yes, reset it."
        );
        let outlook = "OK\r\n\r\n-----Original Message-----\r\nFrom: a\r\n";
        assert_eq!(strip_replies(outlook).trim(), "OK");
        assert_eq!(strip_replies("ack\nSent from my iPhone").trim(), "ack");
    }

    #[test]
    fn html_and_charsets_are_decoded() {
        let raw = mail(
            "Subject: =?ISO-8859-1?Q?K=FChlraum?=\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/html; charset=ISO-8859-1\r\n\
             Content-Transfer-Encoding: quoted-printable",
            "<html><body><p>Temperatur im K=FChlraum: <b>9 =B0C</b></p></body></html>\r\n",
        );
        let t = extract(&raw, TextFrom::Both).unwrap();
        assert_eq!(t.subject.as_deref(), Some("Kühlraum"));
        assert!(
            t.text.contains("Temperatur im Kühlraum: 9 °C"),
            "{:?}",
            t.text
        );
        assert!(!t.text.contains('<'), "{:?}", t.text);
    }

    #[test]
    fn attachments_are_ignored() {
        let raw = mail(
            "Subject: snapshot\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"",
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIntruder at door\r\n\
             --b1\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; \
             filename=a.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n\
             --b1--\r\n",
        );
        assert_eq!(
            extract(&raw, TextFrom::Body).unwrap().text,
            "Intruder at door"
        );
    }
}
