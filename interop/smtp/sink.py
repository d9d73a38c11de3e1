"""A local SMTP sink (PyPI aiosmtpd) standing in for the operator's relay in smsgate's
email-to-SMS tests: prints `PORT <n>`, then one `MAIL <json>` line per mail received
(envelope, the headers a reply is checked by, and the plain-text body)."""
import asyncio
import email
import email.policy
import json
import socket
import sys

from aiosmtpd.controller import Controller


class Printer:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        print("MAIL " + json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "in_reply_to": str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None,
            "references": str(msg["References"]) if msg["References"] else None,
            "body": body.get_content() if body else "",
        }), flush=True)
        return "250 OK"


def main():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    controller = Controller(Printer(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"PORT {port}", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin or kills us
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
