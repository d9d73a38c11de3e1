// Interop peer: the npm `smpp` package as ESME against smsgate's SMSC simulator.
// Usage: node node_esme.js <port>. Binds as transceiver, submits a GSM, a UCS-2 and a two-part
// concatenated (UDH) message with registered_delivery, waits for a receipt per message id and
// acknowledges each. Prints `OK submits=<n> receipts=<n>` and exits 0, or exits 1 with a reason.
'use strict';
const fs = require('fs');
const path = require('path');
const smpp = require('smpp');

// With SMPP_TLS=1 in the environment the session runs over TLS (`ssmpp://`), trusting only
// the test CA of interop/tls; node verifies the certificate against 127.0.0.1.
const useTls = process.env.SMPP_TLS === '1';
const tlsOptions = useTls ? { ca: fs.readFileSync(path.join(__dirname, '..', 'tls', 'ca.pem')) } : {};
const scheme = useTls ? 'ssmpp' : 'smpp';

const port = Number(process.argv[2]);
const fail = (why) => { console.error(`FAIL ${why}`); process.exit(1); };
setTimeout(() => fail('timeout'), 20000);

const session = smpp.connect({ url: `${scheme}://127.0.0.1:${port}`, ...tlsOptions });
session.on('error', (e) => fail(`socket: ${e.message}`));
const ids = new Set();
const receipts = new Set();
let expected = 0;

const udh = (ref, total, seq) => Buffer.from([0x05, 0x00, 0x03, ref, total, seq]);
const submits = [
  { short_message: 'Hello from node-smpp @ £5' },
  { short_message: 'Grüße aus Köln — ✓', data_coding: 0x08 },
  { short_message: { udh: udh(0x42, 2, 1), message: 'A'.repeat(153) }, esm_class: 0x40 },
  { short_message: { udh: udh(0x42, 2, 2), message: 'B'.repeat(40) }, esm_class: 0x40 },
];

session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  if (!(pdu.esm_class & 0x04)) return;
  const id = pdu.receipted_message_id;
  const text = pdu.short_message && pdu.short_message.message;
  if (!id || !String(text).includes(`id:${id}`)) fail(`receipt without a matching id: ${id} / ${text}`);
  if (pdu.message_state !== 2) fail(`message_state ${pdu.message_state}`);
  receipts.add(id);
  if (receipts.size === expected && [...ids].every((i) => receipts.has(i))) {
    console.log(`OK submits=${ids.size} receipts=${receipts.size}`);
    session.unbind(() => { session.close(); process.exit(0); });
  }
});

session.bind_transceiver({ system_id: 'node', password: 'pw-12345' }, (pdu) => {
  if (pdu.command_status !== 0) fail(`bind status ${pdu.command_status}`);
  expected = submits.length;
  for (const s of submits) {
    session.submit_sm({
      source_addr: 'nodetest',
      destination_addr: '4915112345678',
      registered_delivery: 1,
      ...s,
    }, (resp) => {
      if (resp.command_status !== 0) fail(`submit status ${resp.command_status}`);
      ids.add(resp.message_id);
    });
  }
});
