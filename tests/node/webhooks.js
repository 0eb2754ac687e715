#!/usr/bin/env node
// Webhook helper for the end-to-end tests: signs with the official stripe package and drives
// load against `sluice serve`.
//
//   node webhooks.js event ID [TYPE]                 print a sample event
//   node webhooks.js sign SECRET [TIMESTAMP] < BODY  print a Stripe-Signature header
//   node webhooks.js post URL SECRET COUNT CONCURRENCY ACKFILE [PREFIX]
//       post COUNT distinct signed events, COUNCURRENCY at a time; append the id of every event
//       answered 2xx to ACKFILE (as soon as it is answered); print "acked N errors M"
//   node webhooks.js same URL SECRET ID PARALLEL
//       post one event from PARALLEL separate clients at once; print the status codes
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const Stripe = require(require.resolve('stripe', {paths: [__dirname]}));
const stripe = new Stripe('sk_test_unused');

function event(id, type) {
  return JSON.stringify({
    id, object: 'event', api_version: '2023-08-16', created: Math.floor(Date.now() / 1000),
    type: type || 'customer.created', livemode: false, pending_webhooks: 1,
    request: {id: 'req_' + id, idempotency_key: null},
    data: {object: {id: 'cus_' + id.slice(4), object: 'customer', email: 'jenny@example.com',
                    metadata: {plan: 'pro'}}},
  });
}

function sign(secret, body, timestamp) {
  return stripe.webhooks.generateTestHeaderString({payload: body, secret, timestamp});
}

function post(url, body, header, agent) {
  return new Promise((resolve) => {
    const req = http.request(url, {method: 'POST', agent, headers: {
      'Content-Type': 'application/json', 'Stripe-Signature': header,
      'Content-Length': Buffer.byteLength(body)}}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function main() {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'event') {
    process.stdout.write(event(a[0], a[1]));
  } else if (cmd === 'sign') {
    const body = fs.readFileSync(0, 'utf8');
    console.log(sign(a[0], body, a[1] ? Number(a[1]) : undefined));
  } else if (cmd === 'post') {
    const [url, secret, count, conc, ackfile, prefix] = a;
    const agent = new http.Agent({keepAlive: true, maxSockets: Number(conc)});
    const ack = fs.openSync(ackfile, 'a');
    let next = 0, acked = 0, errors = 0;
    await Promise.all(Array.from({length: Number(conc)}, async () => {
      while (next < Number(count)) {
        const id = `evt_${prefix || 'load'}_${next++}`;
        const body = event(id);
        const status = await post(url, body, sign(secret, body), agent);
        if (status >= 200 && status < 300) {
          fs.writeSync(ack, id + '\n');
          acked++;
        } else {
          errors++;
        }
      }
    }));
    fs.closeSync(ack);
    console.log(`acked ${acked} errors ${errors}`);
  } else if (cmd === 'same') {
    const [url, secret, id, parallel] = a;
    const body = event(id);
    const header = sign(secret, body);
    const codes = await Promise.all(Array.from({length: Number(parallel)},
      () => post(url, body, header, new http.Agent({keepAlive: false}))));
    console.log(codes.join(' '));
  } else {
    console.error('usage: see the top of ' + path.basename(__filename));
    process.exit(2);
  }
}
main();
