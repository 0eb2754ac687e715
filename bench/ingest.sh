#!/usr/bin/env bash
# Webhook ingest benchmark: `sluice serve` vs a typical Node receiver built with the official
# stripe package (bench/ingest_peer.js), same pre-signed events, same load, same run.
#
# Usage: bench/ingest.sh [EVENTS] [DURATION] [--store postgres://USER@HOST/DB | --pg]
#        (defaults 300000 events, 10 s per row). --store: sluice keeps the inbox in that
#        PostgreSQL database (its events and runs are emptied before each row); --pg: in a private
#        PostgreSQL server started here (tests/support/pg.sh). --with-flow: sluice also runs a
#        one-step flow on every event while it ingests (its workers drain the runs meanwhile).
#
# Both servers answer 2xx only once the event is durable (sluice: SQLite WAL, synchronous=FULL,
# group commit; the peer: appendFileSync + fsyncSync per event). wrk (2 threads) replays distinct
# signed events (bench/ingest_sign.js, bench/ingest.lua) at 8 and 64 connections for DURATION
# seconds. Each row runs against a freshly started server with an empty store, so its peak RSS
# (VmHWM) is that row's own. Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
store=
pg=0
with_flow=0
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --store) store=$2; shift 2 ;;
    --pg) pg=1; shift ;;
    --with-flow) with_flow=1; shift ;;
    *) args+=("$1"); shift ;;
    esac
done
events=${args[0]:-300000}
duration=${args[1]:-10}
threads=2
conns=(8 64)

# --- prerequisites -------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y "${need[@]}" >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y "${need[@]}" >/dev/null; }
fi
[ -d tests/node/node_modules/stripe ] || (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice-cli fake_stripe_bin >/dev/null

# --- scratch space, and stopping whatever we started ------------------------------------------
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
if [ "$pg" = 1 ]; then
    pgdir=$(bash tests/support/pg.sh tmpdir)
    bash tests/support/pg.sh start "$pgdir" >/dev/null
    store=$(cat "$pgdir/url")
fi
store_args=()
[ -z "$store" ] || store_args=(--store "$store")
mkdir -p "$tmp/flows"
if [ "$with_flow" = 1 ]; then
    cat >"$tmp/flows/one.yaml" <<'YAML'
name: one-step
connection: bench
trigger: "*"
steps:
  - id: note
    set: {event: "{{ $.trigger.id }}", type: "{{ $.trigger.type }}"}
YAML
fi
# count_events DATA: the events the row's store holds
count_events() {
    if [ -n "$store" ]; then psql -qtAX "$store" -c 'SELECT count(*) FROM events'
    else sqlite3 "$1/sluice.db" 'SELECT count(*) FROM events'; fi
}
export SLUICE_MASTER_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
secret=whsec_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
name=bench

wait_for_file() { # FILE PATTERN: wait up to 10 s for PATTERN to appear in FILE
    for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; return 1
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # PID VmRSS|VmHWM
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12, $13}' "/proc/$1/stat"; }  # PID: utime stime
ctx_switches() { # PID: context switches of all its threads so far
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}'
}
mb() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb / 1024}'; }
stop() { # PID: SIGTERM and wait for it (it was started by this script); exit status in $stop_rc
    kill -TERM "$1" 2>/dev/null || true
    stop_rc=0; wait "$1" 2>/dev/null || stop_rc=$?
    local keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}")
}

# --- a connection in a template data dir (connect add checks the key against a fake Stripe) ---
echo '[{"status":200,"body":{"id":"acct_bench","object":"account"},"repeat":true}]' >"$tmp/fake.json"
build/tests/fake_stripe --script "$tmp/fake.json" >"$tmp/fake.port" &
fake=$!; pids+=("$fake")
wait_for_file "$tmp/fake.port" '[0-9]'
build/sluice connect add "$name" --key sk_test_bench0000000000000000 --webhook-secret "$secret" \
    --base-url "http://127.0.0.1:$(cat "$tmp/fake.port")" --data "$tmp/template" "${store_args[@]}" >/dev/null
stop "$fake"

# --- pre-signed events: re-signed whenever a row could outlive the 300 s signature tolerance ---
signed_at=0
fresh_events() {
    if [ $(( $(date +%s) - signed_at + duration + 30 )) -gt 280 ]; then
        node bench/ingest_sign.js "$events" "$secret" "$tmp/events" "$threads"
        signed_at=$(date +%s)
    fi
}

# --- one row: wrk against URL; prints wrk's report and keeps its RESULT line in $tmp/result ---
load() { # URL CONNECTIONS SERVER_PID
    # RSS of the server once a second during the row (bounded: DURATION + 2 samples)
    ( for _ in $(seq $((duration + 2))); do sleep 1; status_kb "$3" VmRSS 2>/dev/null || break; done \
        >"$tmp/rss" ) &
    local sampler=$! cpu0 ctx0
    cpu0=$(cpu_ticks "$3"); ctx0=$(ctx_switches "$3")
    wrk -t"$threads" -c"$2" -d"${duration}s" --timeout 10s --latency -s bench/ingest.lua "$1" \
        -- "$tmp/events" | tee "$tmp/wrk.out" | sed 's/^/    /'
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    echo "    RSS MB each second during the row: $(awk '{printf "%.1f ", $1 / 1024}' "$tmp/rss")"
    grep '^RESULT ' "$tmp/wrk.out" >"$tmp/result"
    # server CPU time (user, system) and context switches per answered request during the row
    local cpu_user cpu_sys ctx
    read -r cpu_us cpu_user cpu_sys ctx <<<"$(echo "$cpu0 $(cpu_ticks "$3") $ctx0 $(ctx_switches "$3") \
        $(field requests) $(getconf CLK_TCK)" | awk '{k = 1e6 / $8 / $7
            printf "%.0f %.0f %.0f %.1f", ($3 + $4 - $1 - $2) * k, ($3 - $1) * k, ($4 - $2) * k, ($6 - $5) / $7}')"
    echo "    server CPU per request $cpu_us us (user $cpu_user, system $cpu_sys); context switches per request $ctx"
    [ "$(field wrapped)" = 0 ] || { echo "    WARNING: wrk ran out of events and replayed them" \
        "(duplicates): accepted/s undercounts; pass more EVENTS"; ran_out=1; }
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$tmp/result"; }  # a value of the RESULT line
rows=()
ran_out=0
add_row() { # SERVER CONNS IDLE_KB PEAK_KB STORED
    local ok dup s
    ok=$(field ok2xx); dup=$(field dups); s=$(field duration_s)
    rows+=("$(printf '%-7s %5s %12s %9s %9s %9s %8s %8s %8s %10s %10s %10s' "$1" "$2" \
        "$(awk -v a="$ok" -v d="$dup" -v s="$s" 'BEGIN {printf "%.0f", (a - d) / s}')" \
        "$(field p50_ms)" "$(field p99_ms)" "$(field non2xx)" "$dup" "$cpu_us" \
        "$(( $(field sock_connect) + $(field sock_read) + $(field sock_write) + $(field sock_timeout) ))" \
        "$(mb "$3")" "$(mb "$4")" "$5")")
}

echo "== $events events per signing, ${duration}s per row, wrk -t$threads, $(nproc) cores, loopback, sluice store: ${store:+PostgreSQL}${store:-SQLite}$([ "$with_flow" = 1 ] && echo ", a one-step flow on every event")"
for c in "${conns[@]}"; do
    # sluice: fresh data dir (copy of the template), fresh server
    fresh_events
    data="$tmp/sluice-$c"; cp -a "$tmp/template" "$data"
    [ -z "$store" ] || psql -qX "$store" -c 'TRUNCATE events, runs, run_steps' >/dev/null
    build/sluice serve --listen 127.0.0.1:0 --data "$data" "${store_args[@]}" --flows "$tmp/flows" \
        2>"$tmp/sluice-$c.log" &
    pid=$!; pids+=("$pid")
    wait_for_file "$tmp/sluice-$c.log" '"listening"'
    url=$(grep -m1 '"listening"' "$tmp/sluice-$c.log" | sed 's/.*"url":"\([^"]*\)".*/\1/')
    sleep 1; idle=$(status_kb "$pid" VmRSS)
    echo "-- sluice, $c connections ($url/hooks/$name, idle RSS $(mb "$idle") MB)"
    load "$url/hooks/$name" "$c" "$pid"
    if ! kill -0 "$pid" 2>/dev/null; then   # died under load: show why, keep the evidence
        stop "$pid"; echo "    CRASHED: sluice exited with status $stop_rc during the row; log tail:"
        tail -5 "$tmp/sluice-$c.log" | sed 's/^/      /'; cp "$tmp/sluice-$c.log" "/tmp/sluice-bench-crash-$c.log"
        exit 1
    fi
    peak=$(status_kb "$pid" VmHWM); after=$(status_kb "$pid" VmRSS)
    curl -s "$url/metrics" >"$tmp/metrics"
    grep -E '^sluice_webhooks_(accepted|duplicate|store_errors)_total|rejected_total\{.*\} [1-9]' "$tmp/metrics" \
        | sed 's/^/    metrics: /'
    awk '/^sluice_commit_batch_size_sum/ {e = $2} /^sluice_commit_batch_size_count/ {b = $2}
         /^sluice_commit_seconds_bucket/ {match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
             h = h sprintf(" <=%s:%d", le == "+Inf" ? "inf" : le * 1000 "ms", $2 - prev); prev = $2}
         END {printf "    metrics: %d commits, %.1f events per commit; commit time histogram%s\n", b, e / b, h}' \
        "$tmp/metrics"
    accepted=$(awk '$1 == "sluice_webhooks_accepted_total" {print $2}' "$tmp/metrics")
    if [ -n "$store" ]; then
        sizes="PostgreSQL events table $(psql -qtAX "$store" -c "SELECT pg_size_pretty(pg_total_relation_size('events'))"), "
    else
        sizes=$(cd "$data" && stat -c '%n %s' sluice.db* | awk '{printf "%s %.1f MB, ", $1, $2 / 1048576}')
    fi
    stop "$pid"   # SIGTERM: commits what is in flight, then exits 0
    [ "$stop_rc" = 0 ] || echo "    WARNING: sluice exited with status $stop_rc on SIGTERM"
    stored=$(count_events "$data")
    ok=$(field ok2xx); dup=$(field dups)
    echo "    check: stored events $stored; fresh 2xx seen by wrk $((ok - dup)) (2xx $ok - duplicates $dup);" \
        "server's accepted counter $accepted; stored - fresh 2xx = $((stored - ok + dup))" \
        "(requests still in flight when wrk stopped: 0..$c)"
    echo "    store files under load: ${sizes%, }"
    # every acknowledged event must be stored; at most the requests in flight at the stop extra
    if [ "$stored" != "$accepted" ]; then echo "    MISMATCH: stored $stored != accepted counter $accepted"
    elif [ "$stored" -lt $((ok - dup)) ]; then echo "    LOST: fewer events stored than acknowledged"
    elif [ "$stored" -gt $((ok - dup + c)) ]; then echo "    MISMATCH: more extra events stored than connections"
    else echo "    store check OK"; fi
    echo "    RSS after the row $(mb "$after") MB; log lines other than info: $(grep -vc '"level":"info"' "$tmp/sluice-$c.log" || true)"
    add_row sluice "$c" "$idle" "$peak" "$stored"
    rm -rf "$data"
done
for c in "${conns[@]}"; do
    # the Node peer: fresh output file, fresh process
    fresh_events
    out="$tmp/peer-$c.jsonl"
    node bench/ingest_peer.js 0 "$secret" "$out" >"$tmp/peer.port" 2>"$tmp/peer-$c.log" &
    pid=$!; pids+=("$pid")
    wait_for_file "$tmp/peer.port" '[0-9]'
    url="http://127.0.0.1:$(cat "$tmp/peer.port")"
    sleep 1; idle=$(status_kb "$pid" VmRSS)
    echo "-- node peer, $c connections ($url/webhook, idle RSS $(mb "$idle") MB)"
    load "$url/webhook" "$c" "$pid"
    peak=$(status_kb "$pid" VmHWM)
    stop "$pid"
    stored=$(wc -l <"$out")
    echo "    check: lines in the peer's file $stored; 2xx seen by wrk $(field ok2xx)"
    add_row node "$c" "$idle" "$peak" "$stored"
    rm -f "$out"
done

echo
echo "== ingest: POST signed Stripe events (1-3 KB), durable before 2xx; wrk -t$threads, ${duration}s per row"
printf '%-7s %5s %12s %9s %9s %9s %8s %8s %8s %10s %10s %10s\n' server conns "accepted/s" "p50 ms" "p99 ms" \
    non-2xx dups "CPU us" sockerr "idle MB" "peak MB" stored
for r in "${rows[@]}"; do echo "$r"; done
echo "accepted/s = (2xx - duplicate answers) / duration; CPU us = server user+system CPU per request;"
echo "p50/p99 as wrk 4.1 reports them (it adds samples for coordinated omission); sockerr = wrk socket errors;"
echo "idle MB = VmRSS 1 s after start; peak MB = VmHWM of that row's server (each row starts a fresh one);"
echo "stored = rows in sluice's events table / lines in the peer's file, counted after it stopped."
[ "$ran_out" = 0 ] || echo "WARNING: some rows ran out of pre-signed events (see above); rerun with more EVENTS."
