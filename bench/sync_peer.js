// The peer of bench/sync.sh: @supabase/stripe-sync-engine backfilling the same emulator into
// the same PostgreSQL (its own schema), and applying the same events.
//
// Usage: node bench/sync_peer.js backfill EMULATOR_URL KEY DATABASE_URL SCHEMA
//        node bench/sync_peer.js events   EMULATOR_URL KEY DATABASE_URL SCHEMA EVENTS.jsonl
// Prints one JSON line: {objects|events, seconds}.
'use strict';
const fs = require('fs');
const path = require('path');
const here = path.join(__dirname, 'peers', 'sync');
const { StripeSync, runMigrations } = require(path.join(here, 'node_modules', '@supabase', 'stripe-sync-engine'));
const Stripe = require(path.join(here, 'node_modules', 'stripe'));

async function main() {
  const [mode, url, key, databaseUrl, schema, file] = process.argv.slice(2);
  await runMigrations({ databaseUrl, schema });
  const sync = new StripeSync({
    databaseUrl, schema, stripeSecretKey: key, stripeWebhookSecret: 'whsec_unused',
    stripeApiVersion: '2023-08-16', autoExpandLists: true,
  });
  // Its Stripe client pointed at the emulator (the engine has no option for the host).
  const u = new URL(url);
  sync.stripe = new Stripe(key, {
    apiVersion: '2023-08-16', host: u.hostname, port: u.port, protocol: 'http',
    maxNetworkRetries: 2,
  });
  const t0 = process.hrtime.bigint();
  let n = 0;
  if (mode === 'backfill') {
    for (const object of ['customer', 'invoice', 'product', 'price']) {
      const r = await sync.syncBackfill({ object });
      for (const v of Object.values(r)) if (v && typeof v.synced === 'number') n += v.synced;
    }
  } else {
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const failed = {};
    for (const line of lines) {
      const ev = JSON.parse(line);
      try { await sync.processEvent(ev); } catch (e) { failed[ev.type] = (failed[ev.type] || 0) + 1; }
      n++;
    }
    if (Object.keys(failed).length) console.error('the peer threw on:', JSON.stringify(failed));
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify(mode === 'backfill' ? { objects: n, seconds: s } : { events: n, seconds: s }));
  await sync.postgresClient.pool.end();
}
main().catch((e) => { console.error(e); process.exit(1); });
