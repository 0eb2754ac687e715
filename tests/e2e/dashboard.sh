#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium, driven by playwright-core
# (tests/node/dashboard.js), against a real `sluice serve` with a connection, two flows
# (tests/data/flows-dashboard/) and a receiver whose first answer is a 503.
# Usage: dashboard.sh SLUICE_BIN FAKE_STRIPE_BIN SHOTS_DIR
set -uo pipefail
SLUICE=$1
FAKE=$2
SHOTS=$3
KEY=sk_test_dashboard_000000000000000000
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/serve_lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || [ ! -d "$here/../node/node_modules/playwright-core" ]; then
    echo "dashboard: needs $CHROMIUM (apt-get install chromium) and playwright-core" \
        "(cd tests/node && npm ci); scripts/test.sh installs both"
    exit 1
fi
sink_pid=
extra_cleanup() {
    stop_serve
    [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
}
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=dashboard-admin-token-0123456789
export SLUICE_FLOWS=$here/../data/flows-dashboard
add_shop
python3 "$here/../support/http_sink.py" "$tmp/http.jsonl" --fail-first 1 >"$tmp/http.port" &
sink_pid=$!
for _ in $(seq 100); do [ -s "$tmp/http.port" ] && break; sleep 0.05; done
export SLUICE_FLOW_TELL_URL=http://127.0.0.1:$(head -1 "$tmp/http.port")/tell
start_serve 127.0.0.1:0 --admin-listen 127.0.0.1:0
[ -n "$SURL" ] || { echo "serve did not start: $(cat "$tmp/serve.log")"; exit 1; }
DASH=$(grep -o '"dashboard":"[^"]*"' "$tmp/serve.log" | head -1 | cut -d'"' -f4)
[ -n "$DASH" ] || { echo "no dashboard in the log: $(cat "$tmp/serve.log")"; exit 1; }
mkdir -p "$SHOTS"
HOOK_URL=$SURL/hooks/shop DASH_URL=$DASH WEBHOOK_SECRET=$SECRET SHOTS_DIR=$SHOTS \
    CHROMIUM=$CHROMIUM node "$here/../node/dashboard.js"
rc=$?
if grep -q "$SLUICE_ADMIN_TOKEN" "$tmp/serve.log"; then
    echo "FAIL: the log holds the admin token"
    rc=1
fi
[ $rc = 0 ] || echo "serve's log: $(tail -c 3000 "$tmp/serve.log")"
exit $rc
