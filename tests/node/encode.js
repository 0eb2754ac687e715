#!/usr/bin/env node
// Cross-check helper: encode Stripe API params exactly as the official
// `stripe` npm package does, using the package's own encoder.
//
// Usage:
//   node encode.js CASES.json            POST body for each case (default)
//   node encode.js --query CASES.json    query suffix a GET/DELETE call would
//                                        append to the path ("" or "?...")
//   node encode.js --http CASES.json     sanity mode: POST every case through
//                                        a real Stripe client to a throwaway
//                                        server on 127.0.0.1 and print the
//                                        bodies it actually received
//
// CASES.json is a JSON array of {"name": ..., "params": {...}}.
// Output (stdout): a JSON array of strings, one per case, in file order.
//
// The encoder is `queryStringifyRequestData` from the package's cjs/utils.js.
// It is the exported one-line wrapper around the private
// `stringifyRequestData`, and it is the very function the package calls both
// for v1 POST bodies (RequestSender._request) and for GET/DELETE query strings
// (StripeResource._makeRequest). The package's "exports" map only exposes its
// entry point, so the file is located from the resolved entry point and
// required by absolute path.
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');

function stripeCjsDir() {
  // require.resolve('stripe') -> .../node_modules/stripe/cjs/stripe.cjs.node.js
  return path.dirname(require.resolve('stripe', {paths: [__dirname]}));
}

function loadEncoder() {
  const utilsPath = path.join(stripeCjsDir(), 'utils.js');
  const utils = require(utilsPath);
  if (typeof utils.queryStringifyRequestData !== 'function') {
    throw new Error(`queryStringifyRequestData not found in ${utilsPath}`);
  }
  return utils.queryStringifyRequestData;
}

function readCases(file) {
  const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(cases)) throw new Error(`${file}: expected a JSON array`);
  cases.forEach((c, i) => {
    if (!c || typeof c !== 'object' || typeof c.params !== 'object' ||
        c.params === null || Array.isArray(c.params)) {
      throw new Error(`${file}: case ${i} (${c && c.name}) needs an object "params"`);
    }
  });
  return cases;
}

// POST body, as RequestSender._request builds it for a v1 path:
//   queryStringifyRequestData(data || {})  where data = {...params}
function postBodies(cases) {
  const enc = loadEncoder();
  return cases.map((c) => enc({...c.params}));
}

// GET/DELETE, as StripeResource._makeRequest builds the path:
//   [path, emptyQuery ? '' : '?', queryStringifyRequestData(queryData)].join('')
// emptyQuery is judged on the *keys* of params, so {"a": []} yields "?".
function querySuffixes(cases) {
  const enc = loadEncoder();
  return cases.map((c) => {
    const q = {...c.params};
    return (Object.keys(q).length === 0 ? '' : '?') + enc(q);
  });
}

// Send each case through a real client and capture the raw request bodies.
async function httpBodies(cases) {
  const Stripe = require(require.resolve('stripe', {paths: [__dirname]}));
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, {'Content-Type': 'application/json', 'Request-Id': 'req_test'});
      res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  try {
    const stripe = new Stripe('sk_test_x', {
      host: '127.0.0.1',
      port,
      protocol: 'http',
      maxNetworkRetries: 0,
      telemetry: false,
    });
    for (const c of cases) {
      await stripe.rawRequest('POST', '/v1/x', c.params);
    }
  } finally {
    server.close();
  }
  return received;
}

async function main() {
  const args = process.argv.slice(2);
  let mode = 'post';
  if (args[0] === '--query' || args[0] === '--http') mode = args.shift().slice(2);
  if (args.length !== 1) {
    process.stderr.write('usage: node encode.js [--query|--http] CASES.json\n');
    process.exit(2);
  }
  const cases = readCases(args[0]);
  let out;
  if (mode === 'query') out = querySuffixes(cases);
  else if (mode === 'http') out = await httpBodies(cases);
  else out = postBodies(cases);
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}

main().catch((err) => {
  process.stderr.write(`encode.js: ${err && err.stack || err}\n`);
  process.exit(1);
});
