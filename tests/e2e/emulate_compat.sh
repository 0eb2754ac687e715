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
    starts=$((${starts:-0} + 1))
    local log="$tmp/log$starts"
    "$bin" emulate --listen 127.0.0.1:0 "$@" 2>"$log" &
    pid=$!
    for _ in $(seq 400); do grep -qs '"url"' "$log" && break; sleep 0.05; done
    url=$(grep -o '"url":"[^"]*"' "$log" | head -1 | cut -d'"' -f4)
    [ -n "$url" ] || { echo "FAIL: sluice emulate did not start: $(cat "$log")"; exit 1; }
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
req POST /v1/radar/value_lists -u sk_test_basic: -d alias=blocked -d name=Blocked
check "--strict: an operation not kept answers 501 with Stripe-Should-Retry: false" \
    test "$code" = 501 -a "$(hdr Stripe-Should-Retry)" = false
start

# --- Test cards by token --------------------------------------------------------------------
cus=$(curl -s -u sk_test_x: "$url/v1/customers" -d email=t@example.com | jq -r .id)
req POST /v1/payment_methods/pm_card_visa/attach -u sk_test_x: -d customer="$cus"
check "POST /v1/payment_methods/pm_card_visa/attach makes a new pm_ on the customer" \
    eval 'test "$code" = 200 && j .id | grep -q "^pm_" && test "$(j .id)" != pm_card_visa && test "$(j .customer)" = "$cus"'
req POST /v1/payment_intents -u sk_test_x: -d amount=500 -d currency=usd \
    -d payment_method=pm_card_chargeDeclinedInsufficientFunds -d confirm=true
check "insufficient funds: 402 with Stripe's message" \
    test "$code" = 402 -a "$(j .error.message)" = "Your card has insufficient funds." -a "$(j .error.decline_code)" = insufficient_funds
req POST /v1/payment_methods -u sk_test_x: -d type=card -d 'card[token]=tok_visa'
check "payment_methods.create with card[token]=tok_visa" test "$code" = 200 -a "$(j .card.last4)" = 4242

# --- Checkout completed through its hosted page, as the Stripe CLI's fixture does -----------
prod=$(curl -s -u sk_test_x: "$url/v1/products" -d name=Widget | jq -r .id)
price=$(curl -s -u sk_test_x: "$url/v1/prices" -d product="$prod" -d unit_amount=1500 -d currency=usd | jq -r .id)
cs=$(curl -s -u sk_test_x: "$url/v1/checkout/sessions" -d mode=payment -d success_url=https://example.com/ok \
    -d "line_items[0][price]=$price" -d 'line_items[0][quantity]=2' | jq -r .id)
req GET "/v1/payment_pages/$cs" -u sk_test_x:
check "GET /v1/payment_pages/{session} shows the session" test "$code" = 200 -a "$(j .id)" = "$cs"
pm=$(curl -s -u sk_test_x: "$url/v1/payment_methods" -d type=card -d 'card[token]=tok_visa' | jq -r .id)
req POST "/v1/payment_pages/$cs/confirm" -u sk_test_x: -d payment_method="$pm" -d expected_amount=2999
check "a confirm whose expected_amount is not the session's is refused" \
    test "$code" = 400 -a "$(j .error.param)" = expected_amount
req POST "/v1/payment_pages/$cs/confirm" -u sk_test_x: -d payment_method="$pm" -d expected_amount=3000
check "POST /v1/payment_pages/{session}/confirm pays it: checkout.session.completed" \
    eval 'test "$code" = 200 && test "$(j .status)" = complete &&
        curl -s -u sk_test_x: "$url/v1/events?type=checkout.session.completed" | jq -e ".data[0].data.object.id == \"$cs\"" >/dev/null'

# --- Operations not kept: answered as the stateless mock answers, marked --------------------
req POST /v1/radar/value_lists -u sk_test_x: -d alias=blocked_emails -d name=Blocked \
    -d item_type=email -d 'metadata[team]=ops'
check "an operation not kept answers the example with the request applied, a fresh id, Sluice-Stateless: true" \
    eval 'test "$code" = 200 && test "$(hdr Sluice-Stateless)" = true && test "$(j .object)" = radar.value_list &&
        j .id | grep -q "^rsl_" && test "$(j .alias)" = blocked_emails && test "$(j .item_type)" = email &&
        test "$(j .metadata.team)" = ops'
first=$(j .id)
req POST /v1/radar/value_lists -u sk_test_x: -d alias=other -d name=Other
check "each stateless create has its own id" test "$(j .id)" != "$first" -a "$(j .alias)" = other
req GET /v1/radar/value_lists/rsl_given -u sk_test_x:
check "a stateless retrieve names the id asked for" test "$code" = 200 -a "$(j .id)" = rsl_given
req GET /v1/radar/value_lists -u sk_test_x:
check "a stateless list is a list of the example" \
    test "$(j .object)" = list -a "$(j '.data[0].object')" = radar.value_list -a "$(hdr Sluice-Stateless)" = true
req DELETE /v1/radar/value_lists/rsl_gone -u sk_test_x:
check "a stateless delete answers deleted" test "$(j .id)" = rsl_gone -a "$(j .deleted)" = true
req POST /v1/radar/value_lists -u sk_test_x: -d alias=x
check "a stateless operation still checks its parameters" \
    test "$code" = 400 -a "$(j .error.param)" = name
req POST /v1/customers -u sk_test_x: -d email=kept@example.com
check "kept operations carry no Sluice-Stateless" test -z "$(hdr Sluice-Stateless)"

(cd "$(dirname "$0")/../node" && node emulator_compat.js "$url") || rc=1

# --- Objects are kept as text between requests: filters and shared items still hold ---------
start
odd=$(printf 'quote"and\\back@example.com')
curl -s -o /dev/null -u sk_test_x: "$url/v1/customers" --data-urlencode "email=$odd"
curl -s -o /dev/null -u sk_test_x: "$url/v1/customers" -d email=plain@example.com
req GET /v1/customers -u sk_test_x: -G --data-urlencode "email=$odd"
check "a list filter by a value with a quote and a backslash finds its customer" \
    test "$(j '.data | length')" = 1 -a "$(j '.data[0].email')" = "$odd"
req GET /v1/customers -u sk_test_x: -G -d email=plain@example.com -d 'created[gte]=0'
check "a list filter by email and created finds one customer" test "$(j '.data | length')" = 1
cus=$(curl -s -u sk_test_x: "$url/v1/customers" -d email=sub@example.com -d payment_method=pm_card_visa \
    -d 'invoice_settings[default_payment_method]=pm_card_visa' | jq -r .id)
prod=$(curl -s -u sk_test_x: "$url/v1/products" -d name=Seat | jq -r .id)
price=$(curl -s -u sk_test_x: "$url/v1/prices" -d product="$prod" -d unit_amount=700 -d currency=usd \
    -d 'recurring[interval]=month' | jq -r .id)
sub=$(curl -s -u sk_test_x: "$url/v1/subscriptions" -d customer="$cus" -d "items[0][price]=$price" | jq -r .id)
si=$(curl -s -u sk_test_x: "$url/v1/subscriptions/$sub" | jq -r '.items.data[0].id')
curl -s -o /dev/null -u sk_test_x: "$url/v1/subscriptions/$sub" -d "items[0][id]=$si" -d 'items[0][quantity]=3'
req GET "/v1/subscription_items/$si" -u sk_test_x:
check "an item changed through its subscription is changed as an item too" test "$(j .quantity)" = 3
req GET "/v1/subscriptions/$sub" -u sk_test_x:
check "and the subscription shows it" test "$(j '.items.data[0].quantity')" = 3
req GET "/v1/invoices/upcoming?customer=$cus" -u sk_test_x:
check "the upcoming invoice prices the new quantity" test "$(j .amount_due)" = 2100

# --- --max-events: a bounded event history, the oldest dropped --------------------------------
start --max-events 20
first=$(curl -s -u sk_test_x: "$url/v1/customers" -d email=first@example.com | jq -r .id)
for i in $(seq 40); do curl -s -o /dev/null -u sk_test_x: "$url/v1/customers" -d "email=c$i@example.com"; done
last=$(curl -s -u sk_test_x: "$url/v1/customers" -d email=last@example.com -H 'Idempotency-Key: k-last' | jq -r .id)
curl -s -u sk_test_x: "$url/v1/events?limit=100" >"$tmp/events"
n=$(jq '.data | length' "$tmp/events")
check "--max-events 20 keeps the newest 20 or 21 events, the oldest dropped" \
    eval 'test "$n" -ge 20 -a "$n" -le 21 && jq -e ".data[0].data.object.id == \"$last\"" "$tmp/events" >/dev/null &&
        ! grep -q "$first" "$tmp/events"'
again=$(curl -s -u sk_test_x: "$url/v1/customers" -d email=last@example.com -H 'Idempotency-Key: k-last' | jq -r .id)
check "an idempotent replay answers the first reply" test "$again" = "$last"

exit $rc
