#!/usr/bin/env bash
# sluice trigger against sluice emulate: every shipped fixture makes the calls behind its event
# and the emulator records (and would deliver) that event; --fixture files; bad fixtures.
# Usage: trigger.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_trigger_e2e_0000000000000000
source "$(dirname "$0")/lib.sh"

"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
emu_pid=$!
extra_cleanup() { kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; }
for _ in $(seq 100); do grep -q '"url"' "$tmp/emu.log" && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
api() { "$SLUICE" call "$@" --api-key "$KEY" --base-url "$EMU"; }
count() { api events.list "type=$1" limit=100 | jq '.data | length'; }

begin "every shipped fixture produces its event on the emulator"
run trigger --list
n=$(wc -l <"$tmp/out")
[ "$n" -ge 27 ] || fail "only $n shipped fixtures"
for t in $(cat "$tmp/out"); do
    before=$(count "$t")
    if ! "$SLUICE" trigger "$t" --api-key "$KEY" --base-url "$EMU" >"$tmp/t.out" 2>"$tmp/t.err"; then
        fail "$t: $(cat "$tmp/t.err")"
        continue
    fi
    grep -qF "Done: $t" "$tmp/t.out" || fail "$t: no Done line"
    after=$(count "$t")
    [ "$after" -gt "$before" ] || fail "$t: the emulator recorded no $t event"
done
end

begin "the seeds' event types all have a fixture (price.deleted cannot be caused by the API)"
for t in customer.created customer.updated customer.deleted product.created product.updated \
    product.deleted price.created price.updated customer.subscription.created \
    customer.subscription.updated customer.subscription.deleted invoice.created invoice.updated \
    invoice.deleted invoice.sent invoice.payment_failed invoice.payment_succeeded \
    invoice.marked_uncollectible invoice.paid invoice.finalized invoice.upcoming \
    payment_intent.created payment_intent.canceled payment_intent.succeeded coupon.created \
    charge.succeeded checkout.session.completed; do
    "$SLUICE" trigger --show "$t" >/dev/null 2>&1 || fail "no fixture for $t"
done
run trigger price.deleted --api-key "$KEY" --base-url "$EMU"
expect_rc 2
expect_err "no API call deletes a price"
end

begin "a fixture shows each request and the id it made"
run trigger invoice.paid --api-key "$KEY" --base-url "$EMU"
expect_rc 0
expect_out "customer"
expect_out "POST   /v1/invoices/in_"
expect_out "/pay"
expect_no_key_anywhere
end

begin "--fixture: references to earlier responses, .env with defaults, nested params"
cat >"$tmp/mine.json" <<'JSON'
{
  "_meta": {"template_version": 0},
  "fixtures": [
    {"name": "cus", "path": "/v1/customers", "method": "post",
     "params": {"email": "${.env:TRIGGER_EMAIL}", "name": "${.env:NOPE_NOT_SET|Fallback Name}",
                "metadata": {"source": "fixture ${.env:TRIGGER_EMAIL}"}}},
    {"name": "again", "path": "/v1/customers/${cus:id}", "method": "get"},
    {"name": "upd", "path": "/v1/customers/${again:id}", "method": "post",
     "params": {"description": "was ${cus:email}", "balance": 500}}
  ]
}
JSON
TRIGGER_EMAIL=fx@example.com run trigger --fixture "$tmp/mine.json" --api-key "$KEY" --base-url "$EMU"
expect_rc 0
cid=$(api customers.search "query=email:'fx@example.com'" | jq -r '.data[0].id')
got=$(api customers.retrieve "$cid" | jq -c '[.name, .metadata.source, .description, .balance]')
[ "$got" = '["Fallback Name","fixture fx@example.com","was fx@example.com",500]' ] || fail "got $got"
end

begin "bad fixtures are refused before any call, naming the request"
printf '{"fixtures": [{"name": "a", "path": "/v1/customers/${b:id}", "method": "get"}]}' >"$tmp/bad1.json"
run trigger --fixture "$tmp/bad1.json" --api-key "$KEY" --base-url "$EMU"
expect_rc 2
expect_err 'fixtures[0] (a): `${b:id}` refers to `b`, which is not an earlier request'
printf '{"fixtures": [{"name": "a", "path": "/v1/customers", "method": "put"}]}' >"$tmp/bad2.json"
run trigger --fixture "$tmp/bad2.json" --api-key "$KEY" --base-url "$EMU"
expect_rc 2
expect_err 'method'
printf '{"fixtures": [' >"$tmp/bad3.json"
run trigger --fixture "$tmp/bad3.json" --api-key "$KEY" --base-url "$EMU"
expect_rc 2
expect_err "bad3.json:1:"
printf '{"fixtures": [{"name": "a", "path": "/v1/customers", "method": "post", "params": {"x": "${.env:SLUICE_SURELY_UNSET}"}}]}' >"$tmp/bad4.json"
run trigger --fixture "$tmp/bad4.json" --api-key "$KEY" --base-url "$EMU"
expect_rc 2
expect_err "SLUICE_SURELY_UNSET is not set"
run trigger not.an.event --api-key "$KEY" --base-url "$EMU"
expect_rc 2
expect_err "not a Stripe event type"
end

begin "a Stripe error stops the fixture with exit 1; a dead API exits 3"
printf '{"fixtures": [{"name": "a", "path": "/v1/customers/cus_missing", "method": "get"}, {"name": "b", "path": "/v1/customers", "method": "post"}]}' >"$tmp/err.json"
run trigger --fixture "$tmp/err.json" --api-key "$KEY" --base-url "$EMU"
expect_rc 1
expect_err "No such customer"
grep -q "^  b " "$tmp/out" && fail "ran on after the error"
run trigger customer.created --api-key "$KEY" --base-url http://127.0.0.1:9
expect_rc 3
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
