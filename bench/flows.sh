#!/usr/bin/env bash
# Flow engine overhead, two figures:
#  1. steps/s: a manual flow whose loop runs `set` and `if` (with a nested `set`) over 10,000
#     items, executed by `sluice flows run` and recorded step by step in SQLite;
#  2. events/s end to end: signed webhooks POSTed to `sluice serve` (wrk, as bench/ingest.sh),
#     each stored and queued for a one-step flow in the same transaction, and run by the workers;
#     the rate is events whose run finished, over the time from the first event to the last run.
#  3. with --pg: the same end to end on PostgreSQL (a private server started here), with one
#     `sluice serve` and with two sharing it (each instance gets half the load), and next to it
#     the peer: graphile-worker (bench/peers/graphile) running a no-op job per event, added by
#     16 producers while it runs, on the same server.
#  With --baseline BIN, each SQLite case also runs with another build of sluice (an earlier
#  commit's, say), right after this one's, so that a change is measured against what it changes
#  on the same machine in the same run.
# Usage: bash bench/flows.sh [ITEMS] [SECONDS] [--pg] [--baseline BIN]   (defaults 10000 and 10)
set -euo pipefail
cd "$(dirname "$0")/.."
pg=0
baseline=
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --pg) pg=1 ;;
    --baseline) baseline=$(realpath "$2") && shift ;;
    *) args+=("$1") ;;
    esac
    shift
done
SL=build/sluice
items=${args[0]:-10000}
duration=${args[1]:-10}
command -v wrk >/dev/null || { echo "bench/flows.sh needs wrk (apt-get install wrk)"; exit 2; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
[ -d tests/node/node_modules/stripe ] || (cd tests/node && npm ci --silent)
tmp=$(mktemp -d)
pids=()
pgdir=
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -z "$pgdir" ] || bash tests/support/pg.sh stop "$pgdir"
    rm -rf "$tmp"
}
trap cleanup EXIT
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
mkdir -p "$tmp/one"
cat >"$tmp/one/one.yaml" <<'YAML'
name: one-step
connection: bench
trigger: "*"
steps:
  - id: note
    set: {event: "{{ $.trigger.id }}", type: "{{ $.trigger.type }}"}
YAML
node bench/ingest_sign.js 200000 "$secret" "$tmp/events" 2
ln -s "$tmp/events.1" "$tmp/second.0" # the second instance's wrk replays the other half

# end_to_end LABEL STORE INSTANCES [CONNS]: signed webhooks (wrk, CONNS connections in all,
# default 16) -> stored -> one-step runs.
end_to_end() {
    local label=$1 store=$2 n=$3 conns=${4:-16} ports=() serves=() i
    "$SL" connect add bench --key sk_test_bench0000000000000000 --webhook-secret "$secret" \
        --base-url "http://127.0.0.1:$(cat "$tmp/fake.port")" --data "$tmp/d-$label" \
        --store "$store" >/dev/null
    for i in $(seq "$n"); do
        local port
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$SL" serve --listen "127.0.0.1:$port" --data "$tmp/d-$label" --store "$store" \
            --flows "$tmp/one" --quiet 2>"$tmp/serve-$label-$i.log" &
        serves+=($!)
        pids+=($!)
        ports+=("$port")
        for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
    done
    local rss0
    rss0=$(ps -o rss= -p "${serves[0]}")
    if [ "$n" = 1 ]; then
        wrk -t2 -c"$conns" -d"${duration}s" --latency -s bench/ingest.lua \
            "http://127.0.0.1:${ports[0]}/hooks/bench" -- "$tmp/events" >"$tmp/wrk-$label.out"
    else
        wrk -t1 -c$((conns / 2)) -d"${duration}s" --latency -s bench/ingest.lua \
            "http://127.0.0.1:${ports[0]}/hooks/bench" -- "$tmp/events" >"$tmp/wrk-$label.out" &
        wrk -t1 -c$((conns / 2)) -d"${duration}s" --latency -s bench/ingest.lua \
            "http://127.0.0.1:${ports[1]}/hooks/bench" -- "$tmp/second" >"$tmp/wrk-$label-2.out"
        wait %%
    fi
    local api="http://127.0.0.1:${ports[0]}/api"
    for _ in $(seq 600); do
        left=$(curl -s -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "$api/runs?status=queued&limit=1" | jq '.runs | length')
        [ "$left" = 0 ] && break
        sleep 0.5
    done
    for _ in $(seq 100); do
        left=$(curl -s -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "$api/runs?status=running&limit=1" | jq '.runs | length')
        [ "$left" = 0 ] && break
        sleep 0.2
    done
    local rss1
    rss1=$(ps -o rss= -p "${serves[0]}")
    for p in "${serves[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
    "$SL" runs list --data "$tmp/d-$label" --store "$store" --limit 1000000 --json >"$tmp/runs.json"
    local nruns ok first last
    read -r nruns ok first last < <(jq -r '[length, ([.[] | select(.status == "succeeded")] | length),
        (map(.created_ms) | min), (map(.finished_ms // 0) | max)] | @tsv' "$tmp/runs.json")
    echo "== $label: wrk ${duration}s, $conns connections in all, signed webhooks -> stored -> a one-step flow run"
    for f in "$tmp/wrk-$label"*.out; do
        grep -E "Requests/sec|99%" "$f" | sed 's/^/   wrk: /'
    done
    echo "   runs: $nruns queued with their events, $ok succeeded, first queued -> last finished $((last - first)) ms" \
        "= $(( ok * 1000 / (last - first > 0 ? last - first : 1) )) events/s through a flow"
    echo "   sluice serve RSS (first instance): ${rss0} KB before, ${rss1} KB after"
}

end_to_end "2a. SQLite, one instance" "sqlite:$tmp/d2a.db" 1 16
[ -z "$baseline" ] || SL=$baseline end_to_end "2a. SQLite, the baseline build" "sqlite:$tmp/d2a-base.db" 1 16
end_to_end "2b. SQLite, one instance" "sqlite:$tmp/d2b.db" 1 64
[ -z "$baseline" ] || SL=$baseline end_to_end "2b. SQLite, the baseline build" "sqlite:$tmp/d2b-base.db" 1 64
if [ "$pg" = 0 ]; then
    echo "   (no peer here: run with --pg for PostgreSQL and graphile-worker beside it)"
    exit 0
fi

# --- 3. PostgreSQL: one and two instances, and graphile-worker -----------------------------------
[ -d bench/peers/graphile/node_modules/graphile-worker ] ||
    (cd bench/peers/graphile && npm ci --no-audit --no-fund --loglevel=error)
node bench/ingest_sign.js 200000 "$secret" "$tmp/events" 2 # fresh within Stripe's tolerance
pgdir=$(bash tests/support/pg.sh tmpdir)
bash tests/support/pg.sh start "$pgdir" >/dev/null
one=$(bash tests/support/pg.sh createdb "$pgdir" bench_one)
two=$(bash tests/support/pg.sh createdb "$pgdir" bench_two)
peer=$(bash tests/support/pg.sh createdb "$pgdir" bench_peer)
end_to_end "3a. PostgreSQL, one instance" "$one" 1
end_to_end "3b. PostgreSQL, two instances" "$two" 2
echo "== 3c. the peer on the same PostgreSQL server:"
node bench/peers/graphile/bench.js "$peer" "$duration" 16 4 | head -1 | sed 's/^/   /'
