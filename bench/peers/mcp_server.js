#!/usr/bin/env node
// The peer of `sluice mcp` in bench/mcp.sh: an MCP server built the way the SDK's docs show,
// with the official TypeScript SDK's low-level Server on stdio, offering create-customer and
// find-customer that call Stripe (here the emulator) with fetch. Usage: mcp_server.js BASE_URL
'use strict';
const paths = {paths: [require('path').join(__dirname, '../../tests/node')]};
const sdk = (p) => require(require.resolve('@modelcontextprotocol/sdk/' + p, paths));
const {Server} = sdk('server/index.js');
const {StdioServerTransport} = sdk('server/stdio.js');
const {ListToolsRequestSchema, CallToolRequestSchema} = sdk('types.js');

const base = process.argv[2];
const key = process.env.STRIPE_API_KEY || 'sk_test_peer';
const tools = [
  {name: 'create-customer', description: 'Creates a customer.',
   inputSchema: {type: 'object', properties: {email: {type: 'string'}}}},
  {name: 'find-customer', description: 'Finds a customer by id.',
   inputSchema: {type: 'object', properties: {id: {type: 'string'}}, required: ['id']}},
];

async function stripe(method, path, params) {
  const body = params ? new URLSearchParams(params).toString() : undefined;
  const res = await fetch(base + path, {method, body, headers: {
    Authorization: 'Bearer ' + key, 'Content-Type': 'application/x-www-form-urlencoded'}});
  return {ok: res.ok, json: await res.json()};
}

const server = new Server({name: 'peer', version: '1.0.0'}, {capabilities: {tools: {}}});
server.setRequestHandler(ListToolsRequestSchema, async () => ({tools}));
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  const a = req.params.arguments || {};
  const r = req.params.name === 'create-customer'
    ? await stripe('POST', '/v1/customers', {email: a.email || ''})
    : await stripe('GET', '/v1/customers/' + encodeURIComponent(a.id));
  return {content: [{type: 'text', text: JSON.stringify(r.json)}], structuredContent: r.json,
          isError: !r.ok};
});
server.connect(new StdioServerTransport());
