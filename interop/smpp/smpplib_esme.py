"""Interop peer: PyPI `smpplib` as ESME against smsgate's SMSC simulator.

Usage: python3 smpplib_esme.py <port> [--tls]. With --tls the session runs over TLS, verifying
the server against the test CA of interop/tls (chain and the name 127.0.0.1). Binds as transceiver, submits a GSM message, a UCS-2
message and a long message split by smpplib into UDH parts, all with registered_delivery, then
waits for a receipt per message id. Prints `OK submits=<n> receipts=<n>` and exits 0, else 1.
"""
import os
import ssl
import sys
import threading

import smpplib.client
import smpplib.consts
import smpplib.gsm


class VerifyingContext:
    """smpplib calls `wrap_socket(sock)` without a server name; this adds it, so Python checks
    the certificate's name as well as its chain."""

    def __init__(self, host: str):
        ca = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tls", "ca.pem")
        self.context = ssl.create_default_context(cafile=ca)
        self.host = host

    def wrap_socket(self, sock):
        return self.context.wrap_socket(sock, server_hostname=self.host)


def main() -> int:
    port = int(sys.argv[1])
    tls = VerifyingContext("127.0.0.1") if "--tls" in sys.argv[2:] else None
    client = smpplib.client.Client(
        "127.0.0.1", port, allow_unknown_opt_params=True, timeout=10, ssl_context=tls
    )
    ids: set[str] = set()
    receipts: set[str] = set()
    failures: list[str] = []

    def on_sent(pdu):
        if pdu.status != 0:
            failures.append(f"submit status {pdu.status}")
        ids.add(pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id)

    def on_deliver(pdu):
        if pdu.esm_class & 0x04:
            rid = pdu.receipted_message_id
            rid = rid.decode() if isinstance(rid, bytes) else rid
            text = pdu.short_message.decode("latin-1")
            if f"id:{rid}" not in text:
                failures.append(f"receipt text {text!r} does not name {rid}")
            receipts.add(rid)
        return 0

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_deliver)
    client.connect()
    client.bind_transceiver(system_id="pyesme", password="pw-12345")

    messages = ["Hello from smpplib", "Привет из Python ✓", "Long message " * 30]
    for text in messages:
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="pytest",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr="4915112345678",
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )

    done = threading.Event()

    def listen():
        try:
            while not done.is_set():
                client.read_once()
                if ids and receipts >= ids:
                    done.set()
        except Exception as exc:  # the socket closes when we unbind
            if not done.is_set():
                failures.append(f"listen: {exc}")
                done.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    done.wait(20)
    if failures:
        print("FAIL " + "; ".join(failures))
        return 1
    if not ids or not receipts >= ids:
        print(f"FAIL timeout: submits={len(ids)} receipts={len(receipts)}")
        return 1
    print(f"OK submits={len(ids)} receipts={len(receipts)}")
    try:
        client.unbind()
        client.disconnect()
    except Exception:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
