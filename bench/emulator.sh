#!/usr/bin/env bash
# Emulator benchmark: stateful customer create and retrieve on `sluice emulate` under wrk at 8
# and 64 connections for DURATION seconds each; prints requests/s, latency, the emulator's RSS
# and RSS per created customer (with its customer.created event). Loopback only.
# Usage: bench/emulator.sh [DURATION]   (default 10)
#   PEER=/path/to/sluice bench/emulator.sh   also runs the same load, in the same run, on another
#   sluice binary (a previous release) and prints its figures beside these.
# (Stripe's stateless mock would be the natural peer; it is a Go program that Debian does not
# package, so it is not built here.)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y wrk >/dev/null; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice-cli >/dev/null
tmp=$(mktemp -d)
emu=
trap '[ -n "$emu" ] && kill $emu 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer sk_test_bench"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "email=jenny%40example.com&name=Jenny%20Rosen&metadata[plan]=pro&metadata[seats]=3"
LUA
cat >"$tmp/get.lua" <<'LUA'
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer sk_test_bench"
LUA

# bench LABEL BINARY: one emulator under the whole load, then its memory.
bench() {
    local label=$1 bin=$2
    "$bin" emulate --listen 127.0.0.1:0 2>"$tmp/log" &
    emu=$!
    for _ in $(seq 200); do grep -qs '"url"' "$tmp/log" && break; sleep 0.05; done
    local url
    url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
    rss() { awk '$1 == "VmRSS:" {printf "%.1f", $2 / 1024}' "/proc/$emu/status"; }
    local idle id created=1
    idle=$(rss)
    id=$(STRIPE_API_KEY=sk_test_bench "$bin" call customers.create email=bench@example.com \
        --base-url "$url" | sed -n 's/.*"id": "\(cus_[^"]*\)".*/\1/p')
    for conns in 8 64; do
        for op in create retrieve; do
            local target script out rps p50 p99 non2xx
            if [ "$op" = create ]; then target="$url/v1/customers"; script="$tmp/create.lua"
            else target="$url/v1/customers/$id"; script="$tmp/get.lua"; fi
            out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$script" "$target")
            rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
            p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
            p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
            non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
            if [ "$op" = create ]; then
                created=$((created + $(echo "$out" | awk '/requests in/ {print $1}') - ${non2xx:-0}))
            fi
            printf '%-9s %-10s %-6s %12s %9s %9s %s\n' "$label" "$op" "$conns" "$rps" "$p50" "$p99" \
                "${non2xx:+($non2xx non-2xx)}"
        done
    done
    local now
    now=$(rss)
    awk -v l="$label" -v n="$created" -v idle="$idle" -v now="$now" 'BEGIN {
        printf "%-9s RSS idle %.1f MB, after %d customers %.1f MB: %.2f KB per customer with its event\n",
            l, idle, n, now, (now - idle) * 1024 / n }' >>"$tmp/memory"
    kill "$emu"
    wait "$emu" 2>/dev/null || true
    emu=
}

printf '%-9s %-10s %-6s %12s %9s %9s\n' binary operation conns requests/s p50_ms p99_ms
bench this build/sluice
[ -n "${PEER:-}" ] && bench peer "$PEER"
cat "$tmp/memory"
