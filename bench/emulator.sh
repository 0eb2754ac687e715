#!/usr/bin/env bash
# Emulator benchmark: stateful customer create and retrieve on `sluice emulate` under wrk at 8
# and 64 connections for DURATION seconds each, with the emulator's RSS. Loopback only.
# Usage: bench/emulator.sh [DURATION]   (default 10)
# Prints requests/s and latency, and RSS per created customer (with its customer.created event).
# (Stripe's stateless mock would be the peer to compare with; it is not packaged for Debian.)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
command -v wrk >/dev/null || { sudo=; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y wrk >/dev/null; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice-cli >/dev/null
tmp=$(mktemp -d)
build/sluice emulate --listen 127.0.0.1:0 2>"$tmp/log" &
emu=$!
trap 'kill $emu 2>/dev/null; wait $emu 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q '"url"' "$tmp/log" && break; sleep 0.05; done
url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
rss() { awk '$1 == "VmRSS:" {printf "%.1f", $2 / 1024}' "/proc/$emu/status"; }
hwm() { awk '$1 == "VmHWM:" {printf "%.1f", $2 / 1024}' "/proc/$emu/status"; }
idle=$(rss)
cat >"$tmp/create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer sk_test_bench"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "email=jenny%40example.com&name=Jenny%20Rosen&metadata[plan]=pro&metadata[seats]=3"
LUA
id=$(STRIPE_API_KEY=sk_test_bench build/sluice call customers.create email=bench@example.com \
    --base-url "$url" | sed -n 's/.*"id": "\(cus_[^"]*\)".*/\1/p')
cat >"$tmp/get.lua" <<'LUA'
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer sk_test_bench"
LUA
created=1 # the customer retrieved
printf '%-10s %-6s %12s %9s %9s\n' operation conns requests/s p50_ms p99_ms
for conns in 8 64; do
    for op in create retrieve; do
        if [ "$op" = create ]; then target="$url/v1/customers"; script="$tmp/create.lua"
        else target="$url/v1/customers/$id"; script="$tmp/get.lua"; fi
        out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$script" "$target")
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
        p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
        non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        if [ "$op" = create ]; then
            done_=$(echo "$out" | awk '/requests in/ {print $1}')
            created=$((created + done_ - ${non2xx:-0}))
        fi
        printf '%-10s %-6s %12s %9s %9s %s\n' "$op" "$conns" "$rps" "$p50" "$p99" \
            "${non2xx:+($non2xx non-2xx)}"
    done
done
now=$(rss)
echo "emulator RSS: idle $idle MB, now $now MB, peak $(hwm) MB (it keeps every object and event in memory)"
awk -v n="$created" -v idle="$idle" -v now="$now" \
    'BEGIN {printf "customers created: %d; RSS per customer with its event: %.2f KB\n", n, (now - idle) * 1024 / n}'

