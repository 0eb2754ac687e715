#!/usr/bin/env bash
# Flow engine overhead, two figures:
#  1. steps/s: a manual flow whose loop runs `set` and `if` (with a nested `set`) over 10,000
#     items, executed by `sluice flows run` and recorded step by step in SQLite;
#  2. events/s end to end: signed webhooks POSTed to `sluice serve` (wrk, as bench/ingest.sh),
#     each stored and queued for a one-step flow in the same transaction, and run by the workers;
#     the rate is events whose run finished, over the time from the first event to the last run.
# Usage: bash bench/flows.sh [ITEMS] [SECONDS]      (defaults 10000 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-10000}
duration=${2:-10}
command -v wrk >/dev/null || { echo "bench/flows.sh needs wrk (apt-get install wrk)"; exit 2; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
[ -d tests/node/node_modules/stripe ] || (cd tests/node && npm ci --silent)
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export SLUICE_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export SLUICE_ADMIN_TOKEN=bench-admin-token-0123456789
ms() { date +%s%3N; }

# --- 1. steps/s ------------------------------------------------------------------------------
mkdir -p "$tmp/loop"
cat >"$tmp/loop/loop.yaml" <<'YAML'
name: bench-loop
trigger: manual
steps:
  - id: each
    loop: $.input.items
    steps:
      - id: price
        set: {amount: "{{ $.item * 100 }}", label: "item {{ $.index }}"}
      - id: big
        if: $.steps.price.amount > 500000
        then:
          - id: flag
            set: "{{ $.steps.price.label }} is big"
YAML
jq -nc "{items: [range(0; $items)]}" >"$tmp/input.json"
t0=$(ms)
build/sluice flows run bench-loop --data "$tmp/d1" --flows "$tmp/loop" --input "$(cat "$tmp/input.json")" >"$tmp/run.out"
t1=$(ms)
id=$(grep -o 'run_[0-9a-f]*' "$tmp/run.out" | head -1)
steps=$(build/sluice runs show "$id" --json --data "$tmp/d1" | jq '.steps | length')
status=$(build/sluice runs show "$id" --json --data "$tmp/d1" | jq -r .status)
echo "== 1. flow engine: a loop of set + if (+ nested set) over $items items, every step recorded"
echo "   run $status: $steps steps in $((t1 - t0)) ms (process start, load, run, records) =" \
    "$(( steps * 1000 / (t1 - t0 > 0 ? t1 - t0 : 1) )) steps/s"

# --- 2. events/s end to end ------------------------------------------------------------------
secret=whsec_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
echo '[{"status":200,"body":{"id":"acct_bench","object":"account"},"repeat":true}]' >"$tmp/fake.json"
build/tests/fake_stripe --script "$tmp/fake.json" >"$tmp/fake.port" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/fake.port" ] && break; sleep 0.05; done
build/sluice connect add bench --key sk_test_bench0000000000000000 --webhook-secret "$secret" \
    --base-url "http://127.0.0.1:$(cat "$tmp/fake.port")" --data "$tmp/d2" >/dev/null
mkdir -p "$tmp/one"
cat >"$tmp/one/one.yaml" <<'YAML'
name: one-step
connection: bench
trigger: "*"
steps:
  - id: note
    set: {event: "{{ $.trigger.id }}", type: "{{ $.trigger.type }}"}
YAML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
build/sluice serve --listen 127.0.0.1:$port --data "$tmp/d2" --flows "$tmp/one" --quiet 2>"$tmp/serve.log" &
serve=$!
pids+=($serve)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
node bench/ingest_sign.js 200000 "$secret" "$tmp/events" 2
rss0=$(ps -o rss= -p $serve)
wrk -t2 -c16 -d"${duration}s" --latency -s bench/ingest.lua "http://127.0.0.1:$port/hooks/bench" -- "$tmp/events" >"$tmp/wrk.out"
api() { curl -s -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "http://127.0.0.1:$port/api/$1"; }
for _ in $(seq 600); do
    left=$(api "runs?status=queued&limit=1" | jq '.runs | length')
    [ "$left" = 0 ] && break
    sleep 0.5
done
rss1=$(ps -o rss= -p $serve)
kill $serve; wait $serve 2>/dev/null || true
build/sluice runs list --data "$tmp/d2" --limit 1000000 --json >"$tmp/runs.json"
read -r n ok first last < <(jq -r '[length, ([.[] | select(.status == "succeeded")] | length),
    (map(.created_ms) | min), (map(.finished_ms // 0) | max)] | @tsv' "$tmp/runs.json")
stored=$(build/sluice events list --data "$tmp/d2" --limit 1 --json 2>/dev/null | jq length 2>/dev/null || echo "?")
echo "== 2. end to end: wrk -t2 -c16 ${duration}s of signed webhooks -> stored -> a one-step flow run"
grep -E "Requests/sec|50%|99%" "$tmp/wrk.out" | sed 's/^/   wrk: /'
echo "   runs: $n queued with their events, $ok succeeded, first queued -> last finished $((last - first)) ms" \
    "= $(( ok * 1000 / (last - first > 0 ? last - first : 1) )) events/s through a flow"
echo "   sluice serve RSS: ${rss0} KB before, ${rss1} KB after"
echo "   (no peer: no other flow engine is installed here to run the same flow)"
