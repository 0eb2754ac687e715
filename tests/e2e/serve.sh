#!/usr/bin/env bash
# End-to-end tests of connections and `sluice serve`: the real binaries, signatures made by the
# official stripe npm package, a scripted fake Stripe on loopback.
# Usage: serve.sh SLUICE_BIN FAKE_STRIPE_BIN
set -uo pipefail
SLUICE=$1
FAKE=$2
KEY=sk_test_51HsecretsecretsecretsecretXYZ4f2a
SECRET=whsec_test_0123456789abcdef
NODE_DIR="$(cd "$(dirname "$0")/../node" && pwd)"
. "$(dirname "$0")/lib.sh"

export SLUICE_DATA="$tmp/data"
unset STRIPE_API_KEY SLUICE_BASE_URL SLUICE_MASTER_KEY SLUICE_STORE
serve_pid=

extra_cleanup() { stop_serve; }

wh() { node "$NODE_DIR/webhooks.js" "$@"; }

# start_serve ARGS...: starts sluice serve on a free port; sets $SURL.
start_serve() {
    stop_serve
    : >"$tmp/serve.log"
    "$SLUICE" serve --listen 127.0.0.1:0 "$@" 2>"$tmp/serve.log" &
    serve_pid=$!
    for _ in $(seq 200); do
        grep -q '"listening"' "$tmp/serve.log" && break
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

# post CONNECTION BODY HEADER: posts a webhook; sets $code and leaves the answer in $tmp/out.
post() {
    if [ -n "$3" ]; then
        code=$(curl -s -o "$tmp/out" -w '%{http_code}' -X POST "$SURL/hooks/$1" \
            -H 'Content-Type: application/json' -H "Stripe-Signature: $3" --data-binary "$2")
    else
        code=$(curl -s -o "$tmp/out" -w '%{http_code}' -X POST "$SURL/hooks/$1" \
            -H 'Content-Type: application/json' --data-binary "$2")
    fi
}
expect_code() { [ "$code" = "$1" ] || fail "HTTP $code, wanted $1 ($(cat "$tmp/out"))"; }
stored() { "$SLUICE" events list --limit 100000 --json | jq length; }
expect_stored() { [ "$(stored)" = "$1" ] || fail "$(stored) events stored, wanted $1"; }

begin "connect add: a valid key is checked against the API and saved, masked"
script '[{"status":200,"body":{"id":"acct_123","object":"account"}}]'
run connect add shop --key "$KEY" --webhook-secret "$SECRET" --base-url "$URL"
expect_rc 0
expect_out "test mode, account acct_123, key sk_test_…4f2a"
expect_field 1 .path /v1/account
expect_field 1 .headers.authorization "Bearer $KEY"
run connect list
expect_rc 0
expect_out "shop"
expect_no_key_anywhere
[ "$(stat -c %a "$SLUICE_DATA/master.key")" = 600 ] || fail "master.key is not mode 600"
grep -q "$KEY" "$SLUICE_DATA/sluice.db" && fail "the key is stored in clear"
grep -q "$SECRET" "$SLUICE_DATA/sluice.db" && fail "the webhook secret is stored in clear"
run connect show shop
expect_out '"webhook_secret": true'
expect_no_key_anywhere
end

begin "sluice call --connection uses the stored key, base URL and account"
script '[{"status":200,"body":{"id":"cus_1","object":"customer"}},{"status":200,"body":{"id":"cus_2","object":"customer"}}]'
run call --connection shop customers.retrieve cus_1
expect_rc 0
expect_out '"id": "cus_1"'
expect_field 1 .path /v1/customers/cus_1
expect_field 1 .headers.authorization "Bearer $KEY"
run call --connection shop customers.retrieve cus_2 --stripe-account acct_other -v
expect_rc 0
expect_field 2 '.headers["stripe-account"]' acct_other
expect_no_key_anywhere
run call --connection shop --api-key "$KEY" customers.retrieve cus_1
expect_rc 2
run call --connection nobody customers.retrieve cus_1
expect_rc 2
expect_err "no connection named"
end

begin "connect add: invalid, revoked, under-privileged and publishable keys save nothing"
script '[{"status":401,"body":{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****4f2a"}}}]'
run connect add bad --key "$KEY" --base-url "$URL"
expect_rc 1
expect_err "invalid or was revoked"
expect_err "nothing was saved"
script '[{"status":403,"body":{"error":{"type":"invalid_request_error","message":"The provided key does not have the required permissions"}}},
         {"status":403,"body":{"error":{"type":"invalid_request_error","message":"no permission"}}},
         {"status":403,"body":{"error":{"type":"invalid_request_error","message":"no permission"}}}]'
run connect add weak --key rk_test_51Hrestrictedrestrictedrestricted99 --base-url "$URL"
expect_rc 1
expect_err "lacks permissions"
run connect add pub --key pk_test_51Hpublishablepublishable --base-url "$URL"
expect_rc 2
expect_err "publishable keys cannot call the API"
run connect add Bad/Name --key "$KEY" --base-url "$URL"
expect_rc 2
run connect add shop --key "$KEY" --base-url "$URL"
expect_rc 2
expect_err "exists"
run connect list --json
[ "$(jq length "$tmp/out")" = 1 ] || fail "a refused key was saved"
end

begin "connect add: a restricted key that reads charges is accepted"
script '[{"status":403,"body":{"error":{"type":"invalid_request_error","message":"The provided key does not have the required permissions"}}},
         {"status":200,"body":{"object":"list","data":[],"has_more":false}}]'
run connect add reader --key rk_test_51Hrestrictedrestrictedrestricted99 --base-url "$URL"
expect_rc 0
expect_out "test mode"
expect_field 2 .path /v1/charges
run connect remove reader
expect_rc 0
end

now=$(date +%s)
start_serve
body=$(wh event evt_sig_1)

begin "signatures made by the official package: valid, tampered, wrong secret"
post shop "$body" "$(echo -n "$body" | wh sign "$SECRET")"
expect_code 200
expect_out '"duplicate":false'
post shop "${body/jenny/jenna}" "$(echo -n "$body" | wh sign "$SECRET")"
expect_code 400
expect_out no_matching_signature
post shop "$body" "$(echo -n "$body" | wh sign whsec_wrong_secret)"
expect_code 400
expect_out no_matching_signature
expect_stored 1
end

begin "expired and future timestamps, two v1 values, missing and garbage headers"
b2=$(wh event evt_sig_2)
post shop "$b2" "$(echo -n "$b2" | wh sign "$SECRET" $((now - 600)))"
expect_code 400
expect_out timestamp_outside_tolerance
post shop "$b2" "$(echo -n "$b2" | wh sign "$SECRET" $((now + 600)))"
expect_code 400
expect_out timestamp_outside_tolerance
good=$(echo -n "$b2" | wh sign "$SECRET")
wrong=$(echo -n "$b2" | wh sign whsec_old_secret)
t=${good%%,*}
post shop "$b2" "$t,${wrong#*,},${good#*,}"
expect_code 200
post shop "$(wh event evt_sig_3)" ""
expect_code 400
expect_out missing_signature_header
post shop "$(wh event evt_sig_3)" "garbage"
expect_code 400
expect_out malformed_signature_header
expect_stored 2
end

begin "not an event, unknown connection, wrong method, oversized body"
notevent='{"hello":"world"}'
post shop "$notevent" "$(echo -n "$notevent" | wh sign "$SECRET")"
expect_code 400
expect_out not_a_stripe_event
post nobody "$body" "$(echo -n "$body" | wh sign "$SECRET")"
expect_code 404
code=$(curl -s -o "$tmp/out" -w '%{http_code}' "$SURL/hooks/shop")
expect_code 405
head -c 1100000 /dev/zero | tr '\0' a >"$tmp/big"
code=$(curl -s -o "$tmp/out" -w '%{http_code}' -X POST "$SURL/hooks/shop" \
    -H "Stripe-Signature: t=1,v1=00" --data-binary @"$tmp/big")
expect_code 413
code=$(curl -s -o "$tmp/out" -w '%{http_code}' "$SURL/healthz")
expect_code 200
expect_stored 2
curl -s "$SURL/metrics" >"$tmp/metrics"
grep -q 'sluice_webhooks_rejected_total{reason="no_matching_signature"} 2' "$tmp/metrics" ||
    fail "metrics lack the 2 signature refusals"
grep -q 'sluice_webhooks_rejected_total{reason="body_too_large"} 1' "$tmp/metrics" ||
    fail "metrics lack the 413"
grep -q 'sluice_commit_batch_size_count' "$tmp/metrics" || fail "no batch histogram"
grep -q '"reason":"timestamp_outside_tolerance"' "$tmp/serve.log" || fail "refusals are not logged"
grep -q "$SECRET" "$tmp/serve.log" && fail "the secret is in the log"
end

begin "serve refuses a bad --listen or --events before starting"
run serve --listen 127.0.0.1:99999
expect_rc 2
expect_err "65535"
run serve --listen 127.0.0.1:0 --events invoice.nope
expect_rc 2
expect_err "not a Stripe event type"
end

begin "sluice trigger --to posts a signed sample event"
run trigger invoice.paid --to "$SURL/hooks/shop" --secret "$SECRET"
expect_rc 0
expect_out "invoice.paid: HTTP 200"
run events list --type invoice.paid --json
[ "$(jq length "$tmp/out")" = 1 ] || fail "the triggered event is not in the inbox"
run trigger invoice.paid --to "$SURL/hooks/shop" --secret whsec_wrong
expect_rc 1
expect_out "no_matching_signature"
run trigger invoice.nope --to "$SURL/hooks/shop" --secret "$SECRET"
expect_rc 2
run trigger invoice.paid --to http://127.0.0.1:9/hooks/x --secret "$SECRET"
expect_rc 3
end

begin "the same event from 16 parallel clients is stored once"
codes=$(wh same "$SURL/hooks/shop" "$SECRET" evt_dup_1 16)
[ "$(echo "$codes" | tr ' ' '\n' | grep -c '^200$')" = 16 ] || fail "not every client got 200: $codes"
expect_stored 4 # the 2 signature tests, the trigger, and this one
run events show evt_dup_1
expect_rc 0
expect_out "received"
expect_out "by webhook"
end

begin "events list and show"
run events list
expect_rc 0
expect_out evt_dup_1
run events list --type 'customer.*' --json
[ "$(jq length "$tmp/out")" = 3 ] || fail "type filter"
run events list --type invoice.created --json
[ "$(jq length "$tmp/out")" = 0 ] || fail "type filter let others through"
run events show evt_nope
expect_rc 4
expect_err "no event"
end

begin "rotate-secret: the new secret works and the previous one keeps working"
run connect rotate-secret shop --webhook-secret whsec_rotated_secret_value
expect_rc 0
sleep 1.2
b3=$(wh event evt_rot_1)
post shop "$b3" "$(echo -n "$b3" | wh sign whsec_rotated_secret_value)"
expect_code 200
b4=$(wh event evt_rot_2)
post shop "$b4" "$(echo -n "$b4" | wh sign "$SECRET")"
expect_code 200
run connect rotate-secret shop --webhook-secret whsec_third_secret_value --grace 0
sleep 1.2
b5=$(wh event evt_rot_3)
post shop "$b5" "$(echo -n "$b5" | wh sign "$SECRET")"
expect_code 400
SECRET=whsec_third_secret_value
end

begin "SIGTERM drains: every event answered 2xx is stored, exit 0"
: >"$tmp/acks"
wh post "$SURL/hooks/shop" "$SECRET" 600 16 "$tmp/acks" drain >"$tmp/load" &
load=$!
sleep 0.4
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_rc=$?
serve_pid=
wait "$load"
[ "$serve_rc" = 0 ] || fail "serve exited $serve_rc after SIGTERM"
n=$(wc -l <"$tmp/acks")
[ "$n" -gt 0 ] || fail "no event was acknowledged before SIGTERM"
"$SLUICE" events list --limit 100000 --json | jq -r '.[].id' | sort >"$tmp/have"
missing=$(sort "$tmp/acks" | comm -23 - "$tmp/have" | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged events are not stored"
grep -q '"stopped"' "$tmp/serve.log" || fail "no stopped log line"
end

begin "kill -9 under load: every event answered 2xx is in the store after a restart"
start_serve
: >"$tmp/acks"
wh post "$SURL/hooks/shop" "$SECRET" 3000 16 "$tmp/acks" crash >"$tmp/load" &
load=$!
sleep 0.8
kill -KILL "$serve_pid"
wait "$serve_pid" 2>/dev/null
serve_pid=
wait "$load"
n=$(wc -l <"$tmp/acks")
[ "$n" -gt 0 ] || fail "no event was acknowledged before the kill"
start_serve
"$SLUICE" events list --limit 100000 --json | jq -r '.[].id' | sort >"$tmp/have"
missing=$(sort "$tmp/acks" | comm -23 - "$tmp/have" | wc -l)
[ "$missing" = 0 ] || fail "$missing of $n acknowledged events were lost"
echo "  ($n events acknowledged before kill -9, all stored)"
stop_serve
end

begin "endpoint registration: created once, reused, updated in place, unregistered"
run connect remove shop # so that only reg registers
script '[{"status":200,"body":{"id":"acct_reg","object":"account"}}]'
run connect add reg --key "$KEY" --base-url "$URL"
expect_rc 0
script '[{"body":{"object":"list","has_more":false,"data":[{"id":"we_other","url":"https://elsewhere.test/x","enabled_events":["*"]}]}},
         {"body":{"id":"we_1","object":"webhook_endpoint","url":"https://hooks.example.test/hooks/reg","enabled_events":["*"],"secret":"whsec_from_stripe_123"}}]'
start_serve --public-url https://hooks.example.test
stop_serve
expect_requests 2
expect_field 1 .method GET
expect_field 1 .path /v1/webhook_endpoints
expect_field 2 .method POST
expect_field 2 .path /v1/webhook_endpoints
[ "$(field 2 .body)" = 'enabled_events[0]=%2A&url=https%3A%2F%2Fhooks.example.test%2Fhooks%2Freg&api_version=2023-08-16&description=sluice&metadata[sluice_connection]=reg' ] ||
    fail "create sent $(field 2 .body)"
run connect show reg
expect_out '"endpoint_id": "we_1"'
expect_out '"webhook_secret": true'
end

begin "registration: an existing endpoint for the URL is reused, or updated in place"
script '[{"body":{"object":"list","has_more":false,"data":[{"id":"we_1","url":"https://hooks.example.test/hooks/reg","enabled_events":["*"]}]}}]'
start_serve --public-url https://hooks.example.test/
stop_serve
[ "$(grep -c '"method":"POST"' "$tmp/record")" = 0 ] || fail "an endpoint was created or updated needlessly"
script '[{"body":{"object":"list","has_more":false,"data":[{"id":"we_1","url":"https://hooks.example.test/hooks/reg","enabled_events":["*"]}]}},
         {"body":{"id":"we_1","object":"webhook_endpoint","url":"https://hooks.example.test/hooks/reg","enabled_events":["invoice.paid","customer.created"]}}]'
start_serve --public-url https://hooks.example.test --events invoice.paid,customer.created
stop_serve
expect_field 2 .method POST
expect_field 2 .path /v1/webhook_endpoints/we_1
expect_field 2 .body 'enabled_events[0]=invoice.paid&enabled_events[1]=customer.created'
grep -q '"path":"/v1/webhook_endpoints","query":"","body":"enabled' "$tmp/record" &&
    fail "a second endpoint was created"
end

begin "connect unregister deletes the endpoint"
script '[{"body":{"id":"we_1","object":"webhook_endpoint","deleted":true}}]'
run connect unregister reg
expect_rc 0
expect_out "Deleted webhook endpoint we_1"
expect_field 1 .method DELETE
expect_field 1 .path /v1/webhook_endpoints/we_1
run connect unregister reg
expect_rc 4
expect_err "no webhook endpoint"
end

begin "catch-up recovers events that webhooks missed, with the same dedupe"
run connect remove reg
script '[{"status":200,"body":{"id":"acct_cu","object":"account"}}]'
run connect add cu --key "$KEY" --base-url "$URL"
script '[{"body":{"object":"list","has_more":false,"data":[
           {"id":"evt_cu_1","object":"event","type":"invoice.paid","created":1700000100,"data":{"object":{"id":"in_1"}}},
           {"id":"evt_dup_1","object":"event","type":"customer.created","created":1700000050,"data":{"object":{"id":"cus_1"}}}]},"repeat":true}]'
start_serve --catch-up 1
for _ in $(seq 60); do
    "$SLUICE" events show evt_cu_1 >/dev/null 2>&1 && break
    sleep 0.1
done
stop_serve
run events show evt_cu_1 --json
expect_rc 0
[ "$(jq -r .source "$tmp/out")" = catch-up ] || fail "evt_cu_1 did not come from catch-up"
# Deduplicated per connection: catch-up listed evt_cu_1 on every pass, and it is kept once;
# evt_dup_1 came as a webhook to `shop`, and on `cu` is that connection's own copy (Stripe
# Connect sends one event to a platform and to a connected account).
run events list --json --limit 100000
[ "$(jq '[.[] | select(.id == "evt_cu_1")] | length' "$tmp/out")" = 1 ] || fail "evt_cu_1 stored more than once"
[ "$(jq -r '[.[] | select(.id == "evt_dup_1" and .connection == "shop")][0].source' "$tmp/out")" = webhook ] ||
    fail "a duplicate replaced the webhook's copy"
[ "$(jq '[.[] | select(.id == "evt_dup_1")] | length' "$tmp/out")" = 2 ] || fail "evt_dup_1 not kept once per connection"
grep -q 'created\[gte\]=' "$tmp/record" || fail "catch-up did not ask from its cursor"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
