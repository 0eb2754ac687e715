#!/usr/bin/env node
// The official stripe package against `sluice emulate`: what the emulator keeps today, checked
// as Stripe documents it, plus webhook deliveries verified with the package's own verifier.
// Usage: node emulator_story.js http://127.0.0.1:PORT
'use strict';
const assert = require('assert');
const http = require('http');
const Stripe = require(require.resolve('stripe', {paths: [__dirname]}));

const base = new URL(process.argv[2]);
const stripe = new Stripe('sk_test_story', {
  host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0,
});

const {check, finish} = require('./check.js');

// A receiver on loopback that verifies each delivery with stripe.webhooks.constructEvent and
// fails the first delivery of events whose customer email starts with "flaky".
function receiver(secretRef) {
  const got = [];
  const failedOnce = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event;
      try {
        event = stripe.webhooks.constructEvent(body, req.headers['stripe-signature'], secretRef.secret);
      } catch (e) {
        got.push({bad: e.message});
        res.writeHead(400).end();
        return;
      }
      const email = event.data.object.email || '';
      if (email.startsWith('flaky') && !failedOnce.has(event.id)) {
        failedOnce.add(event.id);
        res.writeHead(500).end();
        return;
      }
      got.push(event);
      res.writeHead(200).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({server, got, failedOnce})));
}

async function waitFor(pred, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

async function main() {
  const secretRef = {secret: null};
  const rx = await receiver(secretRef);
  const hookUrl = `http://127.0.0.1:${rx.server.address().port}/hooks/story`;

  await check('a webhook endpoint is created with its signing secret', async () => {
    const we = await stripe.webhookEndpoints.create({url: hookUrl, enabled_events: ['customer.created', 'customer.updated', 'product.created']});
    assert.match(we.secret, /^whsec_/);
    assert.strictEqual(we.status, 'enabled');
    secretRef.secret = we.secret;
    const again = await stripe.webhookEndpoints.retrieve(we.id);
    assert.strictEqual(again.secret, undefined, 'the secret is shown only once');
  });

  let jenny;
  await check('customers keep their state: create, retrieve, update, metadata', async () => {
    jenny = await stripe.customers.create({email: 'jenny@example.com', name: 'Jenny Rosen', metadata: {plan: 'pro'}, balance: -500});
    assert.match(jenny.id, /^cus_/);
    assert.strictEqual(jenny.object, 'customer');
    assert.strictEqual(jenny.balance, -500);
    const got = await stripe.customers.retrieve(jenny.id);
    assert.strictEqual(got.email, 'jenny@example.com');
    assert.deepStrictEqual(got.metadata, {plan: 'pro'});
    const upd = await stripe.customers.update(jenny.id, {metadata: {seats: '3'}, name: 'Jenny R.'});
    assert.deepStrictEqual(upd.metadata, {plan: 'pro', seats: '3'});
    const unset = await stripe.customers.update(jenny.id, {metadata: {plan: ''}});
    assert.deepStrictEqual(unset.metadata, {seats: '3'});
  });

  await check('products and prices', async () => {
    const product = await stripe.products.create({name: 'Pro plan'});
    assert.strictEqual(product.active, true);
    const price = await stripe.prices.create({product: product.id, currency: 'usd', unit_amount: 1500, recurring: {interval: 'month'}});
    assert.strictEqual(price.unit_amount, 1500);
    assert.strictEqual(price.product, product.id);
    const archived = await stripe.prices.update(price.id, {active: false});
    assert.strictEqual(archived.active, false);
    const prices = await stripe.prices.list({product: product.id});
    assert.strictEqual(prices.data.length, 1);
  });

  await check('search by email and by metadata', async () => {
    const r = await stripe.customers.search({query: "email:'jenny@example.com'"});
    assert.strictEqual(r.object, 'search_result');
    assert.deepStrictEqual(r.data.map((c) => c.id), [jenny.id]);
    const m = await stripe.customers.search({query: "metadata['seats']:'3' AND name~'Jenny'"});
    assert.deepStrictEqual(m.data.map((c) => c.id), [jenny.id]);
  });

  await check('list pagination over 250 customers, with the SDK auto-paginating', async () => {
    for (let i = 0; i < 250; i++) await stripe.customers.create({email: `bulk${i}@example.com`});
    const first = await stripe.customers.list({limit: 100});
    assert.strictEqual(first.data.length, 100);
    assert.strictEqual(first.has_more, true);
    assert.strictEqual(first.data[0].email, 'bulk249@example.com', 'newest first');
    const ids = new Set();
    for await (const c of stripe.customers.list({limit: 100})) ids.add(c.id);
    assert.strictEqual(ids.size, 251);
  });

  await check('an idempotent retry replays; other parameters under the same key are refused', async () => {
    const key = 'story-key-1';
    const a = await stripe.customers.create({email: 'idem@example.com'}, {idempotencyKey: key});
    const b = await stripe.customers.create({email: 'idem@example.com'}, {idempotencyKey: key});
    assert.strictEqual(a.id, b.id);
    await assert.rejects(stripe.customers.create({email: 'other@example.com'}, {idempotencyKey: key}),
      (e) => e.type === 'StripeIdempotencyError');
  });

  await check('errors as Stripe sends them: unknown parameter, missing object, bad key', async () => {
    await assert.rejects(stripe.customers.create({emial: 'x@example.com'}),
      (e) => e.type === 'StripeInvalidRequestError' && e.param === 'emial' && e.statusCode === 400);
    await assert.rejects(stripe.customers.retrieve('cus_missing'),
      (e) => e.statusCode === 404 && e.code === 'resource_missing');
    const bad = new Stripe('sk_live_nope', {host: base.hostname, port: Number(base.port), protocol: 'http'});
    await assert.rejects(bad.customers.list(), (e) => e.statusCode === 401);
    const unkept = await stripe.radar.valueLists.retrieve('rsl_1');
    assert.strictEqual(unkept.lastResponse.headers['sluice-stateless'], 'true', 'an operation not kept is answered statelessly');
    await assert.rejects(stripe.invoices.finalizeInvoice('in_missing'), (e) => e.statusCode === 404);
  });

  await check('payment intents: pm_card_visa succeeds with a charge, pm_card_chargeDeclined declines', async () => {
    const ok = await stripe.paymentIntents.create({amount: 2000, currency: 'usd', customer: jenny.id, payment_method: 'pm_card_visa', confirm: true});
    assert.strictEqual(ok.status, 'succeeded');
    assert.strictEqual(ok.amount_received, 2000);
    assert.match(ok.latest_charge, /^ch_/);
    assert.match(ok.payment_method, /^pm_/);
    const charge = await stripe.charges.retrieve(ok.latest_charge);
    assert.strictEqual(charge.paid, true);
    assert.strictEqual(charge.payment_intent, ok.id);
    await assert.rejects(
      stripe.paymentIntents.create({amount: 500, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true}),
      (e) => e.type === 'StripeCardError' && e.code === 'card_declined' && e.decline_code === 'generic_decline' && e.statusCode === 402);
    const declined = (await stripe.paymentIntents.list({limit: 1})).data[0];
    assert.strictEqual(declined.status, 'requires_payment_method');
    assert.strictEqual(declined.last_payment_error.decline_code, 'generic_decline');
    // Confirm later, after a decline, with a good card.
    const later = await stripe.paymentIntents.confirm(declined.id, {payment_method: 'pm_card_visa'});
    assert.strictEqual(later.status, 'succeeded');
    await assert.rejects(stripe.paymentIntents.cancel(later.id), (e) => e.statusCode === 400);
  });

  await check('manual capture, cancel, and the payment events', async () => {
    const hold = await stripe.paymentIntents.create({amount: 3000, currency: 'eur', capture_method: 'manual', payment_method: 'pm_card_mastercard', confirm: true});
    assert.strictEqual(hold.status, 'requires_capture');
    const captured = await stripe.paymentIntents.capture(hold.id, {amount_to_capture: 2500});
    assert.strictEqual(captured.status, 'succeeded');
    assert.strictEqual(captured.amount_received, 2500);
    const open = await stripe.paymentIntents.create({amount: 100, currency: 'usd'});
    assert.strictEqual(open.status, 'requires_payment_method');
    assert.match(open.client_secret, new RegExp('^' + open.id + '_secret_'));
    const canceled = await stripe.paymentIntents.cancel(open.id, {cancellation_reason: 'abandoned'});
    assert.strictEqual(canceled.status, 'canceled');
    assert.strictEqual(canceled.cancellation_reason, 'abandoned');
    const types = (await stripe.events.list({limit: 100})).data.map((ev) => ev.type);
    for (const t of ['payment_intent.created', 'payment_intent.succeeded', 'charge.succeeded',
      'charge.failed', 'payment_intent.payment_failed', 'payment_intent.canceled', 'charge.captured'])
      assert.ok(types.includes(t), t + ' missing from ' + types.join(','));
  });

  await check('invoices: draft -> open -> paid, with a declined attempt; void; uncollectible', async () => {
    const ii = await stripe.invoiceItems.create({customer: jenny.id, amount: 1500, currency: 'usd', description: 'Seat'});
    assert.strictEqual(ii.invoice, null);
    const inv = await stripe.invoices.create({customer: jenny.id, pending_invoice_items_behavior: 'include'});
    assert.strictEqual(inv.status, 'draft');
    assert.strictEqual(inv.total, 1500);
    assert.strictEqual(inv.lines.data.length, 1);
    const two = await stripe.invoiceItems.create({customer: jenny.id, invoice: inv.id, unit_amount: 750, quantity: 2, currency: 'usd'});
    assert.strictEqual(two.amount, 1500);
    assert.strictEqual((await stripe.invoices.retrieve(inv.id)).amount_due, 3000);
    await stripe.invoices.update(inv.id, {description: 'March'});
    const open = await stripe.invoices.finalizeInvoice(inv.id);
    assert.strictEqual(open.status, 'open');
    assert.ok(open.number, 'a number once finalized');
    await assert.rejects(stripe.invoices.update(inv.id, {description: 'late'}), (e) => e.statusCode === 400);
    await assert.rejects(stripe.invoices.del(inv.id), (e) => e.statusCode === 400);
    await assert.rejects(stripe.invoices.pay(inv.id, {payment_method: 'pm_card_chargeDeclined'}),
      (e) => e.type === 'StripeCardError' && e.statusCode === 402);
    assert.strictEqual((await stripe.invoices.retrieve(inv.id)).status, 'open');
    const paid = await stripe.invoices.pay(inv.id, {payment_method: 'pm_card_visa'});
    assert.strictEqual(paid.status, 'paid');
    assert.strictEqual(paid.amount_paid, 2500, "jenny's 500 of credit paid the rest");
    assert.strictEqual(paid.starting_balance, -500);
    assert.match(paid.charge, /^ch_/);
    await assert.rejects(stripe.invoices.voidInvoice(inv.id), (e) => e.statusCode === 400);

    const v = await stripe.invoices.create({customer: jenny.id});
    await stripe.invoices.finalizeInvoice(v.id);
    assert.strictEqual((await stripe.invoices.voidInvoice(v.id)).status, 'void');
    const u = await stripe.invoices.create({customer: jenny.id});
    await stripe.invoices.finalizeInvoice(u.id);
    assert.strictEqual((await stripe.invoices.markUncollectible(u.id)).status, 'uncollectible');
    const d = await stripe.invoices.create({customer: jenny.id});
    assert.strictEqual((await stripe.invoices.del(d.id)).deleted, true);
    const types = (await stripe.events.list({limit: 100, type: 'invoice.*'})).data.map((ev) => ev.type);
    for (const t of ['invoice.created', 'invoice.finalized', 'invoice.payment_failed', 'invoice.paid',
      'invoice.payment_succeeded', 'invoice.voided', 'invoice.marked_uncollectible', 'invoice.deleted'])
      assert.ok(types.includes(t), t + ' missing from ' + types.join(','));
    const open2 = await stripe.invoices.list({customer: jenny.id, status: 'paid'});
    assert.deepStrictEqual(open2.data.map((i) => i.id), [inv.id]);
  });

  await check('subscriptions: the first invoice is paid; a decline leaves it incomplete; cancel', async () => {
    const product = (await stripe.products.list({limit: 1})).data[0];
    const monthly = (await stripe.prices.list({product: product.id})).data[0];
    const active = await stripe.prices.update(monthly.id, {active: true});
    const sub = await stripe.subscriptions.create({customer: jenny.id, items: [{price: active.id, quantity: 2}], default_payment_method: 'pm_card_visa'});
    assert.strictEqual(sub.status, 'active');
    assert.strictEqual(sub.items.data[0].quantity, 2);
    const inv = await stripe.invoices.retrieve(sub.latest_invoice);
    assert.strictEqual(inv.status, 'paid');
    assert.strictEqual(inv.amount_paid, 3000);
    assert.strictEqual(inv.billing_reason, 'subscription_create');
    const item = await stripe.subscriptionItems.retrieve(sub.items.data[0].id);
    assert.strictEqual(item.subscription, sub.id);
    const bad = await stripe.subscriptions.create({customer: jenny.id, items: [{price: active.id}], default_payment_method: 'pm_card_chargeDeclined'});
    assert.strictEqual(bad.status, 'incomplete');
    assert.strictEqual((await stripe.invoices.retrieve(bad.latest_invoice)).status, 'open');
    const trial = await stripe.subscriptions.create({customer: jenny.id, items: [{price: active.id}], trial_period_days: 14});
    assert.strictEqual(trial.status, 'trialing');
    const found = await stripe.subscriptions.search({query: "status:'active'"});
    assert.deepStrictEqual(found.data.map((x) => x.id), [sub.id]);
    const canceled = await stripe.subscriptions.cancel(sub.id);
    assert.strictEqual(canceled.status, 'canceled');
    await assert.rejects(stripe.subscriptions.create({customer: jenny.id, items: [{price: 'price_nope'}]}),
      (e) => e.statusCode === 400 && e.param === 'items[0][price]');
    const types = (await stripe.events.list({limit: 100, type: 'customer.subscription.*'})).data.map((ev) => ev.type);
    for (const t of ['customer.subscription.created', 'customer.subscription.deleted'])
      assert.ok(types.includes(t), t + ' missing from ' + types.join(','));
  });

  await check('subscription items change; a renewal sends invoice.upcoming and bills the period; expand[]', async () => {
    const product = await stripe.products.create({name: 'Seats'});
    const seat = await stripe.prices.create({product: product.id, currency: 'usd', unit_amount: 700, recurring: {interval: 'month'}});
    const extra = await stripe.prices.create({product: product.id, currency: 'usd', unit_amount: 100, recurring: {interval: 'month'}});
    const sub = await stripe.subscriptions.create({customer: jenny.id, items: [{price: seat.id}], default_payment_method: 'pm_card_visa',
      expand: ['latest_invoice.payment_intent', 'customer']});
    assert.strictEqual(sub.customer.id, jenny.id);
    assert.strictEqual(sub.latest_invoice.payment_intent.status, 'succeeded');
    const changed = await stripe.subscriptions.update(sub.id, {items: [{id: sub.items.data[0].id, quantity: 3}, {price: extra.id}]});
    assert.deepStrictEqual(changed.items.data.map((i) => i.quantity), [3, 1]);
    assert.strictEqual((await stripe.subscriptionItems.retrieve(sub.items.data[0].id)).quantity, 3);
    await assert.rejects(stripe.subscriptions.update(sub.id, {items: [{id: 'si_nope', quantity: 1}]}),
      (e) => e.statusCode === 400 && e.param === 'items[0][id]');
    const res = await fetch(`${base.origin}/_sluice/subscriptions/${sub.id}/renew`, {method: 'POST'});
    const renewed = await res.json();
    assert.strictEqual(renewed.status, 'active');
    const inv = await stripe.invoices.retrieve(renewed.latest_invoice, {expand: ['customer']});
    assert.strictEqual(inv.billing_reason, 'subscription_cycle');
    assert.strictEqual(inv.amount_paid, 3 * 700 + 100);
    assert.strictEqual(inv.customer.email, jenny.email);
    const upcoming = (await stripe.events.list({type: 'invoice.upcoming', limit: 1})).data[0];
    assert.strictEqual(upcoming.data.object.subscription, sub.id);
    assert.strictEqual(upcoming.data.object.amount_due, 3 * 700 + 100);
    const invoices = await stripe.invoices.list({subscription: sub.id, expand: ['data.customer']});
    assert.ok(invoices.data.length === 2 && invoices.data.every((i) => i.customer.id === jenny.id));
    await assert.rejects(stripe.customers.retrieve(jenny.id, {expand: ['email']}),
      (e) => e.statusCode === 400 && e.param === 'expand');
    await stripe.subscriptions.cancel(sub.id);
  });

  await check('checkout sessions and payment links, completed as a customer would', async () => {
    const product = await stripe.products.create({name: 'Course'});
    const once = await stripe.prices.create({product: product.id, currency: 'usd', unit_amount: 4900});
    const monthly = await stripe.prices.create({product: product.id, currency: 'usd', unit_amount: 900, recurring: {interval: 'month'}});
    const pay = await stripe.checkout.sessions.create({mode: 'payment', success_url: 'https://example.com/ok',
      line_items: [{price: once.id, quantity: 2}], metadata: {order: '42'}});
    assert.strictEqual(pay.status, 'open');
    assert.strictEqual(pay.amount_total, 9800);
    assert.match(pay.url, /\/_sluice\/checkout\/cs_test_/);
    const page = await fetch(pay.url);
    assert.match(await page.text(), /Course/);
    const declined = await fetch(pay.url + '/complete', {method: 'POST', body: new URLSearchParams({payment_method: 'pm_card_chargeDeclined'})});
    assert.strictEqual(declined.status, 402);
    assert.strictEqual((await stripe.checkout.sessions.retrieve(pay.id)).status, 'open');
    const done = await (await fetch(pay.url + '/complete', {method: 'POST', body: new URLSearchParams({email: 'buyer@example.com'})})).json();
    assert.strictEqual(done.status, 'complete');
    assert.strictEqual(done.payment_status, 'paid');
    const paid = await stripe.checkout.sessions.retrieve(pay.id, {expand: ['payment_intent', 'line_items']});
    assert.strictEqual(paid.payment_intent.status, 'succeeded');
    assert.strictEqual(paid.payment_intent.amount, 9800);
    assert.strictEqual(paid.line_items.data[0].quantity, 2);
    assert.strictEqual(paid.customer_details.email, 'buyer@example.com');
    const items = await stripe.checkout.sessions.listLineItems(pay.id);
    assert.strictEqual(items.data[0].price.id, once.id);
    const subs = await stripe.checkout.sessions.create({mode: 'subscription', customer: jenny.id, success_url: 'https://example.com/ok',
      line_items: [{price: monthly.id, quantity: 1}]});
    const subDone = await (await fetch(subs.url + '/complete', {method: 'POST'})).json();
    assert.match(subDone.subscription, /^sub_/);
    assert.strictEqual((await stripe.subscriptions.retrieve(subDone.subscription)).status, 'active');
    await assert.rejects(stripe.checkout.sessions.create({mode: 'payment', success_url: 'https://example.com/ok', line_items: [{price: monthly.id, quantity: 1}]}),
      (e) => e.statusCode === 400 && e.param === 'line_items');
    const gone = await stripe.checkout.sessions.create({mode: 'payment', success_url: 'https://example.com/ok', line_items: [{price: once.id, quantity: 1}]});
    assert.strictEqual((await stripe.checkout.sessions.expire(gone.id)).status, 'expired');
    const link = await stripe.paymentLinks.create({line_items: [{price: once.id, quantity: 1}]});
    assert.match(link.url, /\/_sluice\/pay\/plink_/);
    const bought = await (await fetch(link.url + '/complete', {method: 'POST'})).json();
    assert.strictEqual(bought.payment_link, link.id);
    assert.strictEqual(bought.amount_total, 4900);
    await stripe.paymentLinks.update(link.id, {active: false});
    assert.strictEqual((await fetch(link.url + '/complete', {method: 'POST'})).status, 400);
    const completed = (await stripe.events.list({type: 'checkout.session.completed'})).data;
    assert.deepStrictEqual(completed.map((ev) => ev.data.object.id).sort(), [pay.id, subs.id, bought.id].sort());
    assert.ok((await stripe.events.list({type: 'checkout.session.expired'})).data.length === 1);
  });

  await check('delete, and the events of every change', async () => {
    const gone = await stripe.customers.create({email: 'gone@example.com'});
    const del = await stripe.customers.del(gone.id);
    assert.strictEqual(del.deleted, true);
    await assert.rejects(stripe.customers.retrieve(gone.id), (e) => e.statusCode === 404);
    const events = await stripe.events.list({type: 'customer.deleted'});
    assert.strictEqual(events.data[0].data.object.id, gone.id);
    const updated = await stripe.events.list({type: 'customer.updated', limit: 1});
    assert.ok(updated.data[0].data.previous_attributes, 'updates carry previous_attributes');
    const one = await stripe.events.retrieve(events.data[0].id);
    assert.strictEqual(one.type, 'customer.deleted');
  });

  await check('deliveries: signed, every wanted event once, retried while the receiver fails', async () => {
    const flaky = await stripe.customers.create({email: 'flaky@example.com'});
    // customer.created: 1 + 250 bulk + idem + gone + flaky; updated: 2, and jenny's credit
    // used by an invoice: 1; product.created: 3
    const want = 1 + 250 + 1 + 1 + 1 + 3 + 3;
    const ok = await waitFor(() => rx.got.length >= want, 20000);
    assert.ok(ok, `received ${rx.got.length} of ${want}`);
    assert.ok(rx.got.every((e) => !e.bad), 'every delivery verified with constructEvent');
    const ids = rx.got.map((e) => e.id);
    assert.strictEqual(new Set(ids).size, ids.length, 'each event once');
    assert.ok(!rx.got.some((e) => e.type === 'customer.deleted'), 'only the enabled types');
    assert.ok(rx.failedOnce.size === 1 && ids.includes([...rx.failedOnce][0]), 'the failed delivery was retried');
    assert.ok(rx.got.some((e) => e.data.object.id === flaky.id));
  });

  rx.server.close();
  finish();
}
main().catch((e) => { console.error(e); process.exit(1); });
