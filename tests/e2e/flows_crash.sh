#!/usr/bin/env bash
# Durable runs: kill -9 sluice serve while a run is mid-way; after the restart the run
# resumes at its first unfinished step and completes, and the emulator saw each Stripe write
# once (the Idempotency-Key comes from the run and the step's path). Then a failed run is
# retried from its failed step without repeating the steps before it.
# Usage: flows_crash.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_flows_crash_000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
PY=python3
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
"$PY" "$here/../support/http_sink.py" "$tmp/http.jsonl" --delay-ms 40 >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do grep -q '"url"' "$tmp/emu.log" && [ -s "$tmp/http.port" ] && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$here/../data/flows-crash
export SLUICE_FLOW_HOOK_URL=http://127.0.0.1:$(head -1 "$tmp/http.port")/hook
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
stripe() { "$SLUICE" call "$@" --api-key "$KEY" --base-url "$EMU"; }
"$SLUICE" connect add shop --key "$KEY" --base-url "$EMU" >/dev/null
start_serve() {
    "$SLUICE" serve --listen 127.0.0.1:0 2>>"$tmp/serve.log" &
    serve_pid=$!
    pids+=($serve_pid)
}

begin "kill -9 mid-run: the run resumes and every customer is created exactly once"
items=$(jq -nc '[range(0; 40) | "crash-\(.)"]')
run flows run create-many --queue --input "{\"batch\": \"b1\", \"items\": $items}"
expect_rc 0
id=$(grep -o 'run_[0-9a-f]*' "$tmp/out" | head -1)
start_serve
for _ in $(seq 200); do
    n=$(wc -l <"$tmp/http.jsonl" 2>/dev/null || echo 0)
    [ "$n" -ge 12 ] && break
    sleep 0.05
done
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null
mid=$(wc -l <"$tmp/http.jsonl")
[ "$mid" -lt 40 ] || fail "the run finished before the kill ($mid calls)"
run runs show "$id"
expect_out "running"
start_serve
for _ in $(seq 300); do
    "$SLUICE" runs show "$id" >"$tmp/show" 2>&1 && grep -q "succeeded (attempt" "$tmp/show" && break
    sleep 0.1
done
grep -q "succeeded (attempt" "$tmp/show" || fail "run did not finish: $(head -3 "$tmp/show")"
got=$(stripe customers.search "query=metadata['batch']:'b1'" --all | jq -s 'length')
[ "$got" = 40 ] || fail "$got customers for 40 items"
emails=$(stripe customers.search "query=metadata['batch']:'b1'" --all | jq -r '.email' | sort -u | wc -l)
[ "$emails" = 40 ] || fail "$emails distinct customers"
grep -q "resuming runs cut off by a stop" "$tmp/serve.log" || fail "no resume logged"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null
end

begin "a failed run keeps its error and is retried from the failed step"
export SLUICE_FLOW_RETRY_URL=http://127.0.0.1:9/down
run flows run fail-then-retry --input '{"email": "retry@example.com"}'
expect_rc 1
expect_out "Failed at tell"
expect_out "sluice runs retry"
id=$(grep -o 'run_[0-9a-f]*' "$tmp/out" | head -1)
run runs list --status failed
expect_out "$id"
export SLUICE_FLOW_RETRY_URL=$SLUICE_FLOW_HOOK_URL
run runs retry "$id"
expect_rc 0
expect_out "succeeded (attempt 2)"
n=$(stripe customers.search "query=email:'retry@example.com'" | jq '.data | length')
[ "$n" = 1 ] || fail "$n customers: the create step ran again"
run runs retry "$id"
expect_rc 2
expect_err "only a failed run is retried"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
