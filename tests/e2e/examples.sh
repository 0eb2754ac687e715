#!/usr/bin/env bash
# The shipped examples and the shipped trigger fixtures work together: with examples/flows/
# loaded by a `sluice serve` whose endpoint the emulator delivers to, every `sluice trigger`
# fixture still succeeds, and every event-triggered example flow runs (and succeeds, or is
# filtered by its own condition) on the events its fixtures cause.
# Usage: examples.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_examples_000000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
PY=${SLUICE_PYTHON:-}
for p in "$PY" python3 /usr/bin/python3; do # the one with aiosmtpd, for the SMTP sink
    [ -n "$p" ] && "$p" -c 'import aiosmtpd' 2>/dev/null && PY=$p && break
done
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
"$PY" "$here/../support/smtp_sink.py" 0 "$tmp/mail.jsonl" >"$tmp/smtp.port" &
pids+=($!)
"$PY" "$here/../support/http_sink.py" "$tmp/http.jsonl" >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do
    grep -q '"url"' "$tmp/emu.log" && [ -s "$tmp/smtp.port" ] && [ -s "$tmp/http.port" ] && break
    sleep 0.05
done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
HTTP_PORT=$(head -1 "$tmp/http.port")
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$here/../../examples/flows
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_SMTP_URL=smtp://127.0.0.1:$(head -1 "$tmp/smtp.port") SLUICE_SMTP_FROM="Shop <shop@example.com>"
export SLUICE_FLOW_CRM_URL=http://127.0.0.1:$HTTP_PORT/crm
export SLUICE_FLOW_CATALOG_URL=http://127.0.0.1:$HTTP_PORT/catalog
export SLUICE_FLOW_EVENTS_URL=http://127.0.0.1:$HTTP_PORT/events
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789

begin "every shipped fixture succeeds with the examples loaded, and every example flow fires"
run connect add shop --key "$KEY" --base-url "$EMU"
expect_rc 0
# --events '*': every fixture's event reaches serve, whether or not a flow wants it.
"$SLUICE" serve --listen "127.0.0.1:$PORT" --public-url "http://127.0.0.1:$PORT" --events '*' \
    2>"$tmp/serve.log" &
pids+=($!)
for _ in $(seq 200); do grep -q '"listening"' "$tmp/serve.log" && break; sleep 0.05; done
run trigger --list
for t in $(cat "$tmp/out"); do
    if ! "$SLUICE" trigger "$t" --connection shop >"$tmp/t.out" 2>"$tmp/t.err"; then
        fail "$t: $(head -c 300 "$tmp/t.err")"
    fi
done
# Let the deliveries land and the runs finish.
for _ in $(seq 400); do
    left=$("$SLUICE" runs list --limit 1000 --json | jq '[.[] | select(.status == "queued" or .status == "running")] | length')
    [ "$left" = 0 ] && break
    sleep 0.2
done
"$SLUICE" runs list --limit 1000 --json >"$tmp/runs.json"
for f in "$SLUICE_FLOWS"/*.yaml; do
    name=$(grep -m1 '^name:' "$f" | sed 's/^name: *//')
    grep -q '^trigger: manual' "$f" && continue
    n=$(jq --arg f "$name" '[.[] | select(.flow == $f)] | length' "$tmp/runs.json")
    ok=$(jq --arg f "$name" '[.[] | select(.flow == $f and .status == "succeeded")] | length' "$tmp/runs.json")
    # Two failures are the world's, not the flow's: a fixture that finalizes, pays or deletes
    # its own invoice right after creating it can do so between the flow's check and its
    # finalize, and Stripe answers that the invoice is no longer a draft, or gone.
    bad=$(jq -c --arg f "$name" '[.[] | select(.flow == $f and .status == "failed")
        | select((.error // "") | test("invoice_not_editable|No such invoice") | not)][0]
        | {failed_step, error}' "$tmp/runs.json")
    [ "$n" -ge 1 ] || fail "$name never ran"
    [ "$ok" -ge 1 ] || fail "$name never succeeded"
    [ "$bad" = '{"failed_step":null,"error":null}' ] || fail "$name failed: $bad"
    echo "   $name: $n runs, $(jq --arg f "$name" '[.[] | select(.flow == $f and .status == "succeeded")] | length' "$tmp/runs.json") succeeded"
done
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
