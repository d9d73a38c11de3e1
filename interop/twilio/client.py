"""The official `twilio` Python package (PyPI) against smsgate's Twilio-compatible API, as an
application written for Twilio would use it, with only the base URL changed. Also receives the
StatusCallbacks and checks them with the package's own RequestValidator.

Usage: client.py BASE_URL ACCOUNT_SID API_KEY TO
Prints one line per check: `OK <what> <json>`, or `FAIL <what> <detail>` and exits 1."""
import hashlib
import http.server
import json
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

base, account, key, to = sys.argv[1:5]
# The auth token that signs callbacks: the SHA-256 hex of the API key (see the README).
validator = RequestValidator(hashlib.sha256(key.encode()).hexdigest())
callbacks = []


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        params = dict(urllib.parse.parse_qsl(body))
        url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        ok = validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
        callbacks.append((ok, params))
        self.send_response(204 if ok else 403)
        self.end_headers()

    def log_message(self, *a):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
callback = f"http://127.0.0.1:{server.server_port}/status?app=1"


def ok(what, value):
    print(f"OK {what} {json.dumps(value)}", flush=True)


def fail(what, detail):
    print(f"FAIL {what} {detail}", flush=True)
    sys.exit(1)


client = Client(account, key)
client.api.base_url = base  # the one change an application makes

m = client.messages.create(to=to, from_="+4930555000", body="Twilio SDK hello",
                           status_callback=callback)
if not (m.sid.startswith("SM") and m.status == "queued" and m.num_segments == "1"):
    fail("create", f"{m.sid} {m.status} {m.num_segments}")
ok("create", {"sid": m.sid, "status": m.status, "account_sid": m.account_sid})

deadline = time.time() + 20
while time.time() < deadline:
    f = client.messages(m.sid).fetch()
    if f.status == "delivered":
        break
    time.sleep(0.2)
else:
    fail("fetch", f"still {f.status}")
ok("fetch", {"sid": f.sid, "status": f.status, "date_created": str(f.date_created)})

while time.time() < deadline and not any(p.get("MessageStatus") == "delivered" for _, p in callbacks):
    time.sleep(0.1)
statuses = [p.get("MessageStatus") for _, p in callbacks]
if "delivered" not in statuses:
    fail("callbacks", statuses)
if not all(valid for valid, _ in callbacks):
    fail("callbacks", "a signature did not validate")
if not all(p.get("MessageSid") == m.sid and p.get("AccountSid") == account for _, p in callbacks):
    fail("callbacks", callbacks)
ok("callbacks", statuses)

for i in range(3):
    client.messages.create(to=to, from_="+4930555000", body=f"page {i}")
listed = client.messages.list(to=to, page_size=2, limit=10)
if len(listed) != 4 or listed[0].body != "page 2":
    fail("list", [x.body for x in listed])
ok("list", [x.body for x in listed])

later = datetime.now(timezone.utc) + timedelta(hours=2)
s = client.messages.create(to=to, from_="+4930555000", body="later", send_at=later,
                           schedule_type="fixed", messaging_service_sid="MG" + "1" * 32)
if s.status != "scheduled":
    fail("schedule", s.status)
c = client.messages(s.sid).update(status="canceled")
if c.status != "canceled":
    fail("cancel", c.status)
ok("cancel", {"sid": c.sid, "status": c.status})

# A Messaging Service instead of a From: a sender of its pool, the same one per recipient.
pooled = [client.messages.create(to=to, messaging_service_sid="MG" + "1" * 32, body=f"pool {i}")
          for i in range(2)]
if not (pooled[0].from_ in ("+4930555001", "+4930555002")
        and pooled[0].from_ == pooled[1].from_
        and pooled[0].messaging_service_sid == "MG" + "1" * 32):
    fail("service", [(p.from_, p.messaging_service_sid) for p in pooled])
ok("service", {"from": pooled[0].from_})

# Redaction, then deletion of the delivered first message.
r = client.messages(m.sid).update(body="")
if r.body != "":
    fail("redact", r.body)
if not client.messages(m.sid).delete():
    fail("delete", "not deleted")
try:
    client.messages(m.sid).fetch()
    fail("delete", "still there")
except TwilioRestException as e:
    if e.status != 404:
        fail("delete", f"{e.status} {e.code}")
ok("delete", {"sid": m.sid})

try:
    client.messages.create(to="12ab", from_="+4930555000", body="x")
    fail("invalid_to", "accepted")
except TwilioRestException as e:
    if e.code != 21211 or e.status != 400:
        fail("invalid_to", f"{e.status} {e.code} {e.msg}")
    ok("invalid_to", {"status": e.status, "code": e.code})

try:
    client.messages("SM" + "0" * 32).fetch()
    fail("not_found", "found")
except TwilioRestException as e:
    if e.code != 20404 or e.status != 404:
        fail("not_found", f"{e.status} {e.code}")
    ok("not_found", {"status": e.status, "code": e.code})

try:
    wrong = Client(account, "sk_wrong")
    wrong.api.base_url = base
    wrong.messages.create(to=to, from_="+4930555000", body="x")
    fail("auth", "accepted")
except TwilioRestException as e:
    if e.status != 401 or e.code != 20003:
        fail("auth", f"{e.status} {e.code}")
    ok("auth", {"status": e.status, "code": e.code})
print("DONE", flush=True)
