#!/usr/bin/env bash
# End-to-end tests of `sluice call` and the CLI's conventions, run as a user would run them:
# the real binary against a scripted fake Stripe on a random loopback port.
# Usage: call.sh SLUICE_BIN FAKE_STRIPE_BIN
set -uo pipefail
SLUICE=$1
FAKE=$2
KEY=sk_test_51HsecretsecretsecretsecretXYZ4f2a
. "$(dirname "$0")/lib.sh"

export STRIPE_API_KEY=$KEY
unset SLUICE_BASE_URL

begin "version and help"
run --version
expect_rc 0
expect_out "sluice 0."
run --help
expect_rc 0
expect_out "call"
run help call
expect_rc 0
expect_out "Usage: sluice call METHOD"
run call --help
expect_rc 0
expect_out "--idempotency-key"
end

begin "unknown command, option and help topic exit 2"
run frobnicate
expect_rc 2
expect_err "unknown command \`frobnicate\`"
run --bogus
expect_rc 2
expect_err "unknown option \`--bogus\`"
run call GET /v1/customers --bogus
expect_rc 2
expect_err "unknown option \`--bogus\`"
run help nope
expect_rc 2
run
expect_rc 2
end

begin "usage errors send nothing"
script '[{"status":200,"body":{"id":"x"},"repeat":true}]'
run call POST /v1/customers email --base-url "$URL"
expect_rc 2
expect_err "argument \`email\` is not PARAM=VALUE"
run call PATCH /v1/customers --base-url "$URL"
expect_rc 2
expect_err "unknown operation \`PATCH\`"
run call POST v1/customers --base-url "$URL"
expect_rc 2
expect_err "must start with /"
run call POST /v1/customers 'metadata[a=1' --base-url "$URL"
expect_rc 2
expect_err "without its ']'"
run call GET /v1/customers --limit zero --base-url "$URL"
expect_rc 2
expect_err "--limit"
run call GET /v1/customers --base-url "$URL" --limit
expect_rc 2
expect_err "option \`--limit\` needs a value"
run call GET /v1/customers --base-url "$URL" -x
expect_rc 2
expect_err "unknown option \`-x\`"
run call GET /v1/customers --base-url "$URL" --stripe-account $'acct_1\r\nX-Injected: yes'
expect_rc 2
expect_err "Stripe-Account"
run call POST /v1/customers --base-url "$URL" --idempotency-key $'k\nX-Injected: yes'
expect_rc 2
run call POST /v1/customers $'\xff=1' --base-url "$URL"
expect_rc 2
expect_err "not valid UTF-8"
run call GET "/v1/customers?a=b c" --base-url "$URL"
expect_rc 2
run call GET /v1/customers --base-url http://
expect_rc 2
expect_err "base URL"
STRIPE_API_KEY= run call GET /v1/customers --base-url "$URL"
expect_rc 2
expect_err "no API key"
expect_requests 0
end

begin "create a customer (the README's first call)"
start_fake --echo customer:cus
run call POST /v1/customers email=jenny@example.com 'metadata[plan]=pro' --base-url "$URL"
expect_rc 0
expect_out '"id": "cus_000001"'
expect_out '"email": "jenny@example.com"'
expect_out '"plan": "pro"'
expect_requests 1
expect_field 1 .method POST
expect_field 1 .path /v1/customers
expect_field 1 .body 'email=jenny%40example.com&metadata[plan]=pro'
expect_field 1 '.headers.authorization' "Bearer $KEY"
expect_field 1 '.headers["content-type"]' application/x-www-form-urlencoded
expect_field 1 '.headers["stripe-version"]' 2023-08-16
[ "$(field 1 '.headers["idempotency-key"] | length')" = 36 ] || fail "no generated Idempotency-Key"
end

begin "SLUICE_BASE_URL, METHOD and path as one argument, options after params"
start_fake --echo customer:cus
SLUICE_BASE_URL=$URL run call "post /v1/customers" name=Jenny 'expand[]=default_source' \
    --idempotency-key idem-123 --stripe-account acct_1 --stripe-version 2024-04-10
expect_rc 0
expect_field 1 .body 'name=Jenny&expand[0]=default_source'
expect_field 1 '.headers["idempotency-key"]' idem-123
expect_field 1 '.headers["stripe-account"]' acct_1
expect_field 1 '.headers["stripe-version"]' 2024-04-10
end

begin "GET sends parameters in the query string, without an Idempotency-Key"
start_fake --echo customer:cus
run call GET /v1/customers 'email=a b@x.com' limit=3 --base-url "$URL"
expect_rc 0
expect_field 1 .method GET
expect_field 1 .query 'email=a%20b%40x.com&limit=3'
expect_field 1 '.headers["idempotency-key"]' null
end

begin "--json-params from stdin, with PARAM=VALUE on top"
start_fake --echo checkout.session:cs
echo '{"email":"j@x.co","metadata":{"a":"1","b":"2"},"line_items":[{"price":"p_1","quantity":2}]}' |
    "$SLUICE" call POST /v1/checkout/sessions --json-params - 'metadata[b]=3' --base-url "$URL" \
        >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc 0
expect_field 1 .body 'email=j%40x.co&metadata[a]=1&metadata[b]=3&line_items[0][price]=p_1&line_items[0][quantity]=2'
echo '[1,2]' | "$SLUICE" call POST /v1/customers --json-params - --base-url "$URL" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc 2
expect_err "expected a JSON object"
end

begin "429 then 200: one retry with the same Idempotency-Key; --verbose masks the key"
script '[{"status":429,"headers":{"Request-Id":"req_a"},"body":{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}},
         {"status":200,"headers":{"Request-Id":"req_b"},"body":{"id":"cus_9","object":"customer"}}]'
run call POST /v1/customers email=a@b.co --base-url "$URL" --verbose
expect_rc 0
expect_out '"id": "cus_9"'
expect_requests 2
[ "$(field 1 '.headers["idempotency-key"]')" = "$(field 2 '.headers["idempotency-key"]')" ] ||
    fail "the retry used another Idempotency-Key"
expect_err "> POST $URL/v1/customers"
expect_err "Authorization: Bearer sk_test_…4f2a"
expect_err "< 429"
expect_err "retrying in"
expect_err "< 200"
expect_err "req_b"
expect_no_key_anywhere
end

begin "500 with Stripe-Should-Retry: false is not retried and exits 1"
script '[{"status":500,"headers":{"Stripe-Should-Retry":"false","Request-Id":"req_500"},"body":{"error":{"type":"api_error","message":"Something went wrong"}}},
         {"status":200,"body":{"id":"never"}}]'
run call POST /v1/customers --base-url "$URL"
expect_rc 1
expect_requests 1
expect_err "Stripe error (HTTP 500, api_error): Something went wrong"
expect_err "req_500"
end

begin "card_error: every field on stderr, exit 1"
script '[{"status":402,"headers":{"Request-Id":"req_card"},"body":{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","param":"payment_method","message":"Your card has insufficient funds.","doc_url":"https://stripe.com/docs/error-codes/card-declined"}}}]'
run call POST /v1/payment_intents/pi_1/confirm --base-url "$URL"
expect_rc 1
expect_err "Stripe error (HTTP 402, card_error): Your card has insufficient funds."
expect_err "code          card_declined"
expect_err "decline_code  insufficient_funds"
expect_err "param         payment_method"
expect_err "request_id    req_card"
[ -s "$tmp/out" ] && fail "stdout should be empty on an error"
end

begin "usage errors never print a key, wherever it was typed"
script '[{"status":200,"body":{"id":"x"},"repeat":true}]'
run call GET /v1/customers "$KEY" --base-url "$URL"
expect_rc 2
expect_no_key_anywhere
expect_err "sk_test_…4f2a"
run call --api-key "$KEY" -xv GET /v1/customers --base-url "$URL"
expect_rc 2
expect_no_key_anywhere
run call GET /v1/customers --api-kye="$KEY" --base-url "$URL"
expect_rc 2
expect_no_key_anywhere
POSIXLY_CORRECT=1 run call POST /v1/customers a=1 --api-key="$KEY" -v --base-url "$URL"
expect_rc 0
expect_field 1 .body 'a=1'
expect_no_key_anywhere
expect_requests 1
end

begin "a Stripe error that quotes the key does not print it"
script "[{\"status\":401,\"body\":{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Invalid API Key provided: $KEY\"}}}]"
run call GET /v1/account --base-url "$URL" -v
expect_rc 1
expect_err "Invalid API Key provided: sk_test_…4f2a"
expect_no_key_anywhere
end

begin "dropped connections: retried, then exit 3"
script '[{"drop":true},{"status":200,"body":{"id":"cus_d"}}]'
run call POST /v1/customers --base-url "$URL"
expect_rc 0
expect_requests 2
[ "$(field 1 '.headers["idempotency-key"]')" = "$(field 2 '.headers["idempotency-key"]')" ] ||
    fail "the retry used another Idempotency-Key"
script '[{"drop":true,"repeat":true}]'
run call POST /v1/customers --base-url "$URL" --max-retries 1
expect_rc 3
expect_requests 2
expect_err "network error"
expect_err "after 2 attempts"
end

begin "nothing listening: exit 3"
stop_fake
run call GET /v1/customers --base-url http://127.0.0.1:9 --max-retries 0
expect_rc 3
expect_err "network error"
end

begin "--all pages through a 3-page list"
script '[{"body":{"object":"list","has_more":true,"data":[{"id":"cus_1"},{"id":"cus_2"}]}},
         {"body":{"object":"list","has_more":true,"data":[{"id":"cus_3"},{"id":"cus_4"}]}},
         {"body":{"object":"list","has_more":false,"data":[{"id":"cus_5"}]}}]'
run call GET /v1/customers --all --base-url "$URL" -v
expect_rc 0
[ "$(wc -l <"$tmp/out")" = 5 ] || fail "wanted 5 items"
[ "$(jq -r .id "$tmp/out" | tr '\n' ' ')" = "cus_1 cus_2 cus_3 cus_4 cus_5 " ] || fail "items out of order"
expect_requests 3
expect_field 1 .query 'limit=100'
expect_field 2 .query 'limit=100&starting_after=cus_2'
expect_field 3 .query 'limit=100&starting_after=cus_4'
expect_err "5 items in 3 pages"
end

begin "--all --limit bounds the items"
script '[{"body":{"object":"list","has_more":true,"data":[{"id":"a"},{"id":"b"}]},"repeat":true}]'
run call GET /v1/invoices status=open --all --limit 3 --base-url "$URL"
expect_rc 0
[ "$(wc -l <"$tmp/out")" = 3 ] || fail "wanted 3 items"
expect_requests 2
expect_field 1 .query 'status=open&limit=3'
end

begin "--all follows a search's next_page"
script '[{"body":{"object":"search_result","has_more":true,"next_page":"pg_2","data":[{"id":"cus_1"}]}},
         {"body":{"object":"search_result","has_more":false,"next_page":null,"data":[{"id":"cus_2"}]}}]'
run call GET /v1/customers/search "query=email:'jenny@example.com'" --all --base-url "$URL"
expect_rc 0
[ "$(wc -l <"$tmp/out")" = 2 ] || fail "wanted 2 items"
expect_field 2 .query "query=email%3A%27jenny%40example.com%27&limit=100&page=pg_2"
end

begin "--all on something that is not a list"
script '[{"body":{"id":"cus_1","object":"customer"}}]'
run call GET /v1/customers/cus_1 --all --base-url "$URL"
expect_rc 1
expect_err "no \`data\` array"
run call POST /v1/customers --all --base-url "$URL"
expect_rc 2
end


begin "sluice ops lists every operation and reads like documentation"
run ops
expect_rc 0
[ "$(wc -l <"$tmp/out")" = 468 ] || fail "wanted 468 operations"
expect_out "customers.create"
run ops invoices
expect_rc 0
expect_out "invoices.finalize"
grep -qv invoices "$tmp/out" && fail "the filter let other operations through"
run ops customers.create
expect_rc 0
expect_out "POST /v1/customers  ->  customer"
expect_out "email  (string)"
expect_out "one of: exempt, none, reverse"
run ops customers.create --json
expect_rc 0
[ "$(jq -r .path "$tmp/out")" = /v1/customers ] || fail "--json lacks the path"
run ops "Find Customer"
expect_rc 0
expect_out "find-customer — Find Customer (Konnectify)"
expect_out "email=..."
run ops --seeds
expect_rc 0
[ "$(wc -l <"$tmp/out")" = 50 ] || fail "wanted 50 named actions"
expect_out "mark-invoice-as-uncollectible"
run ops --seeds --json
[ "$(jq length "$tmp/out")" = 50 ] || fail "--seeds --json"
run ops no_such_thing
expect_rc 1
run events types
expect_rc 0
[ "$(wc -l <"$tmp/out")" = 223 ] || fail "wanted 223 event types"
run events types invoice. --json
expect_rc 0
jq -e 'map(.type) | index("invoice.paid")' "$tmp/out" >/dev/null || fail "invoice.paid missing"
run events bogus
expect_rc 2
end

begin "named operations: parameters, IDs after the name, validation before sending"
start_fake --echo customer:cus
run call customers.create email=jenny@example.com 'metadata[plan]=pro' --base-url "$URL"
expect_rc 0
expect_out '"email": "jenny@example.com"'
expect_field 1 .method POST
expect_field 1 .path /v1/customers
expect_field 1 .body 'email=jenny%40example.com&metadata[plan]=pro'
run call customers.retrieve cus_123 'expand[]=default_source' --base-url "$URL"
expect_rc 0
expect_field 2 .method GET
expect_field 2 .path /v1/customers/cus_123
expect_field 2 .query 'expand[0]=default_source'
run call customers.tax_ids.retrieve customer=cus_1 id=txi_2 --base-url "$URL"
expect_rc 0
expect_field 3 .path /v1/customers/cus_1/tax_ids/txi_2
run call "Create a Customer" name=Jenny --base-url "$URL"
expect_rc 0
expect_field 4 .path /v1/customers
run call customers.create emial=jenny@example.com --base-url "$URL"
expect_rc 2
expect_err "customers.create: unknown parameter \`emial\` (did you mean \`email\`?)"
run call prices.create unit_amount=12.5 currency=usd --base-url "$URL"
expect_rc 2
expect_err "\`unit_amount\` must be an integer, not \`12.5\`"
run call customers.create tax_exempt=maybe --base-url "$URL"
expect_rc 2
expect_err "must be one of exempt, none, reverse"
run call customers.retrieve --base-url "$URL"
expect_rc 2
expect_err "missing path parameter \`customer\`"
run call custmers.create --base-url "$URL"
expect_rc 2
expect_err "did you mean \`customers.create\`?"
expect_requests 4
run call customers.create emial=x --no-validate --base-url "$URL"
expect_rc 0
expect_field 5 .body 'emial=x'
end

begin "find-customer by email finds her, or says she is not there"
script '[{"body":{"object":"list","has_more":false,"data":[{"id":"cus_jenny","object":"customer","email":"jenny@example.com"}]}},
         {"body":{"object":"list","has_more":false,"data":[]}}]'
run call find-customer email=jenny@example.com --base-url "$URL"
expect_rc 0
[ "$(jq -r .id "$tmp/out")" = cus_jenny ] || fail "did not print her customer object"
expect_field 1 .path /v1/customers
expect_field 1 .query 'email=jenny%40example.com&limit=1'
run call find-customer nobody@example.com --base-url "$URL"
expect_rc 1
expect_err "no customer has the email \`nobody@example.com\`"
end

begin "--all with a named list"
script '[{"body":{"object":"list","has_more":true,"data":[{"id":"in_1"}]}},
         {"body":{"object":"list","has_more":false,"data":[{"id":"in_2"}]}}]'
run call list-invoices status=open --all --base-url "$URL"
expect_rc 0
[ "$(jq -r .id "$tmp/out" | tr '\n' ' ')" = "in_1 in_2 " ] || fail "wanted in_1 in_2"
expect_field 2 .query 'status=open&limit=100&starting_after=in_1'
run call invoices.list status=bogus --all --base-url "$URL"
expect_rc 2
expect_err "\`status\` must be one of"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
