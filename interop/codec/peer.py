#!/usr/bin/env python3
"""Independent SMS codec peer for crates/sms/tests/sms/interop.rs.

Reads a JSON array of requests on stdin, writes a JSON array of answers (same order) on stdout.
Uses two PyPI implementations of 3GPP TS 23.040 / 23.038 (see interop/requirements.txt):
  * smspdudecoder  (Qotto; maintained): SMS-DELIVER / SMS-SUBMIT decoding, GSM 7-bit and UCS-2 codecs
  * python-gsmmodem-new (gsmmodem.pdu): SMS-SUBMIT encoding, DELIVER/SUBMIT/STATUS-REPORT decoding
A missing library is a hard failure (exit 3), never a silent skip.
"""
import datetime
import json
import sys

try:
    from smspdudecoder.codecs import GSM, UCS2
    from smspdudecoder.easy import read_incoming_sms, read_outgoing_sms
    from gsmmodem.pdu import Concatenation, decodeSmsPdu, encodeSmsSubmitPdu
except Exception as exc:  # noqa: BLE001 - report any import problem loudly
    print(f"interop peer missing: {exc!r}; run: pip install -r interop/requirements.txt", file=sys.stderr)
    sys.exit(3)


def iso(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    return value


def json_default(value):
    if isinstance(value, (datetime.datetime, datetime.timedelta)):
        return iso(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex().upper()
    return repr(value)


def gsmmodem_decode(hex_pdu):
    d = decodeSmsPdu(hex_pdu)
    out = {k: iso(v) for k, v in d.items() if k != "udh"}
    udh = []
    for ie in d.get("udh", []):
        if isinstance(ie, Concatenation):
            udh.append({"iei": ie.id, "reference": ie.reference, "parts": ie.parts, "number": ie.number})
        else:
            udh.append({"iei": ie.id})
    out["udh"] = udh
    return out


def smspdudecoder_incoming(hex_pdu):
    d = read_incoming_sms(hex_pdu)
    return {k: iso(v) for k, v in d.items()}


def smspdudecoder_outgoing(hex_pdu):
    return read_outgoing_sms(hex_pdu)


def gsmmodem_encode_submit(req):
    validity = req.get("validity_minutes")
    pdus = encodeSmsSubmitPdu(
        req["number"],
        req["text"],
        reference=req.get("reference", 0),
        validity=datetime.timedelta(minutes=validity) if validity is not None else None,
        smsc=req.get("smsc"),
        requestStatusReport=req.get("status_report", False),
        rejectDuplicates=req.get("reject_duplicates", False),
        sendFlash=req.get("flash", False),
    )
    return [{"hex": str(p), "tpdu_len": p.tpduLength} for p in pdus]


def answer(req):
    op = req["op"]
    if op == "gsm_encode":
        return GSM.encode(req["text"])
    if op == "gsm_decode":
        return GSM.decode(req["hex"])
    if op == "ucs2_encode":
        return UCS2.encode(req["text"])
    if op == "ucs2_decode":
        return UCS2.decode(req["hex"])
    if op == "smspdudecoder_incoming":
        return smspdudecoder_incoming(req["hex"])
    if op == "smspdudecoder_outgoing":
        return smspdudecoder_outgoing(req["hex"])
    if op == "gsmmodem_decode":
        return gsmmodem_decode(req["hex"])
    if op == "gsmmodem_encode_submit":
        return gsmmodem_encode_submit(req)
    raise ValueError(f"unknown op {op}")


def clean(value):
    """Joins surrogate pairs a peer left split (python-gsmmodem-new decodes UCS-2 unit by unit)."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    return value


def main():
    requests = json.load(sys.stdin)
    answers = []
    for req in requests:
        try:
            answers.append({"ok": clean(answer(req))})
        except Exception as exc:  # noqa: BLE001 - each failure is reported to the Rust side
            answers.append({"error": f"{type(exc).__name__}: {exc}"})
    json.dump(answers, sys.stdout, ensure_ascii=False, default=json_default)


if __name__ == "__main__":
    main()
