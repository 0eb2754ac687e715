#!/usr/bin/env bash
# Client benchmark: libsluice vs the official stripe npm client, same calls, same local server,
# same run. Usage: bench/client.sh [CALLS] (default 20000). Needs scripts/demo.sh's build and
# tests/node's npm packages (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-20000}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target client_bench fake_stripe_bin >/dev/null
[ -d tests/node/node_modules/stripe ] || (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

tmp=$(mktemp -d)
echo '[{"status":200,"body":{"id":"cus_bench","object":"customer","email":"jenny@example.com"},"repeat":true}]' >"$tmp/script.json"
build/tests/fake_stripe --script "$tmp/script.json" >"$tmp/port" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$tmp/port")"

echo "POST /v1/customers with nested params, $calls calls each, server: fake_stripe on loopback"
for conc in 1 4; do
    build/bench/client_bench "$url" "$calls" "$conc"
    node bench/client_node.js "$url" "$calls" "$conc"
done
