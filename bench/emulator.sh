#!/usr/bin/env bash
# Emulator benchmark: stateful customer create and retrieve on `sluice emulate` under wrk at 8
# and 64 connections for DURATION seconds each; prints requests/s, latency, the emulator's RSS
# and RSS per created customer (with its customer.created event). Loopback only.
# Usage: bench/emulator.sh [DURATION]   (default 10)
#   PEER=/path/to/sluice bench/emulator.sh   also runs the same load, in the same run, on another
#   sluice binary (a previous release) and prints its figures beside these.
#   STRIPE_MOCK=/path/to/stripe-mock bench/emulator.sh   also runs it on Stripe's stateless mock
#   (github.com/stripe/stripe-mock, a Go program; build it yourself, e.g. its v0.171.0 with
#   `go build` and its own vendor/ directory, Debian's golang-go; -spec and -fixtures are not
#   needed: its creates and retrieves answer its example). The mock keeps nothing, so its
#   retrieves read no object and its memory does not grow per customer.
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench LABEL BINARY [mock]: one emulator (or the stateless mock) under the whole load, then its
# memory.
bench() {
    local label=$1 bin=$2 kind=${3:-sluice} url
    if [ "$kind" = mock ]; then
        local port tls
        port=$(free_port)
        tls=$(free_port) # it listens for HTTPS too, on 12112 unless told
        "$bin" -http-addr "127.0.0.1:$port" -https-addr "127.0.0.1:$tls" >"$tmp/log" 2>&1 &
        emu=$!
        for _ in $(seq 200); do grep -qs 'Listening for HTTP' "$tmp/log" && break; sleep 0.05; done
        url="http://127.0.0.1:$port"
    else
        "$bin" emulate --listen 127.0.0.1:0 2>"$tmp/log" &
        emu=$!
        for _ in $(seq 200); do grep -qs '"url"' "$tmp/log" && break; sleep 0.05; done
        url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
    fi
    rss() { awk '$1 == "VmRSS:" {printf "%.1f", $2 / 1024}' "/proc/$emu/status"; }
    local idle id created=1
    idle=$(rss)
    id=$(STRIPE_API_KEY=sk_test_bench build/sluice call customers.create email=bench@example.com \
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
            echo "$label $op $conns $rps" >>"$tmp/rps"
            printf '%-9s %-10s %-6s %12s %9s %9s %s\n' "$label" "$op" "$conns" "$rps" "$p50" "$p99" \
                "${non2xx:+($non2xx non-2xx)}"
        done
    done
    local now
    now=$(rss)
    awk -v l="$label" -v n="$created" -v idle="$idle" -v now="$now" 'BEGIN {
        printf "%-9s RSS idle %.1f MB, after %d customers %.1f MB: %.2f KB per customer with its event\n",
            l, idle, n, now, (now - idle) * 1024 / n }' >>"$tmp/memory"
    [ "$kind" = mock ] && echo "          (the stateless mock keeps no customer: its figure is not memory per object)" >>"$tmp/memory"
    kill "$emu"
    wait "$emu" 2>/dev/null || true
    emu=
}

printf '%-9s %-10s %-6s %12s %9s %9s\n' binary operation conns requests/s p50_ms p99_ms
bench this build/sluice
[ -n "${PEER:-}" ] && bench peer "$PEER"
[ -n "${STRIPE_MOCK:-}" ] && bench mock "$STRIPE_MOCK" mock
cat "$tmp/memory"
# Side by side with each peer: this build's requests/s over the peer's.
for peer in peer mock; do
    grep -q "^$peer " "$tmp/rps" 2>/dev/null || continue
    awk -v p="$peer" '$1 == "this" {t[$2 " " $3] = $4} $1 == p {o[$2 " " $3] = $4}
        END {for (k in t) if (k in o) printf "this/%s  %-16s %10.0f vs %10.0f requests/s: %.2fx\n",
             p, k " conns", t[k], o[k], t[k] / o[k]}' "$tmp/rps" | sort
done
