#!/usr/bin/env node
// The official MCP TypeScript SDK's Client and StdioClientTransport against `sluice mcp` on
// `sluice emulate`: the tools listed (default, narrowed, read-only, every operation paged), seed
// actions and call_operation called, Stripe and local errors, a live key refused a write, the
// initialize and the 2026-07-28 server/discover paths, several connections, sluice's own tools.
// Usage: node mcp_client.js SLUICE_BIN EMULATOR_URL DATA_DIR (DATA_DIR has connections `shop`
// and `other` on the emulator and a manual flow `hello`).
'use strict';
const assert = require('assert');
const {spawn} = require('child_process');
const sdk = (p) => require(require.resolve('@modelcontextprotocol/sdk/' + p, {paths: [__dirname]}));
const {Client} = sdk('client/index.js');
const {StdioClientTransport} = sdk('client/stdio.js');

const [sluice, url, data] = process.argv.slice(2);
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

const {check, finish} = require('./check.js');

async function connect(args) {
  const transport = new StdioClientTransport({command: sluice, args: ['mcp', ...args],
                                              env: {PATH: process.env.PATH}, stderr: 'pipe'});
  const client = new Client({name: 'sluice-test', version: '1.0.0'});
  await client.connect(transport);
  return client;
}

async function allTools(client) {
  const tools = [];
  let cursor, pages = 0;
  do {
    const r = await client.listTools(cursor ? {cursor} : {});
    tools.push(...r.tools);
    cursor = r.nextCursor;
    pages++;
  } while (cursor);
  return {tools, pages};
}

function text(r) {
  return r.content.map((c) => c.text).join('\n');
}

const testArgs = ['--api-key', 'sk_test_mcp', '--base-url', url];

async function main() {
  const c = await connect(testArgs);
  let customer;

  await check('initialize: server info, capabilities, a supported version', async () => {
    assert.strictEqual(c.getServerVersion().name, 'sluice');
    assert.ok(c.getServerCapabilities().tools);
    assert.ok(c.getInstructions().includes('search_operations'));
    await c.ping();
  });

  await check('default tools: named actions + the generic three, each described', async () => {
    const {tools} = await allTools(c);
    const names = tools.map((t) => t.name);
    assert.strictEqual(tools.length, 53, names.join(','));
    for (const n of ['search_operations', 'describe_operation', 'call_operation',
                     'find-customer', 'create-a-payment-link', 'archive-price'])
      assert.ok(names.includes(n), n);
    for (const t of tools) {
      assert.match(t.name, NAME_RE);
      assert.ok(t.title && t.description && !t.description.includes('\n'), t.name);
      assert.strictEqual(t.inputSchema.type, 'object');
      assert.strictEqual(typeof t.annotations.readOnlyHint, 'boolean', t.name);
    }
    const pl = tools.find((t) => t.name === 'create-a-payment-link');
    assert.deepStrictEqual(pl.inputSchema.required, ['line_items']);
    assert.strictEqual(pl.inputSchema.properties.line_items.type, 'array');
    assert.deepStrictEqual(pl.inputSchema.properties.line_items.items.required.sort(),
                           ['price', 'quantity']);
    assert.strictEqual(pl.annotations.readOnlyHint, false);
    const del = tools.find((t) => t.name === 'delete-customer');
    assert.strictEqual(del.annotations.destructiveHint, true);
    assert.deepStrictEqual(del.inputSchema.required, ['customer']);
    const find = tools.find((t) => t.name === 'find-customer');
    assert.strictEqual(find.annotations.readOnlyHint, true);
    assert.ok(find.inputSchema.properties.id);
  });

  await check('a seed action creates a customer: structuredContent and text', async () => {
    const r = await c.callTool({name: 'create-a-customer',
                                arguments: {email: 'ada@example.com', metadata: {plan: 'pro'}}});
    assert.strictEqual(r.isError, false, text(r));
    customer = r.structuredContent;
    assert.strictEqual(customer.object, 'customer');
    assert.strictEqual(customer.metadata.plan, 'pro');
    assert.strictEqual(JSON.parse(text(r)).id, customer.id);
    assert.ok(r._meta.sluice.idempotency_key, 'writes carry an Idempotency-Key');
  });

  await check('find-customer by email', async () => {
    const r = await c.callTool({name: 'find-customer', arguments: {email: 'ada@example.com'}});
    assert.strictEqual(r.isError, false, text(r));
    assert.strictEqual(r.structuredContent.id, customer.id);
  });

  await check('search_operations and describe_operation', async () => {
    const s = await c.callTool({name: 'search_operations', arguments: {query: 'refund charge'}});
    assert.ok(s.structuredContent.operations.some((o) => o.name === 'refunds.create' ||
                                                          o.name === 'charges.refund'));
    const d = await c.callTool({name: 'describe_operation', arguments: {name: 'prices.create'}});
    assert.strictEqual(d.structuredContent.method, 'POST');
    assert.ok(d.structuredContent.params.some((p) => p.name === 'currency' && p.required));
    assert.ok(d.structuredContent.input_schema.required.includes('currency'));
  });

  await check('call_operation: any operation, path parameters by name', async () => {
    const r = await c.callTool({name: 'call_operation', arguments: {
      operation: 'customers.update', params: {customer: customer.id, name: 'Ada Lovelace'}}});
    assert.strictEqual(r.isError, false, text(r));
    assert.strictEqual(r.structuredContent.name, 'Ada Lovelace');
    const again = await c.callTool({name: 'call_operation', arguments: {
      operation: 'customers.list', params: {email: 'ada@example.com'}}});
    assert.strictEqual(again.structuredContent.object, 'list');
    assert.strictEqual(again.structuredContent.data[0].name, 'Ada Lovelace');
  });

  await check('the same idempotency_key replays the first answer', async () => {
    const args = {email: 'once@example.com', idempotency_key: 'mcp-test-once'};
    const a = await c.callTool({name: 'create-customer', arguments: args});
    const b = await c.callTool({name: 'create-customer', arguments: args});
    assert.strictEqual(a.structuredContent.id, b.structuredContent.id);
  });

  await check('a Stripe error: isError with type, code, param, request id', async () => {
    const r = await c.callTool({name: 'call_operation', arguments: {
      operation: 'customers.retrieve', params: {customer: 'cus_missing'}}});
    assert.strictEqual(r.isError, true);
    const e = r.structuredContent.error;
    assert.strictEqual(e.type, 'invalid_request_error');
    assert.strictEqual(e.code, 'resource_missing');
    assert.match(e.request_id, /^req_/);
    assert.ok(e.message.includes('cus_missing'));
    assert.ok(text(r).includes('resource_missing'));
  });

  await check('a card decline: decline_code', async () => {
    const r = await c.callTool({name: 'create-a-payment-intent', arguments: {
      amount: 500, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true}});
    assert.strictEqual(r.isError, true, text(r));
    const e = r.structuredContent.error;
    assert.strictEqual(e.type, 'card_error');
    assert.strictEqual(e.code, 'card_declined');
    assert.ok(e.decline_code, JSON.stringify(e));
  });

  await check('a local validation error names the parameter; nothing is sent', async () => {
    const r = await c.callTool({name: 'create-customer', arguments: {emial: 'x@example.com'}});
    assert.strictEqual(r.isError, true);
    assert.strictEqual(r.structuredContent.error.type, 'validation_error');
    assert.strictEqual(r.structuredContent.error.param, 'emial');
    assert.ok(text(r).includes('did you mean `email`'));
    const n = await c.callTool({name: 'call_operation', arguments: {operation: 'customer.create'}});
    assert.strictEqual(n.isError, true);
    assert.ok(text(n).includes('customers.create'), text(n));
  });

  await check('resources, templates and prompts: empty lists', async () => {
    assert.deepStrictEqual((await c.listResources()).resources, []);
    assert.deepStrictEqual((await c.listResourceTemplates()).resourceTemplates, []);
    assert.deepStrictEqual((await c.listPrompts()).prompts, []);
  });

  await check('an unknown tool is a JSON-RPC error and the session goes on', async () => {
    await assert.rejects(c.callTool({name: 'no-such-tool', arguments: {}}), /unknown tool/);
    await c.ping();
  });
  await c.close();

  await check('--tools narrows', async () => {
    const n = await connect([...testArgs, '--tools', 'customers.*,find-*']);
    const {tools} = await allTools(n);
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('create-customer') && names.includes('find-invoice'), names);
    assert.ok(!names.includes('create-a-price'), names);
    const r = await n.callTool({name: 'call_operation', arguments: {operation: 'prices.list'}});
    assert.strictEqual(r.isError, true);
    await n.close();
  });

  await check('--read-only lists no write and refuses one', async () => {
    const ro = await connect([...testArgs, '--read-only']);
    const {tools} = await allTools(ro);
    for (const t of tools)
      assert.ok(t.annotations.readOnlyHint || t.name === 'call_operation', t.name);
    assert.ok(!tools.some((t) => t.name === 'create-customer'));
    const r = await ro.callTool({name: 'call_operation', arguments: {
      operation: 'customers.create', params: {email: 'no@example.com'}}});
    assert.strictEqual(r.isError, true);
    assert.ok(text(r).includes('read-only'));
    await ro.close();
  });

  await check('--all-operations: every operation, tools/list paged by cursor', async () => {
    const all = await connect([...testArgs, '--all-operations']);
    const {tools, pages} = await allTools(all);
    assert.strictEqual(tools.length, 3 + 50 + 468);
    assert.ok(pages > 1, 'paged');
    assert.strictEqual(new Set(tools.map((t) => t.name)).size, tools.length);
    for (const t of tools)
      assert.match(t.name, NAME_RE);
    const r = await all.callTool({name: 'products.create', arguments: {name: 'Widget'}});
    assert.strictEqual(r.structuredContent.object, 'product', text(r));
    await assert.rejects(all.listTools({cursor: 'bogus'}), /cursor/);
    await all.close();
  });

  await check('a live key: writes refused without --allow-live-writes', async () => {
    const live = await connect(['--api-key', 'sk_live_notreal', '--base-url', url]);
    const r = await live.callTool({name: 'create-customer', arguments: {email: 'x@example.com'}});
    assert.strictEqual(r.isError, true);
    assert.strictEqual(r.structuredContent.error.type, 'refused');
    assert.ok(text(r).includes('--allow-live-writes'));
    await live.close();
    // Allowed, the write is sent (and the emulator, which takes test keys only, answers 401).
    const allowed = await connect(['--api-key', 'sk_live_notreal', '--base-url', url,
                                   '--allow-live-writes']);
    const sent = await allowed.callTool({name: 'create-customer', arguments: {email: 'x@example.com'}});
    assert.strictEqual(sent.structuredContent.error.http_status, 401, text(sent));
    await allowed.close();
  });

  await check('several connections: a connection argument', async () => {
    const two = await connect(['--connection', 'shop', '--connection', 'other', '--data', data]);
    const {tools} = await allTools(two);
    const t = tools.find((x) => x.name === 'create-customer');
    assert.deepStrictEqual(t.inputSchema.properties.connection.enum, ['shop', 'other']);
    const r = await two.callTool({name: 'create-customer',
                                  arguments: {email: 'two@example.com', connection: 'other'}});
    assert.strictEqual(r._meta.sluice.connection, 'other', text(r));
    const bad = await two.callTool({name: 'create-customer',
                                    arguments: {email: 'x@example.com', connection: 'nope'}});
    assert.strictEqual(bad.isError, true);
    await two.close();
  });

  await check("sluice's own tools: flows, runs, events", async () => {
    const own = await connect(['--connection', 'shop', '--data', data]);
    const {tools} = await allTools(own);
    for (const n of ['list_events', 'get_event', 'replay_event', 'list_runs', 'get_run',
                     'retry_run', 'list_flows', 'run_flow'])
      assert.ok(tools.some((t) => t.name === n), n);
    const flows = await own.callTool({name: 'list_flows', arguments: {}});
    assert.ok(flows.structuredContent.flows.some((f) => f.name === 'hello'));
    const run = await own.callTool({name: 'run_flow', arguments: {name: 'hello', input: {a: 1}}});
    assert.strictEqual(run.structuredContent.status, 'succeeded', text(run));
    const got = await own.callTool({name: 'get_run', arguments: {id: run.structuredContent.run}});
    assert.strictEqual(got.structuredContent.flow, 'hello', text(got));
    const runs = await own.callTool({name: 'list_runs', arguments: {flow: 'hello', limit: 5}});
    assert.ok(runs.structuredContent.runs.length >= 1);
    const ev = await own.callTool({name: 'get_event', arguments: {id: 'evt_missing'}});
    assert.strictEqual(ev.isError, true);
    const bad = await own.callTool({name: 'get_run', arguments: {id: '../flows'}});
    assert.strictEqual(bad.isError, true);
    const events = await own.callTool({name: 'list_events', arguments: {limit: 5}});
    const delivered = events.structuredContent.events.find((e) => e.type === 'customer.created');
    assert.ok(delivered, text(events));
    const one = await own.callTool({name: 'get_event', arguments: {id: delivered.id}});
    assert.strictEqual(one.structuredContent.type, 'customer.created', text(one));
    // The event into every flow that wants it now: greet runs again on it.
    const replay = await own.callTool({name: 'replay_event', arguments: {id: delivered.id}});
    assert.ok(!replay.isError, text(replay));
    const greets = await own.callTool({name: 'list_runs', arguments: {flow: 'greet', limit: 5}});
    assert.ok(greets.structuredContent.runs.some((r) => r.event_id === delivered.id &&
                                                      r.status === 'succeeded'), text(greets));
    // A run that fails (its receiver answers 503 once), then retried from the failed step.
    const failed = await own.callTool({name: 'run_flow', arguments: {name: 'flaky'}});
    const failedRun = failed.structuredContent.run || failed.structuredContent.id;
    const seen = await own.callTool({name: 'get_run', arguments: {id: failedRun}});
    assert.strictEqual(seen.structuredContent.status, 'failed', text(seen));
    const retried = await own.callTool({name: 'retry_run', arguments: {id: failedRun}});
    assert.ok(!retried.isError, text(retried));
    const after = await own.callTool({name: 'get_run', arguments: {id: failedRun}});
    assert.strictEqual(after.structuredContent.status, 'succeeded', text(after));
    assert.strictEqual(after.structuredContent.attempt, 2, text(after));
    await own.close();
  });

  await check('2026-07-28: server/discover, _meta versions, -32022', async () => {
    const meta = {'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                  'io.modelcontextprotocol/clientCapabilities': {}};
    const lines = [
      {jsonrpc: '2.0', id: 1, method: 'server/discover', params: {_meta: meta}},
      {jsonrpc: '2.0', id: 2, method: 'tools/list', params: {_meta: meta}},
      {jsonrpc: '2.0', id: 3, method: 'tools/call', params: {_meta: meta, name: 'find-customer',
                                                            arguments: {id: customer.id}}},
      {jsonrpc: '2.0', id: 4, method: 'tools/list', params: {_meta: {
        'io.modelcontextprotocol/protocolVersion': '2031-01-01'}}},
    ];
    const replies = await raw([...testArgs], lines);
    assert.strictEqual(replies.length, 4);
    const d = replies[0].result;
    assert.ok(d.supportedVersions.includes('2026-07-28') && d.supportedVersions.includes('2025-11-25'));
    assert.strictEqual(d.serverInfo.name, 'sluice');
    assert.ok(d.capabilities.tools);
    assert.strictEqual(replies[1].result.resultType, 'complete');
    assert.strictEqual(replies[1].result.tools.length, 53);
    assert.strictEqual(replies[2].result.structuredContent.id, customer.id);
    assert.strictEqual(replies[3].error.code, -32022);
    assert.deepStrictEqual(replies[3].error.data.requested, '2031-01-01');
  });

  finish();
}

// Writes lines to a fresh `sluice mcp`, closes its input, and returns the replies once it exits.
function raw(args, messages) {
  return new Promise((resolve, reject) => {
    const p = spawn(sluice, ['mcp', ...args], {stdio: ['pipe', 'pipe', 'ignore']});
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => {
      try {
        resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      } catch (e) {
        reject(e);
      }
    });
    p.stdin.end(messages.map((m) => JSON.stringify(m)).join('\n') + '\n');
  });
}

main().catch((e) => {
  console.log('FAIL: ' + (e.stack || e));
  process.exit(1);
});
