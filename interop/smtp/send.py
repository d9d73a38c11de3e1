"""Sends one mail with Python's smtplib, as a monitoring system would, and prints the
outcome as one line for smsgate's email-to-SMS tests:
  OK <code> <reply>          the mail was accepted (refused recipients listed as REFUSED lines first)
  REFUSED <rcpt> <code> <m>  one recipient refused in the transaction
  FAIL <exception> <code> <message>
Usage: send.py HOST PORT --from A --to B [--to C] [--subject S] [--body T | --html H]
               [--starttls --cafile F] [--ssl --cafile F] [--user U --password P] [--message-id ID] [--date D]"""
import argparse
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--subject", default="")
    p.add_argument("--body", default="")
    p.add_argument("--html")
    p.add_argument("--charset", default="utf-8")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--ssl", action="store_true")
    p.add_argument("--cafile")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--message-id")
    p.add_argument("--date", help="the Date header (default: now); a resend keeps the first's")
    a = p.parse_args()

    msg = EmailMessage()
    msg["From"] = a.sender
    msg["To"] = ", ".join(a.to)
    msg["Subject"] = a.subject
    msg["Date"] = a.date or formatdate()
    if a.message_id:
        msg["Message-ID"] = a.message_id
    msg.set_content(a.body, charset=a.charset)
    if a.html:
        msg.add_alternative(a.html, subtype="html")

    ctx = ssl.create_default_context(cafile=a.cafile) if a.cafile else None
    try:
        if a.ssl:
            s = smtplib.SMTP_SSL(a.host, a.port, context=ctx, timeout=20)
        else:
            s = smtplib.SMTP(a.host, a.port, timeout=20)
        with s:
            s.ehlo("monitoring.example")
            if a.starttls:
                s.starttls(context=ctx)
                s.ehlo("monitoring.example")
            if a.user:
                s.login(a.user, a.password)
            refused = s.send_message(msg, from_addr=a.sender, to_addrs=a.to)
            for rcpt, (code, text) in refused.items():
                print(f"REFUSED {rcpt} {code} {text.decode(errors='replace')}", flush=True)
            # send_message does not return the final reply: ask the socket's last answer.
            print(f"OK {LAST[0]} {LAST[1]}", flush=True)
    except smtplib.SMTPRecipientsRefused as e:
        for rcpt, (code, text) in e.recipients.items():
            print(f"REFUSED {rcpt} {code} {text.decode(errors='replace')}", flush=True)
        print("FAIL SMTPRecipientsRefused 0 all recipients refused", flush=True)
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
        print(f"FAIL {type(e).__name__} {e.smtp_code} {text}", flush=True)
    except smtplib.SMTPException as e:
        print(f"FAIL {type(e).__name__} 0 {e}", flush=True)


LAST = [0, ""]
_orig_data = smtplib.SMTP.data


def _data(self, msg):
    code, text = _orig_data(self, msg)
    LAST[0], LAST[1] = code, text.decode(errors="replace")
    return code, text


smtplib.SMTP.data = _data

if __name__ == "__main__":
    main()
