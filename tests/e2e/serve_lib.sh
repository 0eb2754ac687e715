# Shared by the end-to-end tests of `sluice serve` under attack (serve_*.sh), sourced after
# lib.sh: a connection `shop` with a webhook secret, starting and stopping serve, signing with
# openssl (fast enough to sign inside a timed loop), and posting.
# The sourcing script sets SLUICE, FAKE and KEY.
SECRET=whsec_test_0123456789abcdef
export SLUICE_DATA="$tmp/data"
unset STRIPE_API_KEY SLUICE_BASE_URL SLUICE_MASTER_KEY SLUICE_STORE SLUICE_ADMIN_TOKEN
serve_pid=

extra_cleanup() { stop_serve; }

# add_shop: the connection `shop`, its key checked against the fake Stripe.
add_shop() {
    script '[{"status":200,"body":{"id":"acct_123","object":"account"}}]'
    "$SLUICE" connect add shop --key "$KEY" --webhook-secret "$SECRET" --base-url "$URL" \
        >"$tmp/out" 2>"$tmp/err" || { echo "connect add failed: $(cat "$tmp/err")"; exit 1; }
    stop_fake
}

# free_port: a port nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_serve ADDR ARGS...: starts sluice serve on ADDR; sets $SURL, or leaves it empty if serve
# did not listen within 5 s.
start_serve() {
    local addr=$1
    shift
    stop_serve
    : >"$tmp/serve.log"
    "$SLUICE" serve --listen "$addr" "$@" 2>"$tmp/serve.log" &
    serve_pid=$!
    SURL=
    for _ in $(seq 400); do
        grep -q '"listening"' "$tmp/serve.log" && break
        kill -0 "$serve_pid" 2>/dev/null || break
        sleep 0.05
    done
    SURL=$(grep -o '"url":"[^"]*"' "$tmp/serve.log" | head -1 | cut -d'"' -f4)
}

stop_serve() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null
        wait "$serve_pid" 2>/dev/null
        serve_rc=$?
        serve_pid=
    fi
}

# event ID: a minimal Stripe event.
event() {
    printf '{"id":"%s","object":"event","type":"customer.created","created":%s,"livemode":false,"data":{"object":{"id":"cus_1","object":"customer"}}}' \
        "$1" "$(date +%s)"
}

# sign BODY [SECRET]: a Stripe-Signature header for BODY, timestamped now.
sign() {
    local t mac
    t=$(date +%s)
    mac=$(printf '%s.%s' "$t" "$1" | openssl dgst -sha256 -hmac "${2:-$SECRET}" -r | cut -d' ' -f1)
    printf 't=%s,v1=%s' "$t" "$mac"
}

# post ID [CURL ARGS...]: posts event ID, signed, to /hooks/shop; sets $code and $secs (the
# time to the answer), and leaves the answer in $tmp/out.
post() {
    local id=$1 body
    shift
    body=$(event "$id")
    read -r code secs < <(curl -s -o "$tmp/out" -w '%{http_code} %{time_total}\n' --max-time 30 \
        "$@" -X POST "$SURL/hooks/shop" -H 'Content-Type: application/json' \
        -H "Stripe-Signature: $(sign "$body")" --data-binary "$body")
}
expect_code() { [ "$code" = "$1" ] || fail "HTTP $code, wanted $1 ($(cat "$tmp/out"))"; }
