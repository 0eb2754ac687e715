#!/usr/bin/env bash
# `sluice emulate` as a drop-in for Stripe: what code written against real Stripe sends, with
# curl as Stripe's docs do (Basic auth, test tokens) and the official stripe npm package
# (tests/node/emulator_compat.js).
# Usage: emulate_compat.sh SLUICE_BIN
set -uo pipefail
bin=$1
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
rc=0
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; rc=1; fi
}
start() { # start [ARGS...]: a fresh emulator; sets $url
    [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null; }
    "$bin" emulate --listen 127.0.0.1:0 "$@" 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 200); do grep -q '"url"' "$tmp/log" && break; sleep 0.05; done
    url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
}
# req METHOD PATH [curl args...]: the body in $tmp/body, the headers in $tmp/hdr, the status in $code
req() {
    local m=$1 p=$2
    shift 2
    code=$(curl -s -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -X "$m" "$url$p" "$@")
}
j() { jq -r "$1" "$tmp/body"; }
hdr() { grep -i "^$1:" "$tmp/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

start

# --- The protocol ---------------------------------------------------------------------------
req POST /v1/customers -u sk_test_basic: -d email=basic@example.com
check "Basic auth with the key as user name (curl -u sk_test_...:)" \
    test "$code" = 200 -a "$(j .email)" = basic@example.com
req GET /v1/customers -u rk_test_basic:
check "Basic auth with a restricted test key" test "$code" = 200
req GET /v1/customers -u sk_live_nope:
check "Basic auth with a live key is refused, the key masked" \
    eval 'test "$code" = 401 && ! grep -q sk_live_nope "$tmp/body"'
req GET /v1/customers -H 'Authorization: Basic !!!'
check "a Basic header that is not base64 is no key" \
    eval 'test "$code" = 401 && j .error.message | grep -q "did not provide an API key"'
req POST /v1/customers -u sk_test_basic: -H 'Idempotency-Key: echo-1' -d email=i@example.com
check "a write's reply echoes its Idempotency-Key" test "$(hdr Idempotency-Key)" = echo-1
req GET /v1/customers -u sk_test_basic:
check "a read's reply has no Idempotency-Key" test -z "$(hdr Idempotency-Key)"
start --strict
req POST /v1/issuing/cardholders -u sk_test_basic: -d name=Jenny -d type=individual \
    -d 'billing[address][line1]=1 Main St' -d 'billing[address][city]=SF' \
    -d 'billing[address][postal_code]=94111' -d 'billing[address][country]=US'
check "--strict: an operation not kept answers 501 with Stripe-Should-Retry: false" \
    test "$code" = 501 -a "$(hdr Stripe-Should-Retry)" = false
start

exit $rc
