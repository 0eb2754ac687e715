#!/usr/bin/env node
// The comparison peer: a Stripe webhook receiver as a typical user builds it with the official
// package. Node's http server reads the raw body, stripe.webhooks.constructEvent() verifies the
// signature (400 if it fails), the event is appended to a file as one JSON line and fsync'ed
// (durable before answering, like sluice), then 200 {"received":true}.
//
// Usage: node bench/ingest_peer.js PORT WHSEC OUTFILE   (PORT 0: any free port; prints the port)
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const Stripe = require(require.resolve('stripe', { paths: [path.join(__dirname, '..', 'tests', 'node')] }));

const [port, secret, outFile] = [Number(process.argv[2] || 0), process.argv[3], process.argv[4]];
if (!secret || !outFile) {
  console.error('usage: node bench/ingest_peer.js PORT WHSEC OUTFILE');
  process.exit(2);
}
const stripe = new Stripe('sk_test_peer');
const fd = fs.openSync(outFile, 'a');

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhook') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let event;
    try {
      event = stripe.webhooks.constructEvent(Buffer.concat(chunks), req.headers['stripe-signature'], secret);
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`Webhook Error: ${err.message}`);
      return;
    }
    fs.appendFileSync(fd, JSON.stringify(event) + '\n');
    fs.fsyncSync(fd);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
  });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => {
  server.close(() => { fs.closeSync(fd); process.exit(0); });
  server.closeAllConnections();  // wrk has stopped: nothing is in flight any more
});
