#!/usr/bin/env bash
# MCP server benchmark: `sluice mcp` (default tools, and --all-operations) against a peer built
# with the official TypeScript SDK (bench/peers/mcp_server.js), both on `sluice emulate` on
# loopback, timed by the SDK's own client: start-up, tools/list, tools/call latency.
# Usage: bench/mcp.sh [ROUNDS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice-cli >/dev/null
[ -d tests/node/node_modules/@modelcontextprotocol/sdk ] ||
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
tmp=$(mktemp -d)
build/sluice emulate --listen 127.0.0.1:0 2>"$tmp/log" &
emu=$!
trap 'kill $emu 2>/dev/null; wait $emu 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -qs '"url"' "$tmp/log" && break; sleep 0.05; done
url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
export STRIPE_API_KEY=sk_test_bench
echo "sluice $(build/sluice --version | cut -d' ' -f2), node $(node --version), $rounds rounds of start, tools/list, 10 x (create, find)"
node bench/mcp.js "$rounds" \
    "sluice mcp" -- build/sluice mcp --base-url "$url" == \
    "sluice mcp --all" -- build/sluice mcp --base-url "$url" --all-operations == \
    "SDK peer (node)" -- node bench/peers/mcp_server.js "$url"
