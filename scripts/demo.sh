#!/usr/bin/env bash
# The main job: installs what is missing, builds sluice in build/, then makes a real
# `sluice call` that creates a customer on a local stand-in for the Stripe API.
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
trap 'kill $server 2>/dev/null; rm -f "$portfile"' EXIT
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
