// Interop peer: the npm `smpp` package as a client of smsgate's SMPP server (`[smpp_server]`),
// for the gateway scenarios of crates/smsgate/tests/gateway/smpp_server/peers.rs.
// Usage: node node_gateway_esme.js <port> <scenario> [args]
//   badpass         bind with a wrong password, then with an unknown system_id; prints
//                   `BIND <status>` for each and exits 0.
//   away            bind as transmitter, submit one message with registered_delivery, unbind
//                   (`SUBMITTED <id>`, `UNBOUND`); wait for a line `GO` on stdin; bind as receiver
//                   and wait for the receipt (`RECEIPT <id> <message_state>`), then `OK`.
//   datasm          bind as transceiver, send one data_sm (text in message_payload) and wait
//                   for its receipt: `DATA_SM <id>`, `RECEIPT <id> <state>`, `OK`.
//   drop <n> <k>    bind as transceiver, submit n messages at once, print `ACK <id>` per
//                   response, destroy the socket right after the k-th (`DROPPED`) and exit 0.
// Account: system_id `node`, password `pw-12345`.
'use strict';
const fs = require('fs');
const path = require('path');
const smpp = require('smpp');

// With SMPP_TLS=1 in the environment the session runs over TLS (`ssmpp://`), trusting only
// the test CA of interop/tls; node verifies the certificate against 127.0.0.1.
const useTls = process.env.SMPP_TLS === '1';
const tlsOptions = useTls ? { ca: fs.readFileSync(path.join(__dirname, '..', 'tls', 'ca.pem')) } : {};
const scheme = useTls ? 'ssmpp' : 'smpp';
const readline = require('readline');

const port = Number(process.argv[2]);
const scenario = process.argv[3];
const fail = (why) => { console.log(`FAIL ${why}`); process.exit(1); };
setTimeout(() => fail('timeout'), 30000).unref();

const connect = () => {
  const s = smpp.connect({ url: `${scheme}://127.0.0.1:${port}`, auto_enquire_link_period: 0, ...tlsOptions });
  s.on('error', (e) => { if (scenario !== 'drop') fail(`socket: ${e.message}`); });
  return s;
};

const submit = (session, i, cb) => session.submit_sm({
  source_addr: 'nodetest',
  destination_addr: `49151123456${String(i).padStart(2, '0')}`,
  registered_delivery: 1,
  short_message: `message ${i}`,
}, cb);

if (scenario === 'badpass') {
  const s = connect();
  s.bind_transceiver({ system_id: 'node', password: 'wrong' }, (pdu) => {
    console.log(`BIND ${pdu.command_status}`);
    const t = connect();
    t.bind_transceiver({ system_id: 'nobody', password: 'pw-12345' }, (pdu2) => {
      console.log(`BIND ${pdu2.command_status}`);
      s.destroy();
      t.destroy();
      process.exit(0);
    });
  });
} else if (scenario === 'away') {
  const s = connect();
  s.bind_transmitter({ system_id: 'node', password: 'pw-12345' }, (b) => {
    if (b.command_status !== 0) fail(`bind ${b.command_status}`);
    submit(s, 1, (resp) => {
      if (resp.command_status !== 0) fail(`submit ${resp.command_status}`);
      const id = resp.message_id;
      console.log(`SUBMITTED ${id}`);
      s.unbind(() => {
        s.close();
        console.log('UNBOUND');
        const rl = readline.createInterface({ input: process.stdin });
        rl.on('line', (line) => {
          if (line.trim() !== 'GO') return;
          rl.close();
          const r = connect();
          r.on('deliver_sm', (pdu) => {
            r.send(pdu.response());
            if (!(pdu.esm_class & 0x04)) return;
            console.log(`RECEIPT ${pdu.receipted_message_id} ${pdu.message_state}`);
            if (pdu.receipted_message_id === id) {
              console.log('OK');
              r.unbind(() => { r.close(); process.exit(0); });
            }
          });
          r.bind_receiver({ system_id: 'node', password: 'pw-12345' }, (b2) => {
            if (b2.command_status !== 0) fail(`rebind ${b2.command_status}`);
          });
        });
      });
    });
  });
} else if (scenario === 'drop') {
  const n = Number(process.argv[4]);
  const k = Number(process.argv[5]);
  const s = connect();
  let acked = 0;
  let dropped = false;
  s.bind_transceiver({ system_id: 'node', password: 'pw-12345' }, (b) => {
    if (b.command_status !== 0) fail(`bind ${b.command_status}`);
    for (let i = 0; i < n; i++) {
      submit(s, i, (resp) => {
        if (resp.command_status !== 0) { console.log(`NACK ${resp.command_status}`); return; }
        acked += 1;
        console.log(`ACK ${resp.message_id}`);
        if (acked === k && !dropped) {
          dropped = true;
          s.destroy();
          console.log('DROPPED');
          setTimeout(() => process.exit(0), 300);
        }
      });
    }
  });
} else if (scenario === 'datasm') {
  // A data_sm with the text in message_payload and registered_delivery; waits for the
  // receipt naming the id of the data_sm_resp (`DATA_SM <id>`, `RECEIPT <id> <state>`, `OK`).
  const s = connect();
  let id = null;
  s.on('deliver_sm', (pdu) => {
    s.send(pdu.response());
    if (!(pdu.esm_class & 0x04)) return;
    console.log(`RECEIPT ${pdu.receipted_message_id} ${pdu.message_state}`);
    if (id !== null && pdu.receipted_message_id === id) {
      console.log('OK');
      s.unbind(() => { s.close(); process.exit(0); });
    }
  });
  s.bind_transceiver({ system_id: 'node', password: 'pw-12345' }, (b) => {
    if (b.command_status !== 0) fail(`bind ${b.command_status}`);
    s.data_sm({
      source_addr: 'nodetest',
      destination_addr: '4915112345699',
      registered_delivery: 1,
      message_payload: 'Hello by data_sm',
    }, (resp) => {
      if (resp.command_status !== 0) fail(`data_sm ${resp.command_status}`);
      id = resp.message_id;
      console.log(`DATA_SM ${id}`);
    });
  });
} else {
  fail(`unknown scenario ${scenario}`);
}
