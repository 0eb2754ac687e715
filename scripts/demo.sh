#!/usr/bin/env bash
# The main job: installs what is missing, builds sluice in build/, then, on a local stand-in for
# the Stripe API and the embedded SQLite store (in a scratch data directory):
#   - a real `sluice call` that creates a customer, and one that a typo stops before sending;
#   - a connection, `sluice serve`, a signed webhook posted to it, and the event in the inbox.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
sluice_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "Built build/sluice ($(build/sluice --version))."

# A local server that answers like Stripe's create endpoints, on a free loopback port.
portfile=$(mktemp)
build/tests/fake_stripe --echo customer:cus >"$portfile" &
server=$!
data=$(mktemp -d)
serve=
trap 'kill $server $serve 2>/dev/null; rm -rf "$portfile" "$data"' EXIT
for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.05; done
[ -s "$portfile" ] || { echo "the local server did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$portfile")"

echo
echo "\$ sluice call customers.create email=jenny@example.com 'metadata[plan]=pro' --base-url $url --verbose"
STRIPE_API_KEY=sk_test_demo_0000000000000000000000000000 \
    build/sluice call customers.create email=jenny@example.com 'metadata[plan]=pro' \
    --base-url "$url" --verbose

echo
echo "\$ sluice call customers.create emial=jenny@example.com   # a misspelled parameter"
STRIPE_API_KEY=sk_test_demo_0000000000000000000000000000 \
    build/sluice call customers.create emial=jenny@example.com --base-url "$url" || true

# Webhooks: a connection, the server, a signed event, the inbox.
export SLUICE_DATA="$data"
echo
echo "\$ sluice connect add demo --key sk_test_... --webhook-secret whsec_demo_secret --base-url $url"
build/sluice connect add demo --key sk_test_demo_0000000000000000000000000000 \
    --webhook-secret whsec_demo_secret --base-url "$url"

echo
echo "\$ sluice serve --listen 127.0.0.1:0 &"
build/sluice serve --listen 127.0.0.1:0 2>"$data/serve.log" &
serve=$!
for _ in $(seq 100); do grep -q '"listening"' "$data/serve.log" && break; sleep 0.05; done
head -1 "$data/serve.log"
hooks=$(grep -o '"url":"[^"]*"' "$data/serve.log" | head -1 | cut -d'"' -f4)/hooks/demo

body='{"id":"evt_demo_1","object":"event","type":"customer.created","created":1700000000,"data":{"object":{"id":"cus_000001","object":"customer","email":"jenny@example.com"}}}'
t=$(date +%s)
sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac whsec_demo_secret -r | cut -d' ' -f1)
echo
echo "\$ curl -X POST $hooks -H 'Stripe-Signature: t=$t,v1=...' -d '{\"id\":\"evt_demo_1\",...}'"
curl -s -X POST "$hooks" -H "Stripe-Signature: t=$t,v1=$sig" -d "$body"
echo
echo "\$ curl -X POST $hooks -H 'Stripe-Signature: t=$t,v1=<forged>' ..."
curl -s -X POST "$hooks" -H "Stripe-Signature: t=$t,v1=$(printf '0%.0s' $(seq 64))" -d "$body"
echo

echo
echo "\$ sluice events list"
build/sluice events list
kill "$serve"
wait "$serve" 2>/dev/null || true
serve=
