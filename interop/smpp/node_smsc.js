// Interop peer: the npm `smpp` package acting as SMSC for smsgate's ESME client.
// Started by crates/smpp/tests/smpp/interop.rs and crates/smsgate/tests/gateway/smpp_interop.rs;
// listens on an ephemeral port and prints `PORT <n>`.
// For each submit_sm it prints `SUBMIT <id> <data_coding> <esm_class> <hex short_message>`,
// answers with a message id and, when registered_delivery asks for it, sends a delivery
// receipt (esm_class 0x04, text body + receipted_message_id/message_state TLVs). A submit whose
// text is `send-mo` also triggers a mobile-originated UCS-2 deliver_sm, `send-binary-mo` an
// 8-bit one with a port UDH. Each bind prints
// `BIND <transceiver|transmitter|receiver>`; with a receiver bound, receipts and MO go to it.
// With `--tls` it serves SMPP over TLS (node's `tls`, OpenSSL) with ../tls/server.pem, the
// certificate of the test CA in interop/tls.
'use strict';
const fs = require('fs');
const path = require('path');
const smpp = require('smpp');

const tlsDir = path.join(__dirname, '..', 'tls');
const tlsOptions = process.argv.includes('--tls')
  ? { key: fs.readFileSync(path.join(tlsDir, 'server.key')), cert: fs.readFileSync(path.join(tlsDir, 'server.pem')) }
  : {};

let nextId = 0x5000;
// Sessions bound as receiver: receipts and MO go there when one is bound (an ESME with a
// transmitter + receiver pair), else back on the submitting transceiver.
const receivers = new Set();
const server = smpp.createServer({ debug: false, ...tlsOptions }, (session) => {
  const bind = (kind) => (pdu) => {
    if (pdu.system_id !== 'esme' || pdu.password !== 'pw') {
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      return;
    }
    console.log(`BIND ${kind}`);
    if (kind === 'receiver') {
      receivers.add(session);
      session.on('close', () => receivers.delete(session));
    }
    session.send(pdu.response({ system_id: 'node-smsc' }));
  };
  const outbound = () => (receivers.size ? receivers.values().next().value : session);
  session.on('bind_transceiver', bind('transceiver'));
  session.on('bind_transmitter', bind('transmitter'));
  session.on('bind_receiver', bind('receiver'));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16);
    const raw = pdu.short_message && pdu.short_message.message;
    const udh = pdu.short_message && pdu.short_message.udh ? Buffer.concat(pdu.short_message.udh) : Buffer.alloc(0);
    const body = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw || ''), 'latin1');
    const hex = Buffer.concat([udh.length ? Buffer.concat([Buffer.from([udh.length]), udh]) : udh, body]).toString('hex');
    console.log(`SUBMIT ${id} ${pdu.data_coding} ${pdu.esm_class} ${hex}`);
    session.send(pdu.response({ message_id: id }));
    if (pdu.registered_delivery & 0x01) {
      setTimeout(() => {
        outbound().deliver_sm({
          source_addr: pdu.destination_addr,
          destination_addr: pdu.source_addr,
          esm_class: 0x04,
          short_message: `id:${id} sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:`,
          receipted_message_id: id,
          message_state: 2,
        }, (resp) => console.log(`RECEIPT_ACK ${id} ${resp.command_status}`));
      }, 20);
    }
    if (typeof raw === 'string' && raw === 'send-mo') {
      outbound().deliver_sm({
        source_addr: '4915112345678',
        destination_addr: '1234',
        data_coding: 0x08,
        short_message: Buffer.from('Привет 👋', 'utf16le').swap16(),
      }, (resp) => console.log(`MO_ACK ${resp.command_status}`));
    }
    if (typeof raw === 'string' && raw === 'send-binary-mo') {
      // A tracker's binary report: 8-bit data with a port UDH (dest 5000, source 5001).
      outbound().deliver_sm({
        source_addr: '4915112345678',
        destination_addr: '1234',
        esm_class: 0x40,
        data_coding: 0x04,
        short_message: Buffer.from('06050413881389' + 'deadbeef00ff', 'hex'),
      }, (resp) => console.log(`MO_ACK ${resp.command_status}`));
    }
  });
  session.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  console.log(`PORT ${server.address().port}${server.tls ? ' TLS' : ''}`);
});
setTimeout(() => process.exit(0), 60000).unref();
