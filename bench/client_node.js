// The peer: the official stripe npm package making the same calls against the same server.
// Usage: node client_node.js URL CALLS CONCURRENCY
'use strict';
const path = require('path');
const Stripe = require(require.resolve('stripe', {paths: [path.join(__dirname, '../tests/node')]}));

async function main() {
  const [url, callsArg, concArg] = process.argv.slice(2);
  const u = new URL(url);
  const calls = Number(callsArg), conc = Number(concArg);
  const stripe = new Stripe('sk_test_bench_000000000000000000000000', {
    host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 2,
  });
  const params = {
    email: 'jenny@example.com', description: 'benchmark customer',
    metadata: {plan: 'pro', seats: '12'}, line_items: [{price: 'price_123', quantity: 2}],
  };
  const per = Math.floor(calls / conc);
  const lat = [];
  let failures = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({length: conc}, async () => {
    for (let i = 0; i < per; i++) {
      const s = process.hrtime.bigint();
      try { await stripe.customers.create(params); } catch (e) { failures++; }
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const n = lat.length;
  console.log(JSON.stringify({
    client: 'stripe-node ' + require(path.join(__dirname, '../tests/node/node_modules/stripe/package.json')).version,
    calls: n, concurrency: conc, failures, calls_per_s: Math.round(n / secs),
    p50_ms: +lat[Math.floor(n / 2)].toFixed(3), p99_ms: +lat[Math.floor(n * 0.99)].toFixed(3),
  }));
}
main().catch((e) => { console.error(e); process.exit(1); });
