#!/usr/bin/env bash
# sluice sync against `sluice emulate`: events applied live by serve --sync (out of order, the
# same-second race, a tie the API decides, a truncated list paged through, a delete, an unknown
# type), rebuild from the inbox, backfill with progress, killed and resumed (the finished ranges
# not listed again), plain SQL on the tables, and sluice demo's rows. SQLite always;
# PostgreSQL too when run under tests/support/with-pg.sh (SLUICE_TEST_PG).
# Usage: sync.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
emu_pid= serve_pid= bf_pid= paged_pid=
cleanup() {
    for p in $bf_pid $serve_pid $emu_pid $paged_pid; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
check() {
    if eval "$2"; then echo "ok: $1"; else
        echo "FAIL: $1"
        failed=1
    fi
}
# wait_for CONDITION: up to 20 s
wait_for() {
    for _ in $(seq 200); do
        eval "$1" && return 0
        sleep 0.1
    done
    return 1
}
KEY=sk_test_sync
export SLUICE_DATA=$tmp/data
"$SLUICE" emulate --listen 127.0.0.1:0 --retry-ms 100 2>"$tmp/emu.log" &
emu_pid=$!
wait_for 'grep -q "\"url\"" "$tmp/emu.log"'
url=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
api() { "$SLUICE" call "$@" --api-key $KEY --base-url "$url"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=$(api webhook_endpoints.create url="http://127.0.0.1:$port/hooks/shop" 'enabled_events[]=*' | jq -r .secret)
"$SLUICE" connect add shop --key $KEY --base-url "$url" --webhook-secret "$secret" >/dev/null ||
    { echo "FAIL: connect add"; exit 1; }

# A second connection, to a stand-in whose invoice has 250 lines in pages.
python3 "$here/../support/paged_stripe.py" >"$tmp/paged.port" &
paged_pid=$!
wait_for '[ -s "$tmp/paged.port" ]'
"$SLUICE" connect add paged --key sk_test_paged --base-url "http://127.0.0.1:$(cat "$tmp/paged.port")" \
    --webhook-secret whsec_paged >/dev/null || { echo "FAIL: connect add paged"; exit 1; }

# post_event JSON [CONNECTION SECRET]: signed as Stripe signs, to serve; prints the HTTP status.
post_event() {
    local t sig
    t=$(date +%s)
    sig=$(printf '%s.%s' "$t" "$1" | openssl dgst -sha256 -hmac "${3:-$secret}" | sed 's/^.* //')
    curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/hooks/${2:-shop}" \
        -H "Stripe-Signature: t=$t,v1=$sig" -H 'Content-Type: application/json' --data "$1"
}
# event ID TYPE CREATED OBJECT_JSON
event() {
    jq -cn --arg id "$1" --arg type "$2" --argjson created "$3" --argjson obj "$4" \
        '{id: $id, object: "event", type: $type, created: $created, livemode: false,
          data: {object: $obj}}'
}
marker=0
# settle: an unknown event type after the others; once it is in the events table, the live
# queue (applied in order) has applied everything before it.
settle() {
    marker=$((marker + 1))
    local id=evt_marker_${backend}_$marker
    [ "$(post_event "$(event "$id" sluice.test_marker "$(date +%s)" '{"id":"thing_1","object":"thing"}')")" = 200 ] || return 1
    wait_for "[ \"\$(q \"SELECT COUNT(*) FROM events WHERE id = '$id'\")\" = 1 ]"
}

start_serve() {
    "$SLUICE" serve --listen "127.0.0.1:$port" --sync --sync-store "$store" --quiet 2>"$tmp/serve.log" &
    serve_pid=$!
    wait_for 'curl -s -o /dev/null "http://127.0.0.1:$port/healthz"'
}
stop_serve() {
    kill "$serve_pid"
    wait "$serve_pid"
    serve_pid=
}

# same_ids TABLE: the table's live rows of the emulator's account are what the API lists.
same_ids() {
    diff -q <(q "SELECT id FROM $1 WHERE NOT deleted AND account <> 'acct_paged'" | LC_ALL=C sort) \
        <(LC_ALL=C sort "$tmp/api_$1") >/dev/null
}

seeded=0
round=0
run_backend() {
    backend=$1
    store=$2
    echo "--- $backend"
    # Events stored while no serve --sync ran are applied when one starts.
    "$SLUICE" serve --listen "127.0.0.1:$port" --quiet 2>"$tmp/plain.log" &
    serve_pid=$!
    wait_for 'curl -s -o /dev/null "http://127.0.0.1:$port/healthz"'
    away=$(api customers.create email="away-$backend@example.com" | jq -r .id)
    wait_for '"$SLUICE" events list --type customer.created --limit 100 --json | grep -q "$away"'
    stop_serve
    start_serve
    check "$backend: events stored while serve ran without --sync are applied when it starts with it" \
        '[ "$(q "SELECT email FROM customers WHERE id = '"'$away'"'")" = "away-$backend@example.com" ]'

    # Live: the calls behind invoice.paid, as webhooks from the emulator.
    api customers.create email=live@example.com >/dev/null
    "$SLUICE" trigger invoice.paid --api-key $KEY --base-url "$url" >/dev/null
    inv=$(api invoices.list limit=1 | jq -r '.data[0].id')
    check "$backend: live events fill the tables (invoice paid, its lines, the events)" \
        'wait_for "[ \"\$(q \"SELECT status FROM invoices WHERE id = '"'$inv'"'\")\" = paid ]" &&
         [ "$(q "SELECT COUNT(*) FROM invoice_line_items WHERE invoice = '"'$inv'"'")" -ge 1 ] &&
         [ "$(q "SELECT COUNT(*) FROM events")" -ge 5 ]'

    # Out of order: the newer update first, the older after it: the newer stays.
    cus=$(api customers.create email=order@example.com | jq -c .)
    cid=$(jq -r .id <<<"$cus")
    now=$(date +%s)
    post_event "$(event "evt_new_$backend" customer.updated $((now + 1000)) "$(jq -c '.name = "newer"' <<<"$cus")")" >/dev/null
    post_event "$(event "evt_old_$backend" customer.updated $((now + 500)) "$(jq -c '.name = "older"' <<<"$cus")")" >/dev/null
    settle
    check "$backend: events out of order leave the newest" \
        '[ "$(q "SELECT name, version, event_id FROM customers WHERE id = '"'$cid'"'")" = "newer|$((now + 1000))|evt_new_$backend" ]'

    # The same-second race: invoice.paid, then a stale invoice.updated of the same second.
    paid=$(api invoices.retrieve "$inv" | jq -c .)
    t=$((now + 2000))
    post_event "$(event "evt_paid_$backend" invoice.paid $t "$paid")" >/dev/null
    post_event "$(event "evt_stale_$backend" invoice.updated $t "$(jq -c '.status = "open" | .paid = false' <<<"$paid")")" >/dev/null
    settle
    check "$backend: invoice.paid then a stale invoice.updated of the same second: paid" \
        '[ "$(q "SELECT status, version FROM invoices WHERE id = '"'$inv'"'")" = "paid|$t" ]'

    # A tie the events cannot decide: the API is asked.
    api customers.update "$cid" name=truth >/dev/null
    t=$((now + 3000))
    post_event "$(event "evt_a_$backend" customer.updated $t "$(jq -c '.name = "A"' <<<"$cus")")" >/dev/null
    post_event "$(event "evt_b_$backend" customer.updated $t "$(jq -c '.name = "B"' <<<"$cus")")" >/dev/null
    settle
    check "$backend: two updates of the same second: the row is what the API says" \
        '[ "$(q "SELECT name FROM customers WHERE id = '"'$cid'"'")" = truth ]'

    # A truncated embedded list is paged through; lines gone from a whole list are removed.
    big=$(curl -s "http://127.0.0.1:$(cat "$tmp/paged.port")/v1/invoices/in_big")
    # (Later for each backend: the inbox keeps the earlier backends' events of this invoice.)
    round=$((round + 1))
    post_event "$(event "evt_big_$backend" invoice.updated $((now + 100000 * round)) "$big")" paged whsec_paged >/dev/null
    settle
    check "$backend: an invoice's 250 lines, 10 embedded, are paged through" \
        '[ "$(q "SELECT COUNT(*), SUM(amount) FROM invoice_line_items WHERE account = '"'acct_paged'"' AND invoice = '"'in_big'"'")" = "250|56125" ]'
    post_event "$(event "evt_small_$backend" invoice.updated $((now + 100000 * round + 1)) "$(jq -c '.lines = {object: "list", data: .lines.data[:2], has_more: false}' <<<"$big")")" paged whsec_paged >/dev/null
    settle
    check "$backend: lines no longer on the invoice are removed" \
        '[ "$(q "SELECT COUNT(*) FROM invoice_line_items WHERE account = '"'acct_paged'"' AND invoice = '"'in_big'"'")" = 2 ]'

    # A delete, and an unknown type acknowledged.
    gone=$(api customers.create email=gone@example.com | jq -r .id)
    api customers.delete "$gone" >/dev/null
    check "$backend: customer.deleted marks the row deleted" \
        'wait_for "[ \"\$(q \"SELECT COUNT(*) FROM customers WHERE id = '"'$gone'"' AND deleted\")\" = 1 ]"'
    check "$backend: an event type with no table is answered 200" \
        '[ "$(post_event "$(event "evt_unknown_$backend" made_up.thing $now "{\"id\":\"x_1\",\"object\":\"made_up\"}")")" = 200 ] && settle'
    stop_serve

    # Rebuild from the inbox, without the API: the same rows.
    rows='SELECT id, deleted, status FROM invoices ORDER BY id'
    crow='SELECT id, deleted, email FROM customers ORDER BY id'
    q "$rows" >"$tmp/live_inv"
    q "$crow" >"$tmp/live_cus"
    "$SLUICE" sync rebuild "${rebuild_to[@]}" >"$tmp/rebuild.out" 2>&1
    # (The inbox also holds the events of the backends before this one, which this one's
    # serve never saw: every row live wrote must be in the rebuild, as it was.)
    check "$backend: rebuild from the inbox gives the rows live gave" \
        '[ -s "$tmp/live_inv" ] && [ -z "$(comm -23 <(sort "$tmp/live_inv") <(qr "$rows" | sort))" ] &&
         [ -z "$(comm -23 <(sort "$tmp/live_cus") <(qr "$crow" | sort))" ] &&
         { [ $backend != sqlite ] || { diff <(qr "$rows") "$tmp/live_inv" && diff <(qr "$crow") "$tmp/live_cus"; }; } &&
         [ "$(qr "SELECT status FROM invoices WHERE id = '"'$inv'"'")" = paid ]'

    # Backfill: many objects, with progress, then killed and resumed.
    if [ $seeded = 0 ]; then
        # Without webhooks: thousands of them would queue for the next serve.
        api webhook_endpoints.delete "$(api webhook_endpoints.list | jq -r '.data[0].id')" >/dev/null
        python3 "$here/../support/sync_seed.py" "$url" $KEY 5000 2000 60 100 >/dev/null || echo "FAIL: seeding"
        seeded=1
        secret=$(api webhook_endpoints.create url="http://127.0.0.1:$port/hooks/shop" 'enabled_events[]=*' | jq -r .secret)
        "$SLUICE" connect rotate-secret shop --webhook-secret "$secret" --grace 0 >/dev/null
    fi
    "$SLUICE" sync backfill --connection shop --objects customers,invoices,products,prices,subscriptions --json --sync-store "$store" >"$tmp/bf.json" 2>"$tmp/bf.err"
    rc=$?
    for o in customers invoices products prices subscriptions; do
        python3 "$here/../support/sync_seed.py" "$url" $KEY --ids /v1/$o | sort >"$tmp/api_$o"
    done
    check "$backend: backfill lists everything the API lists" \
        '[ $rc = 0 ] && same_ids customers && same_ids invoices && same_ids products && same_ids prices &&
         same_ids subscriptions && [ "$(wc -l <"$tmp/api_subscriptions")" -ge 100 ]'
    check "$backend: backfill reports progress, ending at 100% for each table" \
        '[ "$(tail -1 "$tmp/bf.json" | jq -c "[.final, ([.tables[] | select(.percent == 100 and .done)] | length)]")" = "[true,5]" ] &&
         [ "$(tail -1 "$tmp/bf.json" | jq ".tables[] | select(.table == \"customers\") | .rows")" = "$(wc -l <"$tmp/api_customers")" ]'
    check "$backend: invoice lines kept in their own table (3 for each seeded invoice)" \
        '[ "$(q "SELECT COUNT(*) FROM invoices i WHERE (SELECT COUNT(*) FROM invoice_line_items l WHERE l.invoice = i.id AND l.account = i.account) = 3")" -ge 2000 ]'
    check "$backend: plain SQL: customers with an open invoice" \
        'q "SELECT DISTINCT c.email FROM customers c JOIN invoices i ON i.customer = c.id AND i.account = c.account WHERE i.status = '"'open'"' AND NOT c.deleted ORDER BY 1" | grep -x c0@example.com >/dev/null'

    check "$backend: sync verify finds the rows as the API has them" \
        '"$SLUICE" sync verify --connection shop --objects products,invoices --sample 100 --sync-store "$store" >"$tmp/verify.out" &&
         grep -q "0 differ" "$tmp/verify.out"'
    if [ "$backend" = sqlite ]; then
        q "UPDATE products SET data = replace(data, 'Product 7\"', 'Changed\"') WHERE name = 'Product 7'"
    else
        q "UPDATE products SET data = replace(data::text, 'Product 7\"', 'Changed\"')::jsonb WHERE name = 'Product 7'" >/dev/null
    fi
    check "$backend: sync verify names a row that differs from the API, and its field" \
        '! "$SLUICE" sync verify --connection shop --objects products --sample 100 --sync-store "$store" >"$tmp/verify.out" &&
         grep -q "^products prod_.* differs from the API: name$" "$tmp/verify.out" && grep -q "1 differs" "$tmp/verify.out"'

    "$SLUICE" sync backfill --connection shop --objects customers --json --parallel 1 --sync-store "$store" >"$tmp/bf1.json" 2>&1 &
    bf_pid=$!
    wait_for '[ -n "$(jq -c "select(.final == false and .tables[0].rows > 0)" "$tmp/bf1.json" 2>/dev/null)" ]'
    kill -9 $bf_pid
    wait $bf_pid 2>/dev/null
    bf_pid=
    killed_at=$(jq -s 'map(.tables[0].rows) | max' "$tmp/bf1.json")
    "$SLUICE" sync status --json --sync-store "$store" >"$tmp/status.json"
    lists() { curl -s "$url/_sluice/requests" | jq '.requests["GET /v1/customers"] // 0'; }
    lists_before=$(lists)
    "$SLUICE" sync backfill --connection shop --objects customers --json --parallel 1 --sync-store "$store" >"$tmp/bf2.json" 2>&1
    lists_after=$(lists)
    echo "  (the resumed backfill asked the emulator for $((lists_after - lists_before)) pages of customers; $killed_at of $(wc -l <"$tmp/api_customers") were listed before the kill)"
    check "$backend: a backfill killed with -9 continues from its saved ranges" \
        'jq -e ".tables[] | select(.table == \"customers\") | .backfill | startswith(\"unfinished\")" "$tmp/status.json" >/dev/null &&
         [ "$(head -1 "$tmp/bf2.json" | jq ".tables[0].rows")" -ge "$killed_at" ] &&
         [ "$(tail -1 "$tmp/bf2.json" | jq ".tables[0].pages")" -le $(( ($(wc -l <"$tmp/api_customers") - killed_at) / 100 + 3 )) ] &&
         [ $((lists_after - lists_before)) -le $(( ($(wc -l <"$tmp/api_customers") - killed_at) / 100 + 3 )) ] &&
         [ "$(tail -1 "$tmp/bf2.json" | jq ".tables[0].rows")" = "$(wc -l <"$tmp/api_customers")" ] &&
         same_ids customers'
    check "$backend: sync status shows the tables" \
        '"$SLUICE" sync status --sync-store "$store" | grep -q "^customers .*finished"'
}

q() { sqlite3 -cmd ".timeout 10000" "$tmp/sync.db" "$1"; }
qr() { sqlite3 -cmd ".timeout 10000" "$tmp/rebuilt.db" "$1"; }
rebuild_to=(--sync-store "$tmp/rebuilt.db")
run_backend sqlite "$tmp/sync.db"

if [ -n "${SLUICE_TEST_PG:-}" ]; then
    q() { PGOPTIONS="-c search_path=stripe" psql "$SLUICE_TEST_PG" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
    qr() { PGOPTIONS="-c search_path=rebuilt" psql "$SLUICE_TEST_PG" -X -At -v ON_ERROR_STOP=1 -c "$1"; }
    rebuild_to=(--sync-store "$SLUICE_TEST_PG" --sync-schema rebuilt)
    run_backend postgres "$SLUICE_TEST_PG"
fi
# sluice demo shows its events as rows.
check "sluice demo shows customers and invoices as rows" \
    '"$SLUICE" demo --exit --data "$tmp/demo" >"$tmp/demo.out" 2>&1 &&
     grep -A3 "^8. The same events as SQL tables" "$tmp/demo.out" | grep -q "^cus_.*jenny.rosen@example.com" &&
     grep -q "^in_.*cus_" "$tmp/demo.out"'
exit $failed
