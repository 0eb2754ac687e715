#!/usr/bin/env bash
# The official stripe npm package against `sluice emulate` (tests/node/emulator_story.js).
# Usage: emulate.sh SLUICE_BIN
set -uo pipefail
tmp=$(mktemp -d)
"$1" emulate --listen 127.0.0.1:0 --retry-ms 100 2>"$tmp/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 400); do grep -q '"url"' "$tmp/log" && break; sleep 0.05; done
url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
node "$(dirname "$0")/../node/emulator_story.js" "$url"
rc=$?
kill "$pid"
wait "$pid"
stop=$?
[ "$stop" = 0 ] || { echo "sluice emulate exited $stop"; cat "$tmp/log"; rc=1; }

# --data FILE: the state (objects, lists in order, events, idempotency keys, endpoint secrets)
# survives a restart.
api() { "$1" call "${@:2}" --api-key sk_test_persist --base-url "$purl"; }
start_persist() {
    "$1" emulate --listen 127.0.0.1:0 --data "$tmp/state.db" 2>"$tmp/plog" &
    ppid_=$!
    for _ in $(seq 400); do grep -q '"url"' "$tmp/plog" && break; sleep 0.05; done
    purl=$(grep -o '"url":"[^"]*"' "$tmp/plog" | head -1 | cut -d'"' -f4)
}
start_persist "$1"
for t in customer.subscription.created checkout.session.completed invoice.payment_failed; do
    "$1" trigger "$t" --api-key sk_test_persist --base-url "$purl" >/dev/null || echo "trigger $t failed"
done
cus=$(api "$1" customers.create email=keep@example.com 'metadata[k]=v' --idempotency-key keep-1 | jq -r .id)
sub=$(api "$1" subscriptions.list | jq -r '.data[0].id')
api "$1" customers.list limit=100 | jq -c '[.data[].id]' >"$tmp/c1"
api "$1" events.list limit=100 | jq -c '[.data[] | [.id, .type]]' >"$tmp/e1"
api "$1" invoices.list limit=100 | jq -c '[.data[] | [.id, .status, .number]]' >"$tmp/i1"
kill "$ppid_"
wait "$ppid_"
start_persist "$1"
api "$1" customers.list limit=100 | jq -c '[.data[].id]' >"$tmp/c2"
api "$1" events.list limit=100 | jq -c '[.data[] | [.id, .type]]' >"$tmp/e2"
api "$1" invoices.list limit=100 | jq -c '[.data[] | [.id, .status, .number]]' >"$tmp/i2"
again=$(api "$1" customers.create email=keep@example.com 'metadata[k]=v' --idempotency-key keep-1 | jq -r .id)
qty=$(api "$1" subscriptions.update "$sub" "items[0][id]=$(api "$1" subscriptions.retrieve "$sub" | jq -r '.items.data[0].id')" 'items[0][quantity]=4' | jq -r '.items.data[0].id')
if cmp -s "$tmp/c1" "$tmp/c2" && cmp -s "$tmp/e1" "$tmp/e2" && cmp -s "$tmp/i1" "$tmp/i2" &&
    [ "$again" = "$cus" ] && [ "$(api "$1" subscription_items.retrieve "$qty" | jq -r .quantity)" = 4 ] &&
    [ "$(api "$1" customers.retrieve "$cus" | jq -r .metadata.k)" = v ]; then
    echo "ok: --data keeps the state across a restart"
else
    echo "FAIL: --data keeps the state across a restart"
    diff "$tmp/c1" "$tmp/c2" | head -5; diff "$tmp/e1" "$tmp/e2" | head -5; diff "$tmp/i1" "$tmp/i2" | head -5
    rc=1
fi
kill "$ppid_"
wait "$ppid_"
if "$1" emulate --listen 127.0.0.1:0 --data "$tmp/no/such/dir/state.db" 2>"$tmp/perr"; then
    echo "FAIL: --data in a missing directory started"; rc=1
elif grep -q "no/such/dir/state.db" "$tmp/perr"; then
    echo "ok: an unusable --data file is named"
else
    echo "FAIL: an unusable --data file is named: $(cat "$tmp/perr")"; rc=1
fi

# sluice demo: the whole system offline, once, as the README runs it.
if "$1" demo --exit --data "$tmp/demo" >"$tmp/demo.out" 2>&1 &&
    grep -q "7 events arrived as signed webhooks" "$tmp/demo.out" &&
    grep -q "konnectify-invoice-created-finalize        succeeded" "$tmp/demo.out" &&
    grep -q "customer.created" "$tmp/demo.out" &&
    grep -q "9. The dashboard: http://127.0.0.1:[0-9]*" "$tmp/demo.out" &&
    grep -q "Sign in with this link: http://127.0.0.1:[0-9]*/signin#token=sla_" "$tmp/demo.out"; then
    echo "ok: sluice demo"
else
    echo "FAIL: sluice demo"
    cat "$tmp/demo.out"
    rc=1
fi
exit $rc
