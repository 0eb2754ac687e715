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
cid=$(curl -s -A node -u sk_test_x: "$url/v1/customers" -d email=lines@example.com | jq -r .id)
req GET "/v1/customers/$cid" -u sk_test_x: -A node
check "replies to code are compact JSON, a kept object's text as it is (one line)" \
    eval 'test "$(wc -l <"$tmp/body")" = 0 && test "$(j .id)" = "$cid"'
req GET "/v1/customers/$cid" -u sk_test_x: -A curl/8.0
check "replies to curl are indented, as Stripe's mock answers curl" \
    eval 'test "$(wc -l <"$tmp/body")" -gt 10 && test "$(j .id)" = "$cid"'
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

# --- State behind the Stripe CLI's fixtures: accounts, balance, cash balance, issuing, debits ---
k=(-u sk_test_x:)
acct=$(curl -s "${k[@]}" "$url/v1/accounts" -d type=express -d country=US | jq -r .id)
req POST "/v1/accounts/$acct" "${k[@]}" -d 'metadata[tier]=gold'
check "a connected account is kept: update records account.updated" \
    eval 'test "$code" = 200 && test "$(j .metadata.tier)" = gold &&
        curl -s "${k[@]}" "$url/v1/events?type=account.updated" | jq -e ".data[0].data.object.id == \"$acct\"" >/dev/null'
req DELETE "/v1/accounts/$acct" "${k[@]}"
check "deleting it records account.application.deauthorized; it is gone" \
    eval 'test "$(j .deleted)" = true &&
        curl -s "${k[@]}" "$url/v1/events?type=account.application.deauthorized" | jq -e ".data[0].data.object.object == \"application\"" >/dev/null &&
        test "$(curl -s -o /dev/null -w "%{http_code}" "${k[@]}" "$url/v1/accounts/$acct")" = 404'
before=$(curl -s "${k[@]}" "$url/v1/balance" | jq '[.available[] | select(.currency=="usd") | .amount] | add // 0')
curl -s -o /dev/null "${k[@]}" "$url/v1/payment_intents" -d amount=700 -d currency=usd -d payment_method=pm_card_bypassPending -d confirm=true
req GET /v1/balance "${k[@]}"
check "pm_card_bypassPending makes funds available at once (GET /v1/balance, balance.available)" \
    eval 'test "$(jq "[.available[] | select(.currency==\"usd\") | .amount] | add" "$tmp/body")" = $((before + 700)) &&
        curl -s "${k[@]}" "$url/v1/events?type=balance.available" | jq -e ".data | length == 1" >/dev/null'
cus=$(curl -s "${k[@]}" "$url/v1/customers" -d email=cash@example.com | jq -r .id)
curl -s -o /dev/null "${k[@]}" "$url/v1/test_helpers/customers/$cus/fund_cash_balance" -d amount=1000 -d currency=eur
req POST "/v1/test_helpers/customers/$cus/fund_cash_balance" "${k[@]}" -d amount=500 -d currency=eur
check "funding a cash balance answers its transaction (ending_balance adds up)" \
    test "$(j .object)" = customer_cash_balance_transaction -a "$(j .ending_balance)" = 1500 -a "$(j .type)" = funded
req GET "/v1/customers/$cus/cash_balance" "${k[@]}"
check "the customer's cash balance is kept, with cash_balance.funds_available" \
    eval 'test "$(j .available.eur)" = 1500 &&
        test "$(curl -s "${k[@]}" "$url/v1/customers/$cus/cash_balance_transactions" | jq ".data | length")" = 2 &&
        curl -s "${k[@]}" "$url/v1/events?type=cash_balance.funds_available" | jq -e ".data[0].data.object.customer == \"$cus\"" >/dev/null'
ich=$(curl -s "${k[@]}" "$url/v1/issuing/cardholders" -d name=Jenny -d type=individual -d 'billing[address][line1]=1 Main' \
    -d 'billing[address][city]=SF' -d 'billing[address][postal_code]=94103' -d 'billing[address][country]=US' | jq -r .id)
ic=$(curl -s "${k[@]}" "$url/v1/issuing/cards" -d cardholder="$ich" -d currency=usd -d type=virtual -d status=active | jq -r .id)
req POST "/v1/issuing/cards/$ic/test/authorizations" "${k[@]}" -d held_amount=300 -d authorization_method=online
check "the Stripe CLI's POST /v1/issuing/cards/{card}/test/authorizations makes a kept authorization" \
    eval 'test "$code" = 200 && test "$(j .amount)" = 300 && test "$(j .status)" = pending && test "$(j .card.id)" = "$ic" &&
        test "$(curl -s "${k[@]}" "$url/v1/issuing/authorizations?card=$ic" | jq -r ".data[0].id")" = "$(j .id)"'
auth=$(j .id)
req POST "/v1/test_helpers/issuing/authorizations/$auth/capture" "${k[@]}"
check "capturing it closes it and makes a transaction" \
    eval 'test "$(j .status)" = closed && test "$(j ".transactions[0].amount")" = -300 &&
        test "$(curl -s "${k[@]}" "$url/v1/issuing/transactions?card=$ic" | jq ".data | length")" = 1'
req POST /v1/test_helpers/issuing/transactions/create_force_capture "${k[@]}" -d card="$ic" -d amount=4200 \
    -d 'purchase_details[receipt][0][description]=Airport ride' -d 'purchase_details[receipt][0][quantity]=1' \
    -d 'purchase_details[receipt][0][unit_cost]=4200'
check "a forced capture with receipt lines records issuing_transaction.purchase_details_receipt_updated" \
    eval 'test "$(j .amount)" = -4200 && test "$(j .type)" = capture &&
        curl -s "${k[@]}" "$url/v1/events?type=issuing_transaction.purchase_details_receipt_updated" | jq -e ".data[0].data.object.id == \"$(j .id)\"" >/dev/null'
req POST "/v1/issuing/cards/card_none/test/authorizations" "${k[@]}" -d held_amount=300
check "an authorization on a card that does not exist is refused naming it" \
    test "$code" = 400 -a "$(j .error.param)" = card
sepa=$(curl -s "${k[@]}" "$url/v1/payment_methods" -d type=sepa_debit -d 'sepa_debit[iban]=AT861904300235473202' -d 'billing_details[name]=J' -d 'billing_details[email]=j@example.com' | jq -r .id)
req GET "/v1/payment_methods/$sepa" "${k[@]}"
check "a SEPA payment method keeps no IBAN, only its country, bank code and last four" \
    eval 'test "$(j .sepa_debit.last4)" = 3202 -a "$(j .sepa_debit.country)" = AT && ! grep -q AT861904300235473202 "$tmp/body"'

req POST /v1/payment_intents "${k[@]}" -d amount=900 -d currency=eur -d 'payment_method_types[]=sepa_debit' -d payment_method="$sepa" -d confirm=true
pi=$(j .id)
check "a failing SEPA test IBAN answers processing, then fails" \
    eval 'test "$(j .status)" = processing &&
        test "$(curl -s "${k[@]}" "$url/v1/payment_intents/$pi" | jq -r .status)" = requires_payment_method &&
        curl -s "${k[@]}" "$url/v1/events?type=payment_intent.payment_failed" | jq -e ".data[0].data.object.id == \"$pi\"" >/dev/null'
for f in checkout.session.async_payment_succeeded subscription_schedule.completed; do
    "$bin" trigger "$f" --api-key sk_test_x --base-url "$url" >/dev/null 2>&1
done
cs=$(curl -s "${k[@]}" "$url/v1/events?type=checkout.session.async_payment_succeeded" | jq -r '.data[0].data.object.id')
check "a Checkout Session paid by a SEPA test IBAN is paid after its async payment succeeds" \
    test "$(curl -s "${k[@]}" "$url/v1/checkout/sessions/$cs" | jq -r .payment_status)" = paid
ss=$(curl -s "${k[@]}" "$url/v1/events?type=subscription_schedule.completed" | jq -r '.data[0].data.object')
check "a schedule the clock passes the end of completes, its subscription canceled (end_behavior=cancel)" \
    eval 'test "$(echo "$ss" | jq -r .status)" = completed &&
        test "$(curl -s "${k[@]}" "$url/v1/subscriptions/$(echo "$ss" | jq -r .subscription)" | jq -r .status)" = canceled &&
        curl -s "${k[@]}" "$url/v1/events?type=subscription_schedule.expiring" | jq -e ".data | length == 1" >/dev/null'

T=1704067200
clk=$(curl -s "${k[@]}" "$url/v1/test_helpers/test_clocks" -d frozen_time=$T | jq -r .id)
cus=$(curl -s "${k[@]}" "$url/v1/customers" -d test_clock="$clk" -d payment_method=pm_card_visa \
    -d 'invoice_settings[default_payment_method]=pm_card_visa' | jq -r .id)
phased_prod=$(curl -s "${k[@]}" "$url/v1/products" -d name=Phased | jq -r .id)
phased_price=$(curl -s "${k[@]}" "$url/v1/prices" -d product="$phased_prod" -d unit_amount=100 -d currency=usd -d 'recurring[interval]=month' | jq -r .id)
curl -s "${k[@]}" "$url/v1/subscription_schedules" -d customer="$cus" -d start_date=$T -d end_behavior=release \
    -d "phases[0][items][0][price]=$phased_price" -d 'phases[0][iterations]=1' \
    -d "phases[1][items][0][price]=$phased_price" -d 'phases[1][items][0][quantity]=3' -d 'phases[1][iterations]=1' >"$tmp/ss"
sub=$(jq -r .subscription "$tmp/ss")
curl -s -o /dev/null "${k[@]}" "$url/v1/test_helpers/test_clocks/$clk/advance" -d frozen_time=$((T + 31 * 86400))
check "a test clock moves a schedule into its next phase: the subscription takes its items" \
    test "$(curl -s "${k[@]}" "$url/v1/subscriptions/$sub" | jq -c '[.items.data[].quantity]')" = "[3]"
curl -s -o /dev/null "${k[@]}" "$url/v1/test_helpers/test_clocks/$clk/advance" -d frozen_time=$((T + 61 * 86400))
check "at the schedule's end it completes and releases its subscription (end_behavior=release)" \
    test "$(curl -s "${k[@]}" "$url/v1/subscription_schedules/$(jq -r .id "$tmp/ss")" | jq -c '[.status, .released_subscription, .subscription]')" = "[\"completed\",\"$sub\",null]"

req POST /v1/accounts "${k[@]}" -d type=custom -d country=US -d 'capabilities[card_payments][requested]=true' \
    -d 'capabilities[transfers][requested]=false'
check "an account's capabilities are statuses (strings), as the SDKs decode them" \
    test "$(jq -c .capabilities "$tmp/body")" = '{"card_payments":"active","transfers":"inactive"}'
req POST "/v1/accounts/$(j .id)" "${k[@]}" -d 'capabilities[transfers][requested]=true'
check "asking for a capability later makes it active" test "$(j .capabilities.transfers)" = active

# --- What the official SDKs' suites send (bench/sdk_suites.sh) ------------------------------
req GET / -u sk_test_x:
check "replies carry Stripe-Mock-Version, which the SDKs' suites ask their peer for" \
    test -n "$(hdr Stripe-Mock-Version)"
req POST /v1/tax_rates -u sk_test_x: -d display_name=VAT -d percentage=20 -d inclusive=False -d active=True
check "booleans as stripe-python 6 sends them (True, False)" \
    test "$code" = 200 -a "$(j .inclusive)" = false -a "$(j .active)" = true
printf 'evidence' >"$tmp/upload.txt"
req POST /v1/files -u sk_test_x: -F purpose=dispute_evidence -F "file=@$tmp/upload.txt" \
    -F 'file_link_data[create]=true'
check "a multipart/form-data upload (POST /v1/files) is read as a form" \
    test "$code" = 200 -a "$(j .purpose)" = dispute_evidence -a "$(hdr Sluice-Stateless)" = true
req POST /v1/files -u sk_test_x: -F "file=@$tmp/upload.txt"
check "a multipart upload's parameters are checked" test "$code" = 400 -a "$(j .error.param)" = purpose
req POST /v1/tokens -u sk_test_x: -d 'card[number]=4242424242424242' -d 'card[exp_month]=12' \
    -d 'card[exp_year]=2030' -d 'card[cvc]=123'
check "a stateless reply types nested values as the example does (card[exp_month] a number)" \
    eval 'test "$code" = 200 && jq -e ".card.exp_month == 12 and .card.exp_year == 2030" "$tmp/body" >/dev/null'
req GET /v1/application_fees/fee_given -u sk_test_x:
check "a stateless retrieve names its own id in its lists' URLs" \
    test "$(j .id)" = fee_given -a "$(j .refunds.url)" = /v1/application_fees/fee_given/refunds
req POST /v1/charges -u sk_test_x: -d amount=500 -d currency=usd -d source=tok_visa
check "charges.create answers statelessly (the emulator charges through payment intents)" \
    test "$code" = 200 -a "$(hdr Sluice-Stateless)" = true -a "$(j .amount)" = 500
req POST /v1/subscription_items -u sk_test_x: -d subscription=sub_x -d price=price_x -d quantity=3
check "subscription_items.create answers statelessly" \
    test "$code" = 200 -a "$(hdr Sluice-Stateless)" = true -a "$(j .quantity)" = 3
req POST /v1/plans -u sk_test_x: -d currency=usd -d interval=month -d product="$prod" \
    -d billing_scheme=tiered -d tiers_mode=graduated -d 'tiers[0][up_to]=5' \
    -d 'tiers[0][unit_amount]=500' -d 'tiers[1][up_to]=inf' -d 'tiers[1][unit_amount]=400'
check "a tiered plan: no amount, its last tier up to null (inf), decimals beside amounts" \
    eval 'test "$code" = 200 && jq -e ".amount == null and .tiers[0].up_to == 5 and .tiers[1].up_to == null and .tiers[1].unit_amount_decimal == \"400\"" "$tmp/body" >/dev/null'
req POST /v1/plans -u sk_test_x: -d currency=usd -d interval=month -d product="$prod" -d amount=700
check "a plan's amount_decimal is its amount, not the example's" test "$(j .amount_decimal)" = 700
qcus=$(curl -s -u sk_test_x: "$url/v1/customers" -d email=q@example.com | jq -r .id)
req POST /v1/quotes -u sk_test_x: -d customer="$qcus" -d "line_items[0][price]=$price" \
    -d 'line_items[0][quantity]=3'
quote=$(j .id)
check "a quote's line items are kept beside it, its amounts their total" \
    eval 'test "$code" = 200 && test "$(j .amount_total)" = 4500 && jq -e "has(\"line_items\") | not" "$tmp/body" >/dev/null'
req GET "/v1/quotes/$quote/line_items" -u sk_test_x:
check "GET /v1/quotes/{id}/line_items lists them" \
    test "$code" = 200 -a "$(j '.data[0].quantity')" = 3 -a "$(j '.data[0].price.id')" = "$price"
req GET "/v1/quotes/$quote/pdf" -u sk_test_x:
check "a kept quote's PDF is a PDF" eval 'test "$code" = 200 && hdr Content-Type | grep -q application/pdf && head -c 5 "$tmp/body" | grep -q "%PDF-"'
req GET /v1/quotes/qt_123/pdf -u sk_test_x:
check "the PDF of a quote not kept is Stripe's 404" test "$code" = 404
req GET /v1/quotes/qt_123/line_items -u sk_test_x:
check "the lines of a quote not kept are Stripe's 404" test "$code" = 404
req GET '/v1/credit_notes/preview?invoice=in_123' -u sk_test_x:
check "a credit note preview names the invoice it cannot find" \
    eval 'test "$code" = 400 && test "$(j .error.param)" = invoice && j .error.message | grep -q in_123'

(cd "$(dirname "$0")/../node" && node emulator_compat.js "$url") || rc=1

# --- What Stripe does outside the API: test routes, test evidence, a test clock --------------
po=$(curl -s -u sk_test_x: "$url/v1/payouts" -d amount=500 -d currency=usd | jq -r .id)
req POST "/_sluice/payouts/$po/paid"
check "POST /_sluice/payouts/{id}/paid: the payout arrives, with payout.paid" \
    eval 'test "$(j .status)" = paid &&
        curl -s -u sk_test_x: "$url/v1/events?type=payout.paid" | jq -e ".data[0].data.object.id == \"$po\"" >/dev/null'
req POST "/_sluice/payouts/$po/failed"
check "a paid payout cannot fail afterwards" test "$code" = 400
tu=$(curl -s -u sk_test_x: "$url/v1/topups" -d amount=700 -d currency=usd | jq -r .id)
req POST "/_sluice/topups/$tu/failed"
check "POST /_sluice/topups/{id}/failed: topup.failed" \
    eval 'test "$(j .status)" = failed && curl -s -u sk_test_x: "$url/v1/events?type=topup.failed" | jq -e ".data | length == 1" >/dev/null'
curl -s -o /dev/null -u sk_test_x: "$url/v1/payment_intents" -d amount=3000 -d currency=usd \
    -d payment_method=pm_card_createDispute -d confirm=true
dp=$(curl -s -u sk_test_x: "$url/v1/disputes" | jq -r '.data[0].id')
req POST "/v1/disputes/$dp" -u sk_test_x: -d 'evidence[uncategorized_text]=winning_evidence'
check "Stripe's test evidence winning_evidence wins a dispute: funds withdrawn, then reinstated" \
    eval 'test "$(j .status)" = won &&
        test "$(curl -s -u sk_test_x: "$url/v1/events?type=charge.dispute.*&limit=100" | jq -c "[.data[] | select(.data.object.id == \"$dp\") | .type] | reverse")" = \
            "[\"charge.dispute.created\",\"charge.dispute.funds_withdrawn\",\"charge.dispute.updated\",\"charge.dispute.closed\",\"charge.dispute.funds_reinstated\"]"'
now=$(date +%s)
clk=$(curl -s -u sk_test_x: "$url/v1/test_helpers/test_clocks" -d frozen_time="$now" | jq -r .id)
tcus=$(curl -s -u sk_test_x: "$url/v1/customers" -d test_clock="$clk" | jq -r .id)
tprod=$(curl -s -u sk_test_x: "$url/v1/products" -d name=Trial | jq -r .id)
tprice=$(curl -s -u sk_test_x: "$url/v1/prices" -d product="$tprod" -d unit_amount=900 -d currency=usd \
    -d 'recurring[interval]=month' | jq -r .id)
tsub=$(curl -s -u sk_test_x: "$url/v1/subscriptions" -d customer="$tcus" -d "items[0][price]=$tprice" \
    -d trial_period_days=14 | jq -r .id)
curl -s -o /dev/null -u sk_test_x: "$url/v1/test_helpers/test_clocks/$clk/advance" -d frozen_time=$((now + 12 * 86400))
check "a test clock passing three days before a trial's end records trial_will_end" \
    eval 'curl -s -u sk_test_x: "$url/v1/events?type=customer.subscription.trial_will_end" | jq -e ".data[0].data.object.id == \"$tsub\"" >/dev/null'

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
curl -s -o /dev/null -u sk_test_x: "$url/v1/plans" -d id=gold -d product="$prod" -d amount=2000 -d currency=usd -d interval=month
req POST /v1/subscriptions -u sk_test_x: -d customer="$cus" -d 'items[0][plan]=gold' -d 'items[0][quantity]=2'
check "the legacy items[][plan] subscribes to a plan as to the price it is, and bills it" \
    eval 'test "$code" = 200 && test "$(j .status)" = active && test "$(j ".items.data[0].price.id")" = gold &&
        test "$(curl -s -u sk_test_x: "$url/v1/invoices/$(j .latest_invoice)" | jq .amount_paid)" = 4000'
curl -s -o /dev/null -u sk_test_x: "$url/v1/subscriptions/$(j .id)" -X DELETE
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
