// The dashboard in a real browser (run by tests/e2e/dashboard.sh, which starts sluice serve):
// sign-in, the inbox's filters, live updates, replay, a failed run retried, a flow disabled,
// Run now, CSRF refused, sign-out; screenshots of each page at 1280 px and at phone width.
'use strict';
const crypto = require('crypto');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const DASH = process.env.DASH_URL;
const HOOK = process.env.HOOK_URL;
const SECRET = process.env.WEBHOOK_SECRET;
const TOKEN = process.env.SLUICE_ADMIN_TOKEN;
const SHOTS = process.env.SHOTS_DIR;

let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    console.log('ok: ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL: ' + name + ': ' + (e && e.stack ? e.stack.split('\n').slice(0, 4).join('\n') : e));
  }
}
function check(cond, msg) { if (!cond) throw new Error(msg); }

async function post(event) {
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const v1 = crypto.createHmac('sha256', SECRET).update(t + '.' + body).digest('hex');
  const r = await fetch(HOOK, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${v1}` } });
  check(r.status === 200, 'webhook answered ' + r.status);
}
function event(id, type, object) {
  return { id, object: 'event', type, created: Math.floor(Date.now() / 1000), livemode: false, data: { object } };
}
const invoice = (id, customer) => ({ id, object: 'invoice', customer, lines: { data: [{ id: 'il_1', amount: 5000 }, { id: 'il_2', amount: 300 }] } });

async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}
async function rows(page) { return page.locator('main tbody tr').count(); }
async function waitRows(page, n) {
  await page.waitForFunction((want) => document.querySelectorAll('main tbody tr').length === want, n, { timeout: 8000 });
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(8000);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[013]/.test(m.text())) consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await step('a visitor is sent to sign in; a wrong token is refused', async () => {
    await page.goto(DASH + '/inbox?type=invoice.*');
    await page.waitForURL(/\/signin\?next=/);
    await shot(page, 'signin-1280');
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('button[type=submit]');
    await page.getByText('That is not the admin token.').waitFor();
    const r = await page.evaluate(() => fetch('/api/flows').then((x) => x.status));
    check(r === 401, 'the API answered ' + r + ' before signing in');
  });

  await step('signing in leads back to the page asked for, with an HttpOnly SameSite=Strict cookie', async () => {
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/inbox\?type=invoice/);
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === 'sl_session');
    check(c && c.httpOnly && c.sameSite === 'Strict' && c.expires > Date.now() / 1000, 'cookie: ' + JSON.stringify(c));
    check(!(await page.evaluate(() => document.cookie)).includes('sl_session'), 'the script can read the session cookie');
    await page.getByText('No event matches these filters.').waitFor();
  });

  await step('the inbox shows a new event live, without reloading', async () => {
    await page.goto(DASH + '/inbox');
    await page.getByText('The inbox is empty.').waitFor();
    await page.waitForTimeout(1300); // the stream's first look
    await post(event('evt_paid_1', 'invoice.paid', invoice('in_111', 'cus_AAA')));
    await page.locator('main tbody tr', { hasText: 'evt_paid_1' }).waitFor();
    await post(event('evt_cus_1', 'customer.created', { id: 'cus_BBB', object: 'customer' }));
    await post(event('evt_inv_2', 'invoice.created', { id: 'in_222', object: 'invoice', customer: 'cus_CCC' }));
    await waitRows(page, 3);
  });

  await step('inbox filters: type, wildcard, connection, object id; in the URL; back button', async () => {
    await page.fill('#f-type', 'invoice.*');
    await page.press('#f-type', 'Enter');
    await page.waitForURL(/type=invoice\.\*/);
    await waitRows(page, 2);
    await page.fill('#f-type', 'customer.created');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/type=customer\.created/);
    await waitRows(page, 1);
    await page.goBack();
    await page.waitForURL(/type=invoice\.\*/);
    await waitRows(page, 2);
    check((await page.inputValue('#f-type')) === 'invoice.*', 'the form does not show the URL\'s filter');
    await page.goto(DASH + '/inbox?connection=shop');
    await waitRows(page, 3);
    await page.goto(DASH + '/inbox?object=cus_BBB');
    await waitRows(page, 1);
    await page.getByText('evt_cus_1').waitFor();
    // Keyset pages through the API: two, then the rest after the first page's last.
    const pages = await page.evaluate(async () => {
      const a = await (await fetch('/api/events?limit=2')).json();
      const b = await (await fetch('/api/events?limit=2&before=' + encodeURIComponent(a.next))).json();
      const bad = await fetch('/api/events?before=yesterday');
      return { a: a.events.map((e) => e.id), b: b.events.map((e) => e.id), next: b.next, bad: bad.status };
    });
    check(JSON.stringify(pages.a) === '["evt_inv_2","evt_cus_1"]' && JSON.stringify(pages.b) === '["evt_paid_1"]' && pages.next === null,
      'pages: ' + JSON.stringify(pages));
    check(pages.bad === 400, 'a bad cursor answered ' + pages.bad);
    await page.goto(DASH + '/inbox?connection=shop&type=charge.*');
    await page.getByText('No event matches these filters.').waitFor();
    await page.goto(DASH + '/inbox');
    await waitRows(page, 3);
    await shot(page, 'inbox-1280');
  });

  await step('the inbox is usable by keyboard', async () => {
    await page.locator('main tbody tr').first().focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/events\//);
  });

  await step('an event: its payload, the failed run it started; Replay starts a new one live', async () => {
    await page.goto(DASH + '/events/evt_paid_1');
    await page.locator('.json').getByText('"in_111"').first().waitFor();
    await page.locator('main tbody tr .s-failed').waitFor();
    await page.click('#replay');
    await page.locator('main tbody tr .s-succeeded').waitFor();
    await waitRows(page, 2);
    await shot(page, 'event-1280');
  });

  await step('a failed run: the failing step\'s error, then Retry from the failed step succeeds', async () => {
    await page.locator('main tbody tr', { has: page.locator('.s-failed') }).locator('a').first().click();
    await page.waitForURL(/\/runs\/run_/);
    await page.locator('#run-error').getByText('503').waitFor();
    check((await page.locator('details.step.failed[data-path="tell"]').count()) === 1, 'the failed step is not marked');
    check((await page.locator('.tree .group', { hasText: 'iteration 1' }).count()) === 1, 'no loop iteration in the tree');
    check((await page.locator('.tree .group', { hasText: 'branch else' }).count()) === 1, 'no if-branch in the tree');
    check((await page.locator('#event-link').getAttribute('href')) === '/events/evt_paid_1', 'no link to the event');
    await shot(page, 'run-failed-1280');
    await page.click('#retry');
    await page.locator('h1 .s-succeeded').waitFor({ timeout: 10000 });
    await shot(page, 'run-1280');
  });

  await step('runs: filters and Retry all failed', async () => {
    await page.goto(DASH + '/runs?status=succeeded');
    await waitRows(page, 2);
    await page.goto(DASH + '/runs?status=failed');
    await page.getByText('No run matches these filters.').waitFor();
    await page.click('#retry-all');
    await page.getByText('No failed run matches the filters').waitFor();
    await page.goto(DASH + '/runs');
    await shot(page, 'runs-1280');
  });

  await step('a disabled flow starts nothing for a matching event', async () => {
    await page.goto(DASH + '/flows');
    const sw = page.locator('input[data-flow="on-paid"]');
    check(await sw.isChecked(), 'on-paid starts disabled');
    await sw.click();
    await page.getByText('on-paid disabled').waitFor();
    await page.waitForTimeout(1200); // serve rereads the settings every second
    await post(event('evt_paid_2', 'invoice.paid', invoice('in_333', 'cus_DDD')));
    await page.goto(DASH + '/events/evt_paid_2');
    await page.getByText('This event started no run.').waitFor();
    await page.goto(DASH + '/flows');
    check(!(await page.locator('input[data-flow="on-paid"]').isChecked()), 'the switch did not stay off');
    await shot(page, 'flows-1280');
    await page.locator('input[data-flow="on-paid"]').click();
    await page.getByText('on-paid enabled').waitFor();
  });

  await step('Run now with a JSON input; a bad input is refused with a reason', async () => {
    await page.goto(DASH + '/flows/by-hand');
    await page.fill('#run-input', '{"name": ');
    await page.click('#run-now');
    await page.getByText('The input is not JSON').waitFor();
    await page.fill('#run-input', '{"name": "Ada"}');
    await page.click('#run-now');
    await page.locator('main p[role=status] a').click();
    await page.waitForURL(/\/runs\/run_/);
    await page.locator('h1 .s-succeeded').waitFor({ timeout: 10000 });
    await page.locator('details.step').first().click();
    await page.locator('.json').getByText('"hello Ada"').first().waitFor();
    await page.goto(DASH + '/flows/by-hand');
    await shot(page, 'flow-1280');
  });

  await step('overview, connections and contacts show', async () => {
    await page.goto(DASH + '/');
    await page.getByText('Events per minute, last hour').waitFor();
    await shot(page, 'overview-1280');
    await page.goto(DASH + '/connections');
    await page.getByText('sk_test_••••').waitFor();
    check(!(await page.content()).includes('sk_test_dashboard'), 'the page shows the key');
    await shot(page, 'connections-1280');
    await page.goto(DASH + '/contacts');
    await page.getByText('No contacts yet.').waitFor();
  });

  await step('CSRF: no token, or another origin, changes nothing', async () => {
    const noToken = await page.evaluate(() => fetch('/api/flows/on-paid/disable', { method: 'POST' }).then((r) => r.status));
    check(noToken === 403, 'a POST without X-CSRF-Token answered ' + noToken);
    // A page on another origin (another port of 127.0.0.1: the same site, so the cookie goes
    // along) posts a form and a fetch at the API.
    const evil = http.createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<form id=f method=POST action="${DASH}/api/flows/on-paid/disable"></form>
        <script>fetch("${DASH}/api/flows/on-paid/disable",{method:"POST",credentials:"include",mode:"no-cors",headers:{"X-CSRF-Token":"guess"}}).finally(()=>document.getElementById("f").submit())</script>`);
    });
    await new Promise((ok) => evil.listen(0, '127.0.0.1', ok));
    const other = await ctx.newPage();
    await other.goto('http://127.0.0.1:' + evil.address().port + '/');
    await other.waitForURL(/\/api\/flows\/on-paid\/disable/);
    check((await other.content()).includes('csrf'), 'the cross-origin form was not refused: ' + (await other.content()).slice(0, 300));
    await other.close();
    evil.close();
    const flows = await page.evaluate(() => fetch('/api/flows').then((r) => r.json()));
    check(flows.flows.find((f) => f.name === 'on-paid').enabled === true, 'a CSRF request disabled the flow');
  });

  await step('at phone width every page fits', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, storageState: await ctx.storageState() });
    const p = await phone.newPage();
    for (const [url, name] of [['/', 'overview'], ['/inbox', 'inbox'], ['/events/evt_paid_1', 'event'], ['/runs', 'runs'], ['/flows', 'flows']]) {
      await p.goto(DASH + url);
      await p.locator('main h1').waitFor();
      await p.waitForTimeout(300);
      const wide = await p.evaluate(() => document.documentElement.scrollWidth);
      check(wide <= 392, name + ' is ' + wide + ' px wide at 390');
      await shot(p, name + '-phone');
    }
    const run = await p.evaluate(() => fetch('/api/runs?flow=on-paid&status=succeeded&limit=1').then((r) => r.json()));
    await p.goto(DASH + '/runs/' + run.runs[0].id);
    await p.locator('main h1').waitFor();
    await shot(p, 'run-phone');
    await phone.close();
  });

  await step('sign out ends the session', async () => {
    await page.goto(DASH + '/');
    await page.click('#signout');
    await page.waitForURL(/\/signin/);
    const r = await page.evaluate(() => fetch('/api/flows').then((x) => x.status));
    check(r === 401, 'the API answered ' + r + ' after signing out');
  });

  await step('no script errors in the pages', async () => {
    check(!consoleErrors.length, consoleErrors.join('\n'));
  });

  await browser.close();
  console.log(failed ? failed + ' failed' : 'all passed');
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log('FAIL: ' + (e.stack || e)); process.exit(1); });
