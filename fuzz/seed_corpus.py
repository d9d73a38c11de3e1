# Seeds fuzz/corpus/<target>/ (git-ignored) from the test vectors and a few hand-built SMPP
# frames and receipts, so the fuzzers start from real PDUs. Run: `python3 fuzz/seed_corpus.py`
# (optionally with the repository root as argument). Idempotent: files are named by content hash.
import hashlib
import os
import re
import struct
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corp = os.path.join(root, "fuzz", "corpus")
def put(target, data):
    d = os.path.join(corp, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)
src = "".join(open(os.path.join(root, "crates/sms", p)).read() for p in
              ["tests/sms/vectors.rs", "tests/sms/interop.rs", "src/tpdu/deliver.rs", "src/tpdu/status.rs",
               "src/tpdu/submit.rs", "src/tpdu/address.rs", "src/udh.rs", "src/gsm7.rs"])
hexes = set(h for h in re.findall(r'"([0-9A-Fa-f]{8,})"', src) if len(h) % 2 == 0)
n = 0
for h in hexes:
    b = bytes.fromhex(h)
    put("sms_modem_pdu", b)
    # without the SMSC field: a bare TPDU
    if b and 1 + b[0] < len(b):
        put("sms_tpdu", b[1 + b[0]:])
    put("sms_tpdu", b)
    # user data: ctl (encoding/udhi), udl, octets
    for ctl in (0, 1, 2, 4, 5, 6, 8, 12):
        put("sms_user_data", bytes([ctl, min(len(b) * 8 // 7, 255)]) + b[-40:])
    n += 1
put("sms_user_data", bytes([4, 0x0A, 0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]) + b"\xc2\x00\x00\x00")
# reassembly: 6-octet ops
for total in (2, 3, 4):
    ops = b""
    for seq in range(total, 0, -1):
        ops += bytes([0x00 | 0x10, 1, total, seq, 0x41, 1]) + bytes([0x08, 1, total, seq, 0x42, 0])
    ops += bytes([0x80, 0, 0, 0, 0, 200])
    put("sms_reassembly", ops)
# SMPP frames (SMPP 3.4 §4): header command_length, command_id, status, sequence.
def pdu(cmd, seq, body=b"", status=0):
    return struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body
cstr = lambda s: s.encode() + b"\0"
bind = cstr("fuzz") + cstr("pw") + cstr("") + bytes([0x34, 1, 1]) + cstr("")
submit = (cstr("") + bytes([1, 1]) + cstr("4915112345678") + bytes([5, 0]) + cstr("Info") +
          bytes([0, 0, 0]) + cstr("") + cstr("") + bytes([1, 0, 0, 0, 11]) + b"hello world")
submit_tlv = submit + struct.pack(">HHH", 0x020C, 2, 7) + struct.pack(">HHB", 0x020E, 1, 2) + struct.pack(">HHB", 0x020F, 1, 1)
receipt = b"id:0123456789 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:hello"
deliver = (cstr("") + bytes([1, 1]) + cstr("4915112345678") + bytes([0, 0]) + cstr("Info") +
           bytes([4, 0, 0]) + cstr("") + cstr("") + bytes([0, 0, 0, 0, len(receipt)]) + receipt)
frames = [pdu(0x00000009, 1, bind), pdu(0x80000009, 1, cstr("smsc")), pdu(0x00000004, 2, submit),
          pdu(0x00000004, 3, submit_tlv), pdu(0x80000004, 2, cstr("abc123")), pdu(0x00000015, 4),
          pdu(0x80000015, 4), pdu(0x00000005, 5, deliver), pdu(0x80000005, 5, cstr("")),
          pdu(0x00000006, 6), pdu(0x80000006, 6), pdu(0x80000000, 7, status=3),
          pdu(0x00000002, 8, bind), pdu(0x00000001, 9, bind), pdu(0x00000103, 10, submit[:-12] + b"\0" + struct.pack(">HH", 0x0424, 5) + b"hello")]
for f in frames:
    put("smpp_pdu", f); put("smpp_session", f)
put("smpp_pdu", b"".join(frames)); put("smpp_session", b"".join(frames))
put("smpp_session", pdu(0x80000009, 1, cstr("smsc")) + pdu(0x00000005, 2, deliver) + pdu(0x00000015, 3))
for r in [receipt, b"id:ABCDEF sub:1 dlvrd:0 submit date:2401011200 done date:2401011201 stat:UNDELIV err:001",
          b"id:42 stat:EXPIRED", b"id:0x1F sub:001 dlvrd:001 submit date:240101120000 done date:240101120100 stat:DELIVRD err:000 Text:"]:
    put("smpp_receipt", r)
# the server's submit decoder: [kind (0 submit_sm, 1 data_sm)] + body
data_sm = submit[:-12] + b"\0" + struct.pack(">HH", 0x0424, 5) + b"hello"
udh_submit = (cstr("") + bytes([1, 1]) + cstr("4915112345678") + bytes([1, 1]) + cstr("4915100000001") +
              bytes([0x40, 0, 0]) + cstr("") + cstr("000001000000000R") + bytes([1, 0, 0, 8, 14]) +
              bytes([5, 0, 3, 0x2A, 2, 1]) + "Grüß".encode("utf-16-be"))
for b in [bytes([0]) + submit, bytes([0]) + submit_tlv, bytes([1]) + data_sm, bytes([0]) + udh_submit]:
    put("smpp_server_submit", b)
# the connector's inbox: records [flags (bit 0 data_sm, bit 1 packed, >>2 seconds)][len][body]
def mo(seq, total, text, ref=0x2A):
    ud = bytes([5, 0, 3, ref, total, seq]) + text.encode()
    return (cstr("") + bytes([1, 1]) + cstr("4915112345678") + bytes([0, 0]) + cstr("1234") +
            bytes([0x40, 0, 0]) + cstr("") + cstr("") + bytes([0, 0, 0, 0, len(ud)]) + ud)
def rec(flags, body):
    return bytes([flags, len(body)]) + body
put("smpp_inbox", rec(0, deliver))
put("smpp_inbox", rec(0, mo(2, 2, "world")) + rec(4, mo(1, 2, "hello ")))
put("smpp_inbox", rec(0, mo(1, 3, "a")) + rec(40, mo(1, 3, "a")) + rec(0, mo(3, 3, "c")))
put("smpp_inbox", rec(1, data_sm[:-9] + bytes([0]) + struct.pack(">HH", 0x0424, 5) + b"hello"))
print("hex vectors", n)
for t in sorted(os.listdir(corp)):
    print(t, len(os.listdir(os.path.join(corp, t))))
