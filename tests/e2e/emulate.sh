#!/usr/bin/env bash
# The official stripe npm package against `sluice emulate` (tests/node/emulator_story.js).
# Usage: emulate.sh SLUICE_BIN
set -uo pipefail
tmp=$(mktemp -d)
"$1" emulate --listen 127.0.0.1:0 --retry-ms 100 2>"$tmp/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q '"url"' "$tmp/log" && break; sleep 0.05; done
url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
node "$(dirname "$0")/../node/emulator_story.js" "$url"
rc=$?
kill "$pid"
wait "$pid"
stop=$?
[ "$stop" = 0 ] || { echo "sluice emulate exited $stop"; cat "$tmp/log"; rc=1; }

# sluice demo: the whole system offline, once, as the README runs it.
if "$1" demo --exit --data "$tmp/demo" >"$tmp/demo.out" 2>&1 &&
    grep -q "4 events arrived as signed webhooks" "$tmp/demo.out" &&
    grep -q "customer.created" "$tmp/demo.out"; then
    echo "ok: sluice demo"
else
    echo "FAIL: sluice demo"
    cat "$tmp/demo.out"
    rc=1
fi
exit $rc
