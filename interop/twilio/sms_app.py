"""A Twilio SMS app as people write them with the official `twilio` package: it checks
X-Twilio-Signature with RequestValidator and answers with TwiML built by MessagingResponse.
Prints `PORT <n>`, then `INBOUND <json>` per request (with `valid` telling whether the
signature checked out).

Usage: sms_app.py AUTH_TOKEN"""
import http.server
import json
import sys
import urllib.parse

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

validator = RequestValidator(sys.argv[1])


class App(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = dict(urllib.parse.parse_qsl(body))
        url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        valid = validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
        print("INBOUND " + json.dumps({"valid": valid, **params}), flush=True)
        if not valid:
            self.send_response(403)
            self.end_headers()
            return
        resp = MessagingResponse()
        resp.message(f"Got '{params.get('Body', '')}' & thanks")
        out = str(resp).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
print(f"PORT {server.server_port}", flush=True)
server.serve_forever()
