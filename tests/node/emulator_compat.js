#!/usr/bin/env node
// The official stripe package against `sluice emulate`, written as code for real Stripe is:
// Stripe's test payment methods and card tokens, declines worded as Stripe words them, 3D Secure,
// disputes from test cards.
// Usage: node emulator_compat.js http://127.0.0.1:PORT
'use strict';
const assert = require('assert');
const Stripe = require(require.resolve('stripe', {paths: [__dirname]}));

const base = new URL(process.argv[2]);
const stripe = new Stripe('sk_test_compat', {
  host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0,
});

let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log('ok: ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL: ' + name + ': ' + (e.stack || e));
  }
}

async function declines(promise, fields) {
  try {
    await promise;
  } catch (e) {
    for (const [k, v] of Object.entries(fields)) assert.strictEqual(e.raw[k], v, k);
    return e;
  }
  assert.fail('expected a decline');
}

async function main() {
  const jenny = await stripe.customers.create({email: 'jenny@example.com'});

  await check('attaching pm_card_visa makes a new payment method on the customer', async () => {
    const pm = await stripe.paymentMethods.attach('pm_card_visa', {customer: jenny.id});
    assert.match(pm.id, /^pm_/);
    assert.notStrictEqual(pm.id, 'pm_card_visa');
    assert.strictEqual(pm.customer, jenny.id);
    assert.strictEqual(pm.card.brand, 'visa');
    assert.strictEqual(pm.card.last4, '4242');
    const listed = await stripe.paymentMethods.list({customer: jenny.id, type: 'card'});
    assert.ok(listed.data.some((x) => x.id === pm.id));
    const again = await stripe.paymentMethods.attach('pm_card_visa', {customer: jenny.id});
    assert.notStrictEqual(again.id, pm.id, 'each attachment makes its own payment method');
    const off = await stripe.paymentMethods.detach(pm.id);
    assert.strictEqual(off.customer, null);
  });

  await check('a declining card is refused when attached; chargeCustomerFail attaches and declines when charged', async () => {
    await declines(stripe.paymentMethods.attach('pm_card_chargeDeclined', {customer: jenny.id}),
      {type: 'card_error', code: 'card_declined', decline_code: 'generic_decline'});
    const pm = await stripe.paymentMethods.attach('pm_card_chargeCustomerFail', {customer: jenny.id});
    assert.strictEqual(pm.card.last4, '0341');
    await declines(stripe.paymentIntents.create({amount: 900, currency: 'usd', customer: jenny.id, payment_method: pm.id, confirm: true}),
      {type: 'card_error', code: 'card_declined', message: 'Your card was declined.'});
  });

  await check('declines say what Stripe says: insufficient funds, expired card, incorrect CVC', async () => {
    await declines(stripe.paymentIntents.create({amount: 700, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclinedInsufficientFunds', confirm: true}),
      {code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.'});
    await declines(stripe.paymentIntents.create({amount: 700, currency: 'usd', payment_method: 'pm_card_chargeDeclinedExpiredCard', confirm: true}),
      {code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.', param: 'exp_month'});
    await declines(stripe.paymentIntents.create({amount: 700, currency: 'usd', payment_method: 'pm_card_chargeDeclinedIncorrectCvc', confirm: true}),
      {code: 'incorrect_cvc', message: "Your card's security code is incorrect.", param: 'cvc'});
  });

  await check('payment_methods.create with card[token]=tok_visa or a test card number', async () => {
    const byToken = await stripe.paymentMethods.create({type: 'card', card: {token: 'tok_mastercard'}});
    assert.strictEqual(byToken.card.brand, 'mastercard');
    assert.strictEqual(byToken.card.last4, '4444');
    const byNumber = await stripe.paymentMethods.create({type: 'card', card: {number: '4000000000000077', exp_month: 12, exp_year: 2034, cvc: '123'}});
    assert.strictEqual(byNumber.card.last4, '0077');
    assert.strictEqual(byNumber.card.exp_year, 2034);
    assert.strictEqual(byNumber.card.number, undefined, 'the number is never kept');
    assert.strictEqual(byNumber.card.cvc, undefined);
    const paid = await stripe.paymentIntents.create({amount: 1200, currency: 'usd', payment_method: byNumber.id, confirm: true});
    assert.strictEqual(paid.status, 'succeeded');
    await declines(stripe.paymentMethods.create({type: 'card', card: {number: '4242424242424241', exp_month: 12, exp_year: 2034}}),
      {type: 'card_error', code: 'incorrect_number'});
    await assert.rejects(stripe.paymentMethods.create({type: 'card', card: {token: 'tok_nonesuch'}}), /No such token: 'tok_nonesuch'/);
  });

  await check('source=tok_visa gives the customer a card as its default source, which invoices charge', async () => {
    const bob = await stripe.customers.create({email: 'bob@example.com', source: 'tok_visa'});
    assert.match(bob.default_source, /^card_/);
    const card = await stripe.customers.retrieveSource(bob.id, bob.default_source);
    assert.strictEqual(card.object, 'card');
    assert.strictEqual(card.brand, 'Visa');
    assert.strictEqual(card.customer, bob.id);
    const amex = await stripe.customers.createSource(bob.id, {source: 'tok_amex'});
    assert.strictEqual(amex.last4, '8431');
    const sources = await stripe.customers.listSources(bob.id);
    assert.strictEqual(sources.data.length, 2);
    await stripe.invoiceItems.create({customer: bob.id, amount: 1500, currency: 'usd'});
    const inv = await stripe.invoices.create({customer: bob.id, pending_invoice_items_behavior: 'include'});
    const paid = await stripe.invoices.pay(inv.id);
    assert.strictEqual(paid.status, 'paid', 'a draft is finalized and paid from the default source');
    await declines(stripe.customers.createSource(bob.id, {source: 'tok_chargeDeclined'}), {code: 'card_declined'});
    const gone = await stripe.customers.deleteSource(bob.id, amex.id);
    assert.strictEqual(gone.deleted, true);
  });

  await check('3D Secure cards: requires_action on session, authentication_required off session', async () => {
    const pi = await stripe.paymentIntents.create({amount: 2500, currency: 'usd', payment_method: 'pm_card_threeDSecure2Required', confirm: true});
    assert.strictEqual(pi.status, 'requires_action');
    assert.strictEqual(pi.next_action.type, 'use_stripe_sdk');
    const pm = await stripe.paymentMethods.attach('pm_card_authenticationRequired', {customer: jenny.id});
    await declines(stripe.paymentIntents.create({amount: 2500, currency: 'usd', customer: jenny.id, payment_method: pm.id, confirm: true, off_session: true}),
      {code: 'authentication_required', decline_code: 'authentication_required'});
  });

  await check('pm_card_createDispute pays, then the charge is disputed; a dispute closes', async () => {
    const pi = await stripe.paymentIntents.create({amount: 3000, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true});
    assert.strictEqual(pi.status, 'succeeded');
    const disputes = await stripe.disputes.list({payment_intent: pi.id});
    assert.strictEqual(disputes.data.length, 1);
    const dp = disputes.data[0];
    assert.strictEqual(dp.charge, pi.latest_charge);
    assert.strictEqual(dp.amount, 3000);
    assert.strictEqual(dp.status, 'needs_response');
    const charge = await stripe.charges.retrieve(pi.latest_charge);
    assert.strictEqual(charge.disputed, true);
    const updated = await stripe.disputes.update(dp.id, {evidence: {uncategorized_text: 'shipped'}});
    assert.strictEqual(updated.evidence.uncategorized_text, 'shipped');
    const closed = await stripe.disputes.close(dp.id);
    assert.strictEqual(closed.status, 'lost');
    const types = (await stripe.events.list({limit: 100})).data.map((e) => e.type);
    for (const t of ['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed', 'payment_method.attached', 'customer.source.created'])
      assert.ok(types.includes(t), t);
  });

  await check('no example values: times from state or null, a price per invoice item, a balance transaction per charge', async () => {
    const cus = await stripe.customers.create({email: 'times@example.com'});
    const now = Math.floor(Date.now() / 1000);
    const near = (t) => assert.ok(Math.abs(t - now) < 60, `${t} is not now (${now})`);
    const a = await stripe.invoiceItems.create({customer: cus.id, amount: 700, currency: 'usd'});
    const b = await stripe.invoiceItems.create({customer: cus.id, amount: 900, currency: 'usd'});
    near(a.date);
    assert.notStrictEqual(a.price.id, b.price.id);
    assert.strictEqual(b.price.unit_amount, 900);
    const coupon = await stripe.coupons.create({percent_off: 10});
    assert.strictEqual(coupon.redeem_by, null);
    const inv = await stripe.invoices.create({customer: cus.id, pending_invoice_items_behavior: 'include', collection_method: 'send_invoice', days_until_due: 7});
    near(inv.period_start);
    assert.strictEqual(inv.due_date, inv.created + 7 * 86400);
    assert.strictEqual(inv.next_payment_attempt, null);
    const one = await stripe.paymentIntents.create({amount: 500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true});
    const two = await stripe.paymentIntents.create({amount: 600, currency: 'usd', payment_method: 'pm_card_visa', confirm: true});
    const c1 = await stripe.charges.retrieve(one.latest_charge), c2 = await stripe.charges.retrieve(two.latest_charge);
    assert.match(c1.balance_transaction, /^txn_/);
    assert.notStrictEqual(c1.balance_transaction, c2.balance_transaction);
    const prod = await stripe.products.create({name: 'Seats'});
    const price = await stripe.prices.create({product: prod.id, currency: 'usd', unit_amount: 1000, recurring: {interval: 'month'}});
    const sub = await stripe.subscriptions.create({customer: cus.id, items: [{price: price.id}], default_payment_method: 'pm_card_visa', trial_end: 'now'});
    assert.strictEqual(sub.status, 'active');
    assert.strictEqual(sub.trial_end, null);
    assert.strictEqual(sub.cancel_at, null);
    near(sub.billing_cycle_anchor);
    const trial = await stripe.subscriptions.create({customer: cus.id, items: [{price: price.id}], default_payment_method: 'pm_card_visa', trial_period_days: 7});
    assert.strictEqual(trial.status, 'trialing');
    const ended = await stripe.subscriptions.update(trial.id, {trial_end: 'now'});
    assert.strictEqual(ended.status, 'active');
    near(ended.trial_end);
  });

  await check('prices: currency_options and tiers carry integers, up_to inf is null', async () => {
    const prod = await stripe.products.create({name: 'Tiered'});
    const multi = await stripe.prices.create({product: prod.id, currency: 'usd', unit_amount: 1000, currency_options: {eur: {unit_amount: 900}}});
    assert.strictEqual(multi.currency_options.eur.unit_amount, 900);
    assert.strictEqual(multi.currency_options.eur.unit_amount_decimal, '900');
    const tiered = await stripe.prices.create({product: prod.id, currency: 'usd', billing_scheme: 'tiered', tiers_mode: 'graduated', recurring: {interval: 'month'},
      tiers: [{up_to: 10, unit_amount: 100}, {up_to: 'inf', unit_amount: 50}]});
    assert.strictEqual(tiered.tiers[0].up_to, 10);
    assert.strictEqual(tiered.tiers[1].up_to, null);
    assert.strictEqual(tiered.tiers[1].unit_amount, 50);
  });

  await check("Stripe's limits: maxLength from the API description, metadata keys, key and value lengths", async () => {
    await assert.rejects(stripe.customers.create({name: 'x'.repeat(6000)}), (e) => e.raw.param === 'name' && /at most 256 characters/.test(e.message));
    const ok = await stripe.customers.create({name: 'é'.repeat(256)});
    assert.strictEqual(ok.name.length, 256, 'characters, not bytes');
    const many = {};
    for (let i = 0; i < 51; i++) many['k' + i] = 'v';
    await assert.rejects(stripe.customers.create({metadata: many}), /up to 50 keys/);
    await assert.rejects(stripe.customers.create({metadata: {['k'.repeat(41)]: 'v'}}), /at most 40 characters/);
    await assert.rejects(stripe.customers.create({metadata: {k: 'v'.repeat(501)}}), /at most 500 characters/);
    delete many.k50;
    const fifty = await stripe.customers.create({metadata: many});
    assert.strictEqual(Object.keys(fifty.metadata).length, 50);
  });

  await check('refunds: whole or in part, of a payment intent or a charge; charge.refunded', async () => {
    const pi = await stripe.paymentIntents.create({amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true});
    const part = await stripe.refunds.create({payment_intent: pi.id, amount: 1500});
    assert.strictEqual(part.amount, 1500);
    assert.strictEqual(part.status, 'succeeded');
    assert.strictEqual(part.charge, pi.latest_charge);
    let charge = await stripe.charges.retrieve(pi.latest_charge);
    assert.strictEqual(charge.amount_refunded, 1500);
    assert.strictEqual(charge.refunded, false);
    await assert.rejects(stripe.refunds.create({charge: charge.id, amount: 4000}), /greater than unrefunded amount/);
    const rest = await stripe.refunds.create({charge: charge.id});
    assert.strictEqual(rest.amount, 3500);
    charge = await stripe.charges.retrieve(pi.latest_charge);
    assert.strictEqual(charge.refunded, true);
    await assert.rejects(stripe.refunds.create({charge: charge.id}), (e) => e.code === 'charge_already_refunded');
    const updated = await stripe.refunds.update(part.id, {metadata: {order: '42'}});
    assert.strictEqual(updated.metadata.order, '42');
    const listed = await stripe.refunds.list({charge: charge.id});
    assert.strictEqual(listed.data.length, 2);
  });

  await check('setup intents: a card saved for a customer; declines, 3D Secure, cancel', async () => {
    const cus = await stripe.customers.create({email: 'setup@example.com'});
    const si = await stripe.setupIntents.create({customer: cus.id, payment_method: 'pm_card_visa', confirm: true});
    assert.strictEqual(si.status, 'succeeded');
    assert.match(si.client_secret, /^seti_.*_secret_/);
    const pm = await stripe.paymentMethods.retrieve(si.payment_method);
    assert.strictEqual(pm.customer, cus.id, 'the saved card is attached');
    const later = await stripe.setupIntents.create({customer: cus.id});
    assert.strictEqual(later.status, 'requires_payment_method');
    const done = await stripe.setupIntents.confirm(later.id, {payment_method: 'pm_card_mastercard'});
    assert.strictEqual(done.status, 'succeeded');
    await declines(stripe.setupIntents.create({payment_method: 'pm_card_chargeDeclined', confirm: true}), {code: 'card_declined'});
    const action = await stripe.setupIntents.create({payment_method: 'pm_card_authenticationRequired', confirm: true});
    assert.strictEqual(action.status, 'requires_action');
    const canceled = await stripe.setupIntents.cancel(action.id);
    assert.strictEqual(canceled.status, 'canceled');
  });

  await check('credit notes on an invoice: amount due lowered; void', async () => {
    const cus = await stripe.customers.create({email: 'credit@example.com'});
    await stripe.invoiceItems.create({customer: cus.id, amount: 2000, currency: 'usd'});
    const inv = await stripe.invoices.finalizeInvoice((await stripe.invoices.create({customer: cus.id, pending_invoice_items_behavior: 'include'})).id);
    const cn = await stripe.creditNotes.create({invoice: inv.id, lines: [{type: 'custom_line_item', unit_amount: 500, quantity: 1, description: 'goodwill'}]});
    assert.strictEqual(cn.amount, 500);
    assert.strictEqual(cn.status, 'issued');
    assert.strictEqual(cn.customer, cus.id);
    assert.strictEqual((await stripe.invoices.retrieve(inv.id)).amount_due, 1500);
    await assert.rejects(stripe.creditNotes.create({invoice: inv.id, amount: 99999}), /at most the invoice's total/);
    const voided = await stripe.creditNotes.voidCreditNote(cn.id);
    assert.strictEqual(voided.status, 'void');
  });

  await check('coupons applied: a customer discount (created, updated, deleted), promotion codes, tax rates, invoice totals', async () => {
    const c20 = await stripe.coupons.create({percent_off: 20, duration: 'forever'});
    const c5 = await stripe.coupons.create({amount_off: 500, currency: 'usd', duration: 'once'});
    const cus = await stripe.customers.create({email: 'deal@example.com', coupon: c20.id});
    assert.strictEqual(cus.discount.coupon.id, c20.id);
    assert.strictEqual(cus.coupon, undefined, 'coupon is no field of a customer');
    await stripe.invoiceItems.create({customer: cus.id, amount: 1000, currency: 'usd'});
    const inv = await stripe.invoices.create({customer: cus.id, pending_invoice_items_behavior: 'include'});
    assert.strictEqual(inv.subtotal, 1000);
    assert.strictEqual(inv.total, 800);
    assert.strictEqual(inv.amount_due, 800);
    const promo = await stripe.promotionCodes.create({coupon: c5.id, code: 'FIVEOFF'});
    assert.strictEqual(promo.coupon.id, c5.id);
    assert.strictEqual(promo.active, true);
    await assert.rejects(stripe.promotionCodes.create({coupon: c5.id, code: 'FIVEOFF'}), /already exists/);
    const switched = await stripe.customers.update(cus.id, {promotion_code: promo.id});
    assert.strictEqual(switched.discount.coupon.id, c5.id);
    assert.strictEqual(switched.discount.promotion_code, promo.id);
    const cleared = await stripe.customers.update(cus.id, {coupon: ''});
    assert.strictEqual(cleared.discount, null);
    await assert.rejects(stripe.customers.create({coupon: 'nope'}), /No such coupon: 'nope'/);
    const prod = await stripe.products.create({name: 'Plan'});
    const price = await stripe.prices.create({product: prod.id, currency: 'usd', unit_amount: 2000, recurring: {interval: 'month'}});
    const sub = await stripe.subscriptions.create({customer: cus.id, items: [{price: price.id}], coupon: c20.id, default_payment_method: 'pm_card_visa'});
    assert.strictEqual(sub.discount.coupon.id, c20.id);
    const first = await stripe.invoices.retrieve(sub.latest_invoice);
    assert.strictEqual(first.amount_paid, 1600, 'the subscription bills the discounted price');
    const rate = await stripe.taxRates.create({display_name: 'VAT', percentage: 20, inclusive: false});
    assert.strictEqual(rate.percentage, 20);
    assert.strictEqual((await stripe.taxRates.update(rate.id, {active: false})).active, false);
    const types = (await stripe.events.list({limit: 100})).data.map((e) => e.type);
    for (const t of ['customer.discount.created', 'customer.discount.updated', 'customer.discount.deleted', 'promotion_code.created', 'tax_rate.created', 'tax_rate.updated'])
      assert.ok(types.includes(t), t);
  });

  await check('subscription schedules and test clocks, as Stripe\'s test helpers move time', async () => {
    const clock = await stripe.testHelpers.testClocks.create({frozen_time: 1700000000, name: 'ci'});
    assert.strictEqual(clock.status, 'ready');
    const cus = await stripe.customers.create({email: 'clock@example.com', test_clock: clock.id, payment_method: 'pm_card_visa', invoice_settings: {default_payment_method: 'pm_card_visa'}});
    const prod = await stripe.products.create({name: 'Monthly'});
    const price = await stripe.prices.create({product: prod.id, currency: 'usd', unit_amount: 1500, recurring: {interval: 'month'}});
    const sched = await stripe.subscriptionSchedules.create({customer: cus.id, start_date: 'now', phases: [{items: [{price: price.id, quantity: 1}], iterations: 2}]});
    assert.strictEqual(sched.status, 'active');
    assert.match(sched.subscription, /^sub_/);
    const sub = await stripe.subscriptions.retrieve(sched.subscription);
    assert.strictEqual(sub.status, 'active');
    const future = await stripe.subscriptionSchedules.create({customer: cus.id, start_date: 1900000000, phases: [{items: [{price: price.id}]}]});
    assert.strictEqual(future.status, 'not_started');
    assert.strictEqual((await stripe.subscriptionSchedules.cancel(future.id)).status, 'canceled');
    const released = await stripe.subscriptionSchedules.release(sched.id);
    assert.strictEqual(released.status, 'released');
    assert.strictEqual(released.released_subscription, sub.id);
    const advanced = await stripe.testHelpers.testClocks.advance(clock.id, {frozen_time: sub.current_period_end + 60});
    assert.strictEqual(advanced.frozen_time, sub.current_period_end + 60);
    const invoices = await stripe.invoices.list({subscription: sub.id});
    assert.ok(invoices.data.some((i) => i.billing_reason === 'subscription_cycle'), 'the clock passing the period end renews');
    await assert.rejects(stripe.testHelpers.testClocks.advance(clock.id, {frozen_time: 1600000000}), /only move forward/);
    const types = (await stripe.events.list({limit: 100})).data.map((e) => e.type);
    for (const t of ['subscription_schedule.created', 'subscription_schedule.aborted', 'subscription_schedule.released', 'test_helpers.test_clock.advancing', 'test_helpers.test_clock.ready'])
      assert.ok(types.includes(t), t);
    assert.strictEqual((await stripe.testHelpers.testClocks.del(clock.id)).deleted, true);
  });

  await check('a bank debit processes; a trial that ends with no way to pay pauses; transfers reverse', async () => {
    const sepa = await stripe.paymentMethods.create({type: 'sepa_debit', sepa_debit: {iban: 'AT611904300234573201'}, billing_details: {name: 'Jenny', email: 'j@example.com'}});
    const pi = await stripe.paymentIntents.create({amount: 1000, currency: 'eur', payment_method_types: ['sepa_debit'], payment_method: sepa.id, confirm: true,
      mandate_data: {customer_acceptance: {type: 'offline'}}});
    assert.strictEqual(pi.status, 'processing');
    const cus = await stripe.customers.create({email: 'pause@example.com'});
    const prod = await stripe.products.create({name: 'Trial'});
    const price = await stripe.prices.create({product: prod.id, currency: 'usd', unit_amount: 900, recurring: {interval: 'month'}});
    const sub = await stripe.subscriptions.create({customer: cus.id, items: [{price: price.id}], trial_period_days: 7,
      trial_settings: {end_behavior: {missing_payment_method: 'pause'}}});
    assert.strictEqual((await stripe.subscriptions.update(sub.id, {trial_end: 'now'})).status, 'paused');
    const tr = await stripe.transfers.create({amount: 1000, currency: 'usd', destination: 'acct_1'});
    const rev = await stripe.transfers.createReversal(tr.id, {amount: 400});
    assert.strictEqual(rev.amount, 400);
    const after = await stripe.transfers.retrieve(tr.id);
    assert.strictEqual(after.amount_reversed, 400);
    assert.strictEqual(after.reversed, false);
    await assert.rejects(stripe.transfers.createReversal(tr.id, {amount: 700}), /at most 600/);
    const types = (await stripe.events.list({limit: 100})).data.map((e) => e.type);
    for (const t of ['payment_intent.processing', 'customer.subscription.paused', 'transfer.reversed'])
      assert.ok(types.includes(t), t);
  });

  await check("invoices.upcoming, a quote's lines, a customer's credit applied at finalize", async () => {
    const cus = await stripe.customers.create({email: 'next@example.com', balance: -700});
    await stripe.invoiceItems.create({customer: cus.id, amount: 1200, currency: 'usd'});
    const next = await stripe.rawRequest('GET', '/v1/invoices/upcoming?customer=' + cus.id, null);
    assert.strictEqual(next.amount_due, 1200);
    assert.strictEqual(next.lines.data.length, 1);
    assert.strictEqual(next.id, undefined, 'an upcoming invoice has no id');
    await assert.rejects(stripe.rawRequest('GET', '/v1/invoices/upcoming?customer=cus_nope', null), /No such customer/);
    const inv = await stripe.invoices.create({customer: cus.id, pending_invoice_items_behavior: 'include'});
    const open = await stripe.invoices.finalizeInvoice(inv.id);
    assert.strictEqual(open.amount_due, 500, 'the credit pays 700 of 1200');
    assert.strictEqual(open.starting_balance, -700);
    assert.strictEqual(open.ending_balance, 0);
    assert.strictEqual((await stripe.customers.retrieve(cus.id)).balance, 0);
    const quote = await stripe.quotes.create({customer: cus.id});
    const lines = await stripe.quotes.listLineItems(quote.id);
    assert.strictEqual(lines.object, 'list');
    await assert.rejects(stripe.quotes.listLineItems('qt_nope'), /No such quote: 'qt_nope'/);
  });

  await check('operations not kept answer as the stateless mock does, marked Sluice-Stateless', async () => {
    const vl = await stripe.radar.valueLists.create({alias: 'blocked', name: 'Blocked', metadata: {user: '7'}});
    assert.strictEqual(vl.object, 'radar.value_list');
    assert.strictEqual(vl.alias, 'blocked');
    assert.strictEqual(vl.metadata.user, '7');
    assert.match(vl.id, /^rsl_/);
    assert.strictEqual(vl.lastResponse.headers['sluice-stateless'], 'true');
    const reports = await stripe.reporting.reportTypes.list();
    assert.strictEqual(reports.data[0].object, 'reporting.report_type');
    const gone = await stripe.radar.valueLists.del('rsl_123');
    assert.strictEqual(gone.deleted, true);
    assert.strictEqual(gone.id, 'rsl_123');
    const quote = await stripe.quotes.create({customer: (await stripe.customers.create({})).id});
    assert.strictEqual(quote.status, 'draft');
    assert.strictEqual((await stripe.quotes.finalizeQuote(quote.id)).status, 'open');
    assert.strictEqual((await stripe.quotes.accept(quote.id)).status, 'accepted', 'quotes are kept');
    await assert.rejects(stripe.quotes.cancel(quote.id), /status is accepted/);
    const topup = await stripe.topups.create({amount: 2000, currency: 'usd', description: 'float'});
    assert.strictEqual((await stripe.topups.retrieve(topup.id)).amount, 2000, 'top-ups are kept');
    const kept = await stripe.customers.create({email: 'kept@example.com'});
    assert.strictEqual(kept.lastResponse.headers['sluice-stateless'], undefined);
  });

  console.log(failed ? `${failed} failed` : 'all passed');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log('FAIL: ' + (e.stack || e));
  process.exit(1);
});
