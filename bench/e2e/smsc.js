// The external SMSC of bench/bench_e2e.py: node-smpp (npm "smpp") as an SMPP 3.4 server
// on loopback. It accepts every bind and submit_sm and counts, without keeping texts,
// each (destination, concatenation reference, part) it received: so lost and duplicated
// parts are counted at the SMSC, whoever the client is (the gateway or Kannel).
//
//   node smsc.js PORT [MAX_SECONDS]
//
// Protocol over the pipes, one JSON line each: on start `{"port": N}`; each stdin line
// `stats` is answered with the counters; `reset` clears them; end of stdin stops it,
// and so does MAX_SECONDS (default 1800).
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const port = Number(process.argv[2] || 0);
const maxSeconds = Number(process.argv[3] || 1800);
let parts = new Map();  // "dest|ref|seq" -> times received
let accepted = 0, first = 0, last = 0, nextId = 0x10000000;

function key(pdu) {
  const message = pdu.short_message || {};
  let ref = -1, seq = 1;
  for (const udh of message.udh || []) {
    if (udh[0] === 0x00) { ref = udh[2]; seq = udh[4]; }
    else if (udh[0] === 0x08) { ref = udh.readUInt16BE(2); seq = udh[5]; }
  }
  if (pdu.sar_msg_ref_num !== undefined) { ref = pdu.sar_msg_ref_num; seq = pdu.sar_segment_seqnum; }
  return `${pdu.destination_addr}|${ref}|${seq}`;
}

const server = smpp.createServer({}, (session) => {
  const bind = (pdu) => session.send(pdu.response());
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('bind_receiver', bind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => {
    const k = key(pdu);
    parts.set(k, (parts.get(k) || 0) + 1);
    accepted += 1;
    last = Date.now();
    if (!first) first = last;
    nextId += 1;
    session.send(pdu.response({ message_id: nextId.toString(16).toUpperCase() }));
  });
  session.on('error', () => {});
});

function stats() {
  let distinct = 0, duplicated = 0;
  const recipients = new Set();
  for (const [k, n] of parts) {
    distinct += 1;
    duplicated += n - 1;
    recipients.add(k.split('|')[0]);
  }
  return { accepted, distinct, duplicated, recipients: recipients.size, first, last,
           seconds: first ? (last - first) / 1000 : 0 };
}

server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'reset') { parts = new Map(); accepted = 0; first = 0; last = 0; }
  console.log(JSON.stringify(stats()));
});
input.on('close', () => process.exit(0));
setTimeout(() => process.exit(0), maxSeconds * 1000).unref();
