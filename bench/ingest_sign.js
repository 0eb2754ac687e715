#!/usr/bin/env node
// Pre-signs N realistic, distinct Stripe webhook events for the ingest benchmark.
//
// Usage: node bench/ingest_sign.js N WHSEC OUT [PARTS]
//
// Each event has a unique evt_ id, one of several common types, and a body shaped like the
// events Stripe sends (api_version 2023-08-16, data.object, livemode, pending_webhooks, request),
// pretty-printed as Stripe does (1-3 KB). Each is signed with the official package's
// stripe.webhooks.generateTestHeaderString, i.e. exactly the Stripe-Signature header Stripe sends.
//
// The events are dealt round-robin into PARTS files OUT.0 .. OUT.<PARTS-1> (default 1), one per
// load-generator thread, so each thread replays a disjoint slice. Each file is a sequence of
// records that Lua can read without parsing JSON: a header line
//   <Stripe-Signature> TAB <body length in bytes> LF
// followed by exactly that many bytes of body (bodies contain newlines, like Stripe's).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const Stripe = require(require.resolve('stripe', { paths: [path.join(__dirname, '..', 'tests', 'node')] }));

const [n, secret, out] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const parts = Number(process.argv[5] || 1);
if (!(n > 0) || !secret || !out || !(parts >= 1)) {
  console.error('usage: node bench/ingest_sign.js N WHSEC OUT [PARTS]');
  process.exit(2);
}
const stripe = new Stripe('sk_test_bench');  // only the webhooks helper is used; no network

// --- ids and small helpers ------------------------------------------------------------------
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function rnd(len) {  // random-looking id characters (Math.random: fast, no need to be secret)
  let s = '';
  for (let i = 0; i < len; i++) s += B62[(Math.random() * 62) | 0];
  return s;
}
function b62(num, width) {  // fixed-width base62 of a counter: makes event ids distinct
  let s = '';
  do { s = B62[num % 62] + s; num = Math.floor(num / 62); } while (num > 0);
  return s.padStart(width, '0');
}
const runTag = rnd(6);                       // distinct across runs too
const id = (prefix) => `${prefix}_1${rnd(23)}`;
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const amount = () => 500 + 100 * Math.floor(Math.random() * 500);
const FIRST = ['Jenny', 'Ahmed', 'Li', 'Maria', 'Olu', 'Sven', 'Priya', 'Diego', 'Yuki', 'Noah'];
const LAST = ['Rosen', 'Khan', 'Wei', 'Garcia', 'Adeyemi', 'Larsen', 'Patel', 'Ruiz', 'Sato', 'Berg'];
const CURRENCY = ['usd', 'eur', 'gbp'];

function address() {
  return { city: pick(['Berlin', 'Austin', 'Lagos', 'Osaka', 'Lyon']), country: pick(['DE', 'US', 'NG', 'JP', 'FR']),
    line1: `${1 + Math.floor(Math.random() * 200)} Market Street`, line2: null,
    postal_code: String(10000 + Math.floor(Math.random() * 89999)), state: null };
}
function card() {
  return { brand: pick(['visa', 'mastercard', 'amex']), checks: { address_line1_check: null,
    address_postal_code_check: 'pass', cvc_check: 'pass' }, country: 'US',
    exp_month: 1 + Math.floor(Math.random() * 12), exp_year: 2027, fingerprint: rnd(16),
    funding: 'credit', last4: String(1000 + Math.floor(Math.random() * 8999)), network: 'visa',
    three_d_secure: null, wallet: null };
}

// --- data.object builders, one per event type -----------------------------------------------
function customer(now) {
  const f = pick(FIRST), l = pick(LAST);
  return { id: id('cus'), object: 'customer', address: address(), balance: 0, created: now,
    currency: null, default_source: null, delinquent: false, description: null, discount: null,
    email: `${f.toLowerCase()}.${l.toLowerCase()}@example.com`, invoice_prefix: rnd(8).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null,
      rendering_options: null }, livemode: false, metadata: { plan: pick(['free', 'pro', 'team']) },
    name: `${f} ${l}`, next_invoice_sequence: 1, phone: null, preferred_locales: [],
    shipping: null, tax_exempt: 'none', test_clock: null };
}
function charge(now, amt, cur, cus, pi) {
  return { id: id('ch'), object: 'charge', amount: amt, amount_captured: amt, amount_refunded: 0,
    application: null, application_fee: null, application_fee_amount: null,
    balance_transaction: id('txn'), billing_details: { address: address(), email: null, name: null,
      phone: null }, calculated_statement_descriptor: 'SLUICE BENCH', captured: true, created: now,
    currency: cur, customer: cus, description: null, disputed: false, failure_code: null,
    failure_message: null, fraud_details: {}, invoice: null, livemode: false, metadata: {},
    outcome: { network_status: 'approved_by_network', reason: null, risk_level: 'normal',
      risk_score: Math.floor(Math.random() * 60), seller_message: 'Payment complete.', type: 'authorized' },
    paid: true, payment_intent: pi, payment_method: id('pm'),
    payment_method_details: { card: card(), type: 'card' }, receipt_email: null,
    receipt_url: `https://pay.stripe.com/receipts/payment/${rnd(60)}`, refunded: false,
    status: 'succeeded' };
}
function paymentIntent(now) {
  const amt = amount(), cur = pick(CURRENCY);
  return { id: id('pi'), object: 'payment_intent', amount: amt, amount_capturable: 0,
    amount_details: { tip: {} }, amount_received: amt, application: null,
    automatic_payment_methods: { enabled: true }, canceled_at: null, cancellation_reason: null,
    capture_method: 'automatic', client_secret: `pi_${rnd(24)}_secret_${rnd(25)}`,
    confirmation_method: 'automatic', created: now, currency: cur, customer: id('cus'),
    description: null, invoice: null, last_payment_error: null, latest_charge: id('ch'),
    livemode: false, metadata: { order_id: String(Math.floor(Math.random() * 1e6)) },
    next_action: null, on_behalf_of: null, payment_method: id('pm'),
    payment_method_options: { card: { installments: null, mandate_options: null, network: null,
      request_three_d_secure: 'automatic' } }, payment_method_types: ['card'], processing: null,
    receipt_email: null, review: null, setup_future_usage: null, shipping: null, source: null,
    statement_descriptor: null, statement_descriptor_suffix: null, status: 'succeeded',
    transfer_data: null, transfer_group: null };
}
function invoice(now, paid) {
  const amt = amount(), cur = pick(CURRENCY), cus = id('cus'), sub = id('sub');
  const line = { id: id('il'), object: 'line_item', amount: amt, amount_excluding_tax: amt,
    currency: cur, description: `1 × Pro plan (at $${(amt / 100).toFixed(2)} / month)`,
    discount_amounts: [], discountable: true, discounts: [], livemode: false, metadata: {},
    period: { end: now + 2592000, start: now }, plan: null,
    price: { id: id('price'), object: 'price', active: true, currency: cur, product: id('prod'),
      recurring: { interval: 'month', interval_count: 1 }, type: 'recurring', unit_amount: amt },
    proration: false, quantity: 1, subscription: sub, subscription_item: id('si'),
    type: 'subscription' };
  return { id: id('in'), object: 'invoice', account_country: 'US', account_name: 'Sluice Bench',
    amount_due: amt, amount_paid: paid ? amt : 0, amount_remaining: paid ? 0 : amt,
    attempt_count: 1, attempted: true, billing_reason: 'subscription_cycle',
    charge: id('ch'), collection_method: 'charge_automatically', created: now, currency: cur,
    customer: cus, customer_email: `${pick(FIRST).toLowerCase()}@example.com`, customer_name: null,
    description: null, discount: null, due_date: null,
    hosted_invoice_url: `https://invoice.stripe.com/i/acct_bench/test_${rnd(40)}`,
    invoice_pdf: `https://pay.stripe.com/invoice/acct_bench/test_${rnd(40)}/pdf`,
    lines: { object: 'list', data: [line], has_more: false, total_count: 1,
      url: `/v1/invoices/in_${rnd(24)}/lines` }, livemode: false, metadata: {},
    number: `${rnd(8).toUpperCase()}-0001`, paid, payment_intent: id('pi'),
    period_end: now, period_start: now - 2592000, status: paid ? 'paid' : 'open',
    subscription: sub, subtotal: amt, tax: null, total: amt };
}
function checkoutSession(now) {
  const amt = amount(), cur = pick(CURRENCY);
  return { id: `cs_test_${rnd(58)}`, object: 'checkout.session', after_expiration: null,
    allow_promotion_codes: false, amount_subtotal: amt, amount_total: amt,
    automatic_tax: { enabled: false, status: null }, billing_address_collection: null,
    cancel_url: 'https://example.com/cancel', client_reference_id: null, consent: null,
    created: now, currency: cur, customer: id('cus'), customer_creation: 'always',
    customer_details: { address: address(), email: `${pick(FIRST).toLowerCase()}@example.com`,
      name: `${pick(FIRST)} ${pick(LAST)}`, phone: null, tax_exempt: 'none', tax_ids: [] },
    expires_at: now + 86400, invoice: null, livemode: false, locale: null,
    metadata: { cart: rnd(10) }, mode: 'payment', payment_intent: id('pi'),
    payment_method_types: ['card'], payment_status: 'paid', status: 'complete',
    success_url: 'https://example.com/success?session_id={CHECKOUT_SESSION_ID}',
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, url: null };
}
function subscription(now) {
  const cur = pick(CURRENCY), amt = amount();
  return { id: id('sub'), object: 'subscription', application: null, billing_cycle_anchor: now,
    cancel_at: null, cancel_at_period_end: false, canceled_at: null,
    collection_method: 'charge_automatically', created: now - 2592000, currency: cur,
    current_period_end: now + 2592000, current_period_start: now, customer: id('cus'),
    default_payment_method: id('pm'), items: { object: 'list', data: [{ id: id('si'),
      object: 'subscription_item', created: now - 2592000, metadata: {},
      price: { id: id('price'), object: 'price', currency: cur, product: id('prod'),
        recurring: { interval: 'month', interval_count: 1 }, unit_amount: amt }, quantity: 1 }],
    has_more: false, total_count: 1 }, latest_invoice: id('in'), livemode: false, metadata: {},
    status: 'active', trial_end: null, trial_start: null };
}

// Type, its data.object, and previous_attributes where Stripe sends them.
const KINDS = [
  ['customer.created', (t) => customer(t)],
  ['invoice.paid', (t) => invoice(t, true)],
  ['invoice.payment_failed', (t) => invoice(t, false)],
  ['payment_intent.succeeded', (t) => paymentIntent(t)],
  ['checkout.session.completed', (t) => checkoutSession(t)],
  ['charge.succeeded', (t) => charge(t, amount(), pick(CURRENCY), id('cus'), id('pi'))],
  ['customer.subscription.updated', (t) => subscription(t),
    (t) => ({ current_period_end: t, current_period_start: t - 2592000, latest_invoice: id('in') })],
];

function event(i, now) {
  const [type, build, prev] = KINDS[i % KINDS.length];
  const ev = {
    id: `evt_1${runTag}${b62(i, 6)}${rnd(11)}`,  // 24 characters after evt_, unique per run
    object: 'event', api_version: '2023-08-16', created: now,
    data: { object: build(now) },
    livemode: false, pending_webhooks: 1 + (i % 3),
    request: type.startsWith('customer.') || type.startsWith('checkout.')
      ? { id: `req_${rnd(14)}`, idempotency_key: `${rnd(8)}-${rnd(4)}-${rnd(4)}-${rnd(12)}` } : { id: null, idempotency_key: null },
    type,
  };
  if (prev) ev.data.previous_attributes = prev(now);
  return JSON.stringify(ev, null, 2);  // Stripe sends pretty-printed JSON
}

// --- generate, sign, write ------------------------------------------------------------------
const t0 = Date.now();
const now = Math.floor(t0 / 1000);
const files = Array.from({ length: parts }, (_, p) => ({ fd: fs.openSync(`${out}.${p}`, 'w'), chunk: [], bytes: 0 }));
const flush = (f) => { fs.writeSync(f.fd, f.chunk.join('')); f.chunk = []; f.bytes = 0; };
let total = 0, min = Infinity, max = 0;
for (let i = 0; i < n; i++) {
  const body = event(i, now - (n - i) % 3600);
  const sig = stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: now });
  const len = Buffer.byteLength(body);
  total += len; if (len < min) min = len; if (len > max) max = len;
  const f = files[i % parts];
  const rec = `${sig}\t${len}\n${body}`;
  f.chunk.push(rec); f.bytes += rec.length;
  if (f.bytes > (4 << 20)) flush(f);
}
for (const f of files) { flush(f); fs.closeSync(f.fd); }
console.error(`signed ${n} events (${KINDS.length} types, body ${min}-${max} B, mean ` +
  `${Math.round(total / n)} B) in ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${out}.0..${parts - 1}`);
