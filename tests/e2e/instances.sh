#!/usr/bin/env bash
# Several instances on one PostgreSQL (run through tests/support/with-pg.sh, which sets
# SLUICE_TEST_PG):
#  1. two `sluice serve` share the store; signed webhooks are spread over both; one is killed
#     with -9 while its runs are mid-way (each run: a slow HTTP call, then a Stripe create on the
#     emulator). Afterwards every acknowledged event is stored once, every event's run finished
#     once, the emulator holds exactly one customer per event (idempotency keys), and the
#     survivor resumed the dead instance's runs within their lease;
#  2. a `* * * * *` schedule on two instances, with the schedule clock sped up 60 times, fires
#     once per minute, never twice.
# Usage: instances.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_instances_0000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${SLUICE_TEST_PG:-}" ] || { echo "instances.sh: SLUICE_TEST_PG is not set (use with-pg.sh)"; exit 1; }
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
python3 "$here/../support/http_sink.py" "$tmp/http.jsonl" --delay-ms 150 >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do grep -q '"url"' "$tmp/emu.log" && [ -s "$tmp/http.port" ] && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
export SLUICE_STORE=$SLUICE_TEST_PG
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
export SLUICE_FLOW_HOOK_URL=http://127.0.0.1:$(head -1 "$tmp/http.port")/hook
secret=whsec_instances0123456789abcdef
mkdir -p "$tmp/flows"
cat >"$tmp/flows/on-customer.yaml" <<'YAML'
name: on-customer
connection: shop
trigger: customer.created
steps:
  - id: tell
    http:
      method: POST
      url: "{{ $.env.SLUICE_FLOW_HOOK_URL }}"
      body: {event: "{{ $.trigger.id }}"}
  - id: create
    stripe: customers.create
    with:
      email: "{{ $.trigger.id }}@example.com"
      metadata: {batch: instances}
YAML
stripe() { "$SLUICE" call "$@" --api-key "$KEY" --base-url "$EMU"; }
"$SLUICE" connect add shop --key "$KEY" --webhook-secret "$secret" --base-url "$EMU" >/dev/null 2>"$tmp/err" ||
    { echo "connect add failed: $(cat "$tmp/err")"; exit 1; }

# serve NAME [ENV=VALUE...]: starts an instance (its own data directory, the shared store).
serve() {
    local name=$1
    shift
    env "$@" "$SLUICE" serve --listen 127.0.0.1:0 --data "$tmp/$name" --flows "$tmp/flows" \
        --lease 3 --workers 2 2>"$tmp/$name.log" &
    serve_pid=$!
    pids+=($serve_pid)
    for _ in $(seq 200); do grep -q '"listening"' "$tmp/$name.log" && break; sleep 0.05; done
    port=$(grep -o '"url":"http://127.0.0.1:[0-9]*' "$tmp/$name.log" | head -1 | grep -o '[0-9]*$')
}

# post PORT ID: a signed customer.created webhook; prints the HTTP status.
post() { signed_post "http://127.0.0.1:$1/hooks/shop" "$secret" customer.created "$2"; }

begin "two instances, one killed mid-run: every event once, every run once, no duplicate create"
serve a
pid_a=$serve_pid port_a=$port
serve b
pid_b=$serve_pid port_b=$port
[ -n "$port_a" ] && [ -n "$port_b" ] || fail "an instance did not start: $(tail -3 "$tmp/a.log" "$tmp/b.log")"
: >"$tmp/acked"
N=40
for i in $(seq 1 $N); do
    id=evt_inst_$i
    p=$port_a
    [ $((i % 2)) = 0 ] && p=$port_b
    [ "$(post "$p" "$id")" = 200 ] && echo "$id" >>"$tmp/acked"
done
# Kill A once runs are under way (the HTTP sink answers slowly).
for _ in $(seq 200); do
    [ "$(wc -l <"$tmp/http.jsonl" 2>/dev/null || echo 0)" -ge 6 ] && break
    sleep 0.05
done
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null
killed_ms=$(date +%s%3N)
# More events while A is down: all to B.
for i in $(seq $((N + 1)) $((N + 10))); do
    [ "$(post "$port_b" "evt_inst_$i")" = 200 ] && echo "evt_inst_$i" >>"$tmp/acked"
done
acked=$(sort -u "$tmp/acked" | wc -l)
[ "$acked" = $((N + 10)) ] || fail "$acked of $((N + 10)) events acknowledged"
done_ms=
for _ in $(seq 600); do
    left=$("$SLUICE" runs list --limit 1000 --json 2>/dev/null |
        jq '[.[] | select(.status == "queued" or .status == "running")] | length')
    [ "$left" = 0 ] && done_ms=$(date +%s%3N) && break
    sleep 0.1
done
[ -n "$done_ms" ] || fail "runs still unfinished: $left"
"$SLUICE" events list --limit 1000 --json >"$tmp/events.json" 2>/dev/null
stored=$(jq '[.[].id] | unique | length' "$tmp/events.json")
rows=$(jq 'length' "$tmp/events.json")
[ "$stored" = "$acked" ] && [ "$rows" = "$acked" ] || fail "$rows rows, $stored ids stored for $acked acknowledged"
"$SLUICE" runs list --limit 1000 --json >"$tmp/runs.json" 2>/dev/null
runs=$(jq 'length' "$tmp/runs.json")
per_event=$(jq '[group_by(.event_id)[] | length] | max' "$tmp/runs.json")
ok_runs=$(jq '[.[] | select(.status == "succeeded")] | length' "$tmp/runs.json")
[ "$runs" = "$acked" ] && [ "$per_event" = 1 ] || fail "$runs runs for $acked events (at most $per_event per event)"
[ "$ok_runs" = "$acked" ] || fail "$ok_runs of $runs runs succeeded: $(jq -c '[.[] | select(.status != "succeeded")][0]' "$tmp/runs.json")"
stripe customers.search "query=metadata['batch']:'instances'" --all >"$tmp/customers.jsonl" 2>/dev/null
customers=$(jq -s 'length' "$tmp/customers.jsonl")
emails=$(jq -r '.email' "$tmp/customers.jsonl" | sort -u | wc -l)
[ "$customers" = "$acked" ] && [ "$emails" = "$acked" ] ||
    fail "the emulator has $customers customers ($emails distinct) for $acked events"
resumed=$(grep -c "resuming a run at its first unfinished step" "$tmp/b.log")
[ "$resumed" -ge 1 ] || fail "B resumed none of A's runs"
# Within the lease (3 s) plus the time the runs themselves take.
took=$((done_ms - killed_ms))
[ "$took" -lt 15000 ] || fail "the last run finished $took ms after the kill"
echo "   $acked events, $runs runs, $customers customers; B resumed $resumed of A's runs;" \
    "all finished $took ms after the kill"
kill "$pid_b"
wait "$pid_b" 2>/dev/null
end

begin "a * * * * * schedule on two instances fires once per minute"
cat >"$tmp/flows/tick.yaml" <<'YAML'
name: tick
trigger:
  schedule: "* * * * *"
steps:
  - id: note
    set: {at: "{{ $.trigger.scheduled_at }}"}
YAML
serve c SLUICE_TEST_CLOCK_SPEED=60
pid_c=$serve_pid
serve d SLUICE_TEST_CLOCK_SPEED=60
pid_d=$serve_pid
sleep 8
kill "$pid_c" "$pid_d"
wait "$pid_c" "$pid_d" 2>/dev/null
"$SLUICE" runs list --flow tick --limit 1000 --json >"$tmp/ticks.json" 2>/dev/null
fires=$(jq 'length' "$tmp/ticks.json")
minutes=$(jq '[.[].input.scheduled_at] | unique | length' "$tmp/ticks.json")
[ "$fires" -ge 4 ] || fail "only $fires runs in 8 s at 60x (8 minutes)"
[ "$fires" = "$minutes" ] || fail "$fires runs for $minutes distinct minutes: a minute fired twice"
echo "   $fires runs for $minutes minutes"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
