#!/usr/bin/env node
// Times MCP servers with the official SDK's client over stdio: start-up (spawn to the
// initialize answer), tools/list (the first, then again), and tools/call of create-customer and find-customer on the
// emulator; the median and p95 of N rounds each. Run by bench/mcp.sh.
// Usage: mcp.js N NAME -- COMMAND ARGS... [== NAME -- COMMAND ARGS...]
'use strict';
const paths = {paths: [require('path').join(__dirname, '../tests/node')]};
const sdk = (p) => require(require.resolve('@modelcontextprotocol/sdk/' + p, paths));
const {Client} = sdk('client/index.js');
const {StdioClientTransport} = sdk('client/stdio.js');

const argv = process.argv.slice(2);
const rounds = Number(argv.shift());
const servers = argv.join('\u0000').split('\u0000==\u0000').map((s) => {
  const [name, , command, ...args] = s.split('\u0000');
  return {name, command, args};
});

const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return {p50: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))]};
}

async function bench(srv) {
  const out = {start: [], list: [], warm: [], create: [], find: []};
  let tools = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const client = new Client({name: 'bench', version: '1.0.0'});
    await client.connect(new StdioClientTransport({command: srv.command, args: srv.args,
                                                   env: process.env, stderr: 'ignore'}));
    out.start.push(ms(t0));
    let t = process.hrtime.bigint();
    tools = (await client.listTools()).tools.length;
    out.list.push(ms(t));
    t = process.hrtime.bigint();
    await client.listTools();
    out.warm.push(ms(t));
    for (let k = 0; k < 10; k++) {
      t = process.hrtime.bigint();
      const c = await client.callTool({name: 'create-customer', arguments: {email: `b${k}@example.com`}});
      out.create.push(ms(t));
      if (c.isError) throw new Error(srv.name + ': ' + JSON.stringify(c.content));
      t = process.hrtime.bigint();
      await client.callTool({name: 'find-customer', arguments: {id: c.structuredContent.id}});
      out.find.push(ms(t));
    }
    await client.close();
  }
  return {out, tools};
}

(async () => {
  console.log('server             tools  start p50/p95 ms  tools/list 1st p50/p95  again p50/p95  create p50/p95 ms  find p50/p95 ms');
  for (const srv of servers) {
    const {out, tools} = await bench(srv);
    const f = (k) => { const s = stats(out[k]); return `${s.p50.toFixed(2)} / ${s.p95.toFixed(2)}`; };
    console.log(`${srv.name.padEnd(18)} ${String(tools).padStart(5)}  ${f('start').padStart(17)}  ` +
                `${f('list').padStart(22)}  ${f('warm').padStart(13)}  ${f('create').padStart(17)}  ${f('find').padStart(15)}`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
