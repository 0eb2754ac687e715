#!/usr/bin/env bash
# examples/c, built against libsluice alone, creates a customer on `sluice emulate` (loopback)
# and verifies a webhook. Usage: example_c.sh SLUICE_BIN EXAMPLE_BIN
set -uo pipefail
tmp=$(mktemp -d)
"$1" emulate --listen 127.0.0.1:0 2>"$tmp/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 400); do grep -q '"url"' "$tmp/log" && break; sleep 0.05; done
url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
out=$(STRIPE_API_KEY=sk_test_example "$2" "$url") || { echo "example failed: $out"; exit 1; }
echo "$out"
grep -q "created customer cus_" <<<"$out" || { echo "no customer created"; exit 1; }
grep -q "genuine ok, altered no_matching_signature" <<<"$out" || { echo "webhook check"; exit 1; }
