#!/usr/bin/env bash
# `sluice serve` while its store cannot commit: webhooks get 503 within about 2 s, /healthz
# says 503 with the reason, and both recover once the store takes writes again, with no
# webhook needed to notice. The store is locked by another process holding BEGIN EXCLUSIVE on
# the SQLite file.
# Usage: serve_health.sh SLUICE_BIN FAKE_STRIPE_BIN
set -uo pipefail
SLUICE=$1
FAKE=$2
KEY=sk_test_51HsecretsecretsecretsecretXYZ4f2a
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
lock_pid=

stop_lock() {
    if [ -n "$lock_pid" ]; then
        touch "$tmp/release"
        wait "$lock_pid" 2>/dev/null
        lock_pid=
    fi
}
extra_cleanup() {
    stop_lock
    stop_serve
}

# health: sets $code and leaves /healthz's answer in $tmp/health.
health() {
    code=$(curl -s -o "$tmp/health" -w '%{http_code}' --max-time 5 "$SURL/healthz")
}

add_shop
start_serve 127.0.0.1:0
[ -n "$SURL" ] || { echo "serve did not start: $(cat "$tmp/serve.log")"; exit 1; }

begin "healthy: a webhook is stored and /healthz says ok"
post evt_h_1
expect_code 200
health
[ "$code" = 200 ] || fail "/healthz $code: $(cat "$tmp/health")"
jq -e '.ok == true' "$tmp/health" >/dev/null || fail "/healthz: $(cat "$tmp/health")"
end

begin "the store locked by another process: 503 within 2 s, and /healthz says why"
rm -f "$tmp/locked" "$tmp/release"
python3 - "$SLUICE_DATA/sluice.db" "$tmp/locked" "$tmp/release" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
db.execute("ROLLBACK")
PY
lock_pid=$!
for _ in $(seq 200); do
    [ -e "$tmp/locked" ] && break
    sleep 0.05
done
[ -e "$tmp/locked" ] || fail "the lock was not taken"
post evt_h_2
expect_code 503
awk -v s="$secs" 'BEGIN { exit !(s < 2.0) }' || fail "the 503 took ${secs} s"
echo "  (503 after ${secs} s)"
health
[ "$code" = 503 ] || fail "/healthz $code while the store fails: $(cat "$tmp/health")"
jq -e '.ok == false and .reason == "store_failing" and (.message | length > 0)' "$tmp/health" \
    >/dev/null || fail "/healthz: $(cat "$tmp/health")"
echo "  (/healthz: $(cat "$tmp/health"))"
post evt_h_3
expect_code 503
awk -v s="$secs" 'BEGIN { exit !(s < 2.5) }' || fail "the second 503 took ${secs} s"
end

begin "the lock released: /healthz recovers by itself, and webhooks are stored"
stop_lock
recovered=
for _ in $(seq 40); do
    health
    [ "$code" = 200 ] && recovered=1 && break
    sleep 0.1
done
[ -n "$recovered" ] || fail "/healthz still $code 4 s after the lock went: $(cat "$tmp/health")"
post evt_h_2
expect_code 200
expect_out '"duplicate":false'
health
[ "$code" = 200 ] || fail "/healthz $code after a stored event"
stop_serve
[ "$("$SLUICE" events list --json | jq length)" = 2 ] || fail "not 2 events stored"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
