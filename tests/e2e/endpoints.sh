#!/usr/bin/env bash
# The webhook endpoint's life, against the emulator: `serve --public-url` registers exactly the
# event types the enabled flows need, pinned to the connection's API version; a new public URL
# replaces the old endpoint instead of leaving it; `connect remove` deletes the endpoint it
# registered; a secret entered by hand is never overwritten by a new endpoint's.
# Usage: endpoints.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_endpoints_00000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
for _ in $(seq 400); do grep -q '"url"' "$tmp/emu.log" && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$here/../data/flows-endpoints
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
endpoints() { "$SLUICE" call webhook_endpoints.list limit=100 --api-key "$KEY" --base-url "$EMU"; }
# serve_once URL: starts serve with --public-url URL, waits until it listens, stops it.
serve_once() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$SLUICE" serve --listen "127.0.0.1:$port" --public-url "$1" 2>"$tmp/serve.log" &
    local pid=$!
    for _ in $(seq 200); do grep -q '"listening"' "$tmp/serve.log" && break; sleep 0.05; done
    kill "$pid"
    wait "$pid" 2>/dev/null
}

begin "serve registers the event types its flows need, pinned to the connection's version"
run connect add shop --key "$KEY" --base-url "$EMU" --stripe-version 2023-08-16
expect_rc 0
serve_once https://hooks.example.test
endpoints >"$tmp/eps.json"
[ "$(jq '.data | length' "$tmp/eps.json")" = 1 ] || fail "$(jq '.data | length' "$tmp/eps.json") endpoints, wanted 1"
[ "$(jq -r '.data[0].url' "$tmp/eps.json")" = https://hooks.example.test/hooks/shop ] || fail "url $(jq -r '.data[0].url' "$tmp/eps.json")"
[ "$(jq -c '.data[0].enabled_events | sort' "$tmp/eps.json")" = '["customer.created","invoice.paid","invoice.payment_failed"]' ] ||
    fail "enabled_events $(jq -c '.data[0].enabled_events' "$tmp/eps.json")"
[ "$(jq -r '.data[0].api_version' "$tmp/eps.json")" = 2023-08-16 ] || fail "api_version $(jq -r '.data[0].api_version' "$tmp/eps.json")"
first=$(jq -r '.data[0].id' "$tmp/eps.json")
# The connection keeps the endpoint's event types, for `connect show` and the dashboard.
run connect show shop --json
[ "$(jq -c '.endpoint_events | sort' "$tmp/out")" = '["customer.created","invoice.paid","invoice.payment_failed"]' ] ||
    fail "connect show: $(jq -c .endpoint_events "$tmp/out")"
end

begin "a new public URL replaces the endpoint at the old one"
serve_once https://new-hooks.example.test
endpoints >"$tmp/eps.json"
[ "$(jq '.data | length' "$tmp/eps.json")" = 1 ] || fail "$(jq '.data | length' "$tmp/eps.json") endpoints after the move, wanted 1"
[ "$(jq -r '.data[0].url' "$tmp/eps.json")" = https://new-hooks.example.test/hooks/shop ] || fail "url $(jq -r '.data[0].url' "$tmp/eps.json")"
[ "$(jq -r '.data[0].id' "$tmp/eps.json")" != "$first" ] || fail "the old endpoint is still the one"
grep -q "deleted $first" "$tmp/serve.log" || fail "the log does not say the old endpoint went"
end

begin "a secret entered by hand is kept: sluice registers no endpoint over it"
run connect add hand --key "$KEY" --base-url "$EMU" --webhook-secret whsec_entered_by_hand_0123456789
expect_rc 0
serve_once https://new-hooks.example.test
grep -q "entered by hand" "$tmp/serve.log" || fail "no word about the hand-entered secret"
endpoints >"$tmp/eps.json"
[ "$(jq '[.data[] | select(.url | endswith("/hooks/hand"))] | length' "$tmp/eps.json")" = 0 ] ||
    fail "an endpoint was registered over the hand-entered secret"
end

begin "connect remove deletes the endpoint sluice registered"
run connect remove shop
expect_rc 0
expect_out "Deleted webhook endpoint"
endpoints >"$tmp/eps.json"
[ "$(jq '.data | length' "$tmp/eps.json")" = 0 ] || fail "$(jq '.data | length' "$tmp/eps.json") endpoints left"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
