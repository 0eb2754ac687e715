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
# Outside the browser: what each listener serves, and the cookie's attributes.
failed=0
check() { [ "$2" = "$3" ] || { echo "FAIL: $1: got $2, wanted $3"; failed=1; }; }
check "/api/ on the webhook port" "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "$SURL/api/flows")" 404
check "a bearer token on the admin port" "$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "$DASH/api/flows")" 200
check "a bearer token needs no CSRF token" "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "$DASH/api/flows/on-paid/enable")" 200
check "/metrics on the admin port" "$(curl -s "$DASH/metrics" | grep -c '^sluice_webhooks_received_total')" 1
curl -s -D "$tmp/h" -o /dev/null -X POST -H 'X-Forwarded-Proto: https' \
    --data "{\"token\":\"$SLUICE_ADMIN_TOKEN\"}" "$DASH/auth/login"
cookie=$(grep -i '^set-cookie:' "$tmp/h" | tr -d '\r')
for attr in HttpOnly SameSite=Strict Secure Max-Age=43200 Path=/; do
    case "$cookie" in *"; $attr"*) ;; *) echo "FAIL: the session cookie lacks $attr: $cookie"; failed=1 ;; esac
done
curl -s -D "$tmp/h" -o /dev/null -X POST --data "{\"token\":\"$SLUICE_ADMIN_TOKEN\"}" "$DASH/auth/login"
grep -qi '^set-cookie:.*Secure' "$tmp/h" && { echo "FAIL: Secure over plain HTTP"; failed=1; }
[ $failed = 0 ] && echo "ok: the listeners, bearer tokens, the cookie's attributes"

mkdir -p "$SHOTS"
HOOK_URL=$SURL/hooks/shop DASH_URL=$DASH WEBHOOK_SECRET=$SECRET SHOTS_DIR=$SHOTS \
    CHROMIUM=$CHROMIUM node "$here/../node/dashboard.js"
rc=$?
[ $failed = 0 ] || rc=1
if grep -q "$SLUICE_ADMIN_TOKEN" "$tmp/serve.log"; then
    echo "FAIL: the log holds the admin token"
    rc=1
fi
[ $rc = 0 ] || echo "serve's log: $(tail -c 3000 "$tmp/serve.log")"
exit $rc
