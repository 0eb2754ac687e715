#!/usr/bin/env bash
# Sync benchmark: `sluice sync` vs @supabase/stripe-sync-engine (npm), in the same run, against
# the same `sluice emulate` and the same private PostgreSQL (tests/support/pg.sh), all on
# 127.0.0.1.
#
# Usage: bench/sync.sh [CUSTOMERS] [INVOICES] [PRODUCTS]   (defaults 5000 1000 200)
#        SLUICE_BIN=path/to/sluice (default build/sluice, built Release when missing)
#
# The emulator is filled with CUSTOMERS customers, INVOICES finalized invoices of 3 lines and
# PRODUCTS products with a price each, while a `sluice serve` stores the webhooks they cause.
# Then:
# - backfill: customers, invoices, products and prices listed into empty tables: sluice into
#   SQLite and into PostgreSQL (4 parallel workers, within the connection's rate limit: the
#   emulator takes test keys, so 25 requests/s as Stripe allows in test mode, at most 2,500
#   listed objects a second), the peer into PostgreSQL (syncBackfill, one object type after
#   the other, no rate limit of its own);
# - events: every stored event applied to empty tables in the order of their `created`: sluice
#   (`sluice sync rebuild`, no API calls) into SQLite and PostgreSQL, the peer (processEvent for
#   each, which may call the API for some types) into PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-5000}
invoices=${2:-1000}
products=${3:-200}
bin=${SLUICE_BIN:-build/sluice}
if [ ! -x "$bin" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j2 --target sluice-cli >/dev/null
fi
for c in jq sqlite3 node python3; do
    command -v $c >/dev/null || { echo "bench/sync.sh needs $c" >&2; exit 2; }
done
[ -d bench/peers/sync/node_modules ] || (cd bench/peers/sync && npm ci --no-audit --no-fund >/dev/null)
# shellcheck source=../tests/support/pg.sh
. tests/support/pg.sh
tmp=$(mktemp -d)
pgdir=$(sl_pg_tmpdir)
emu_pid= serve_pid=
cleanup() {
    for p in $serve_pid $emu_pid; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    sl_pg_stop "$pgdir" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
sl_pg_start "$pgdir" >/dev/null
PG=$(cat "$pgdir/url")
export SLUICE_DATA=$tmp/data
KEY=sk_test_bench_sync

"$bin" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
emu_pid=$!
for _ in $(seq 100); do grep -q '"url"' "$tmp/emu.log" && break; sleep 0.05; done
url=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=$("$bin" call webhook_endpoints.create url="http://127.0.0.1:$port/hooks/shop" 'enabled_events[]=*' \
    --api-key $KEY --base-url "$url" | jq -r .secret)
"$bin" connect add shop --key $KEY --base-url "$url" --webhook-secret "$secret" >/dev/null
"$bin" serve --listen "127.0.0.1:$port" --quiet 2>"$tmp/serve.log" &
serve_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done

echo "filling the emulator: $customers customers, $invoices invoices of 3 lines, $products products and prices"
python3 tests/support/sync_seed.py "$url" $KEY "$customers" "$invoices" "$products" >/dev/null
last=-1
while :; do # until the webhooks stop arriving
    n=$(sqlite3 "$tmp/data/sluice.db" "SELECT COUNT(*) FROM events")
    [ "$n" = "$last" ] && break
    last=$n
    sleep 2
done
kill "$serve_pid"
wait "$serve_pid" || true
serve_pid=
sqlite3 "$tmp/data/sluice.db" "SELECT json(payload) FROM events ORDER BY created, received_ms" >"$tmp/events.jsonl"
nevents=$(wc -l <"$tmp/events.jsonl")

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

backfill() { # WHERE [SCHEMA]: prints objects and objects/s
    local a b rows
    a=$(now)
    "$bin" sync backfill --objects customers,invoices,products,prices --json --sync-store "$1" \
        ${2:+--sync-schema "$2"} >"$tmp/bf.json"
    b=$(now)
    rows=$(tail -1 "$tmp/bf.json" | jq '[.tables[].rows] | add')
    echo "$rows $(rate "$rows" "$a" "$b") $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }')"
}
rebuild() { # WHERE [SCHEMA]: prints events/s
    local a b
    a=$(now)
    "$bin" sync rebuild --sync-store "$1" ${2:+--sync-schema "$2"} >/dev/null
    b=$(now)
    echo "$(rate "$nevents" "$a" "$b") $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }')"
}

read -r sq_rows sq_rate sq_s < <(backfill "$tmp/sync.db")
read -r pg_rows pg_rate pg_s < <(backfill "$PG" sluice)
# The peer's migrations are written for the schema `stripe`: a database of its own for each part.
peer=$(node bench/sync_peer.js backfill "$url" $KEY "$(sl_pg_createdb "$pgdir" peer_backfill)" stripe)
peer_rows=$(jq .objects <<<"$peer")
peer_s=$(jq '.seconds * 100 | floor / 100' <<<"$peer")
peer_rate=$(awk -v n="$peer_rows" -v s="$peer_s" 'BEGIN { printf "%.0f", n / s }')

read -r sq_ev sq_ev_s < <(rebuild "$tmp/rebuilt.db")
read -r pg_ev pg_ev_s < <(rebuild "$PG" sluice_events)
peer_e=$(node bench/sync_peer.js events "$url" $KEY "$(sl_pg_createdb "$pgdir" peer_events)" stripe "$tmp/events.jsonl")
peer_ev=$(jq '.events / .seconds | floor' <<<"$peer_e")
peer_ev_s=$(jq '.seconds * 100 | floor / 100' <<<"$peer_e")

echo
echo "backfill (customers, invoices + lines, products, prices listed from the emulator)"
printf '  %-46s %9s %10s %9s\n' "" objects objects/s seconds
printf '  %-46s %9s %10s %9s\n' "sluice sync backfill -> SQLite" "$sq_rows" "$sq_rate" "$sq_s"
printf '  %-46s %9s %10s %9s\n' "sluice sync backfill -> PostgreSQL" "$pg_rows" "$pg_rate" "$pg_s"
printf '  %-46s %9s %10s %9s\n' "@supabase/stripe-sync-engine -> PostgreSQL" "$peer_rows" "$peer_rate" "$peer_s"
echo "events applied ($nevents stored events, oldest first)"
printf '  %-46s %9s %10s %9s\n' "" events events/s seconds
printf '  %-46s %9s %10s %9s\n' "sluice sync rebuild -> SQLite" "$nevents" "$sq_ev" "$sq_ev_s"
printf '  %-46s %9s %10s %9s\n' "sluice sync rebuild -> PostgreSQL" "$nevents" "$pg_ev" "$pg_ev_s"
printf '  %-46s %9s %10s %9s\n' "@supabase/stripe-sync-engine processEvent -> PG" "$nevents" "$peer_ev" "$peer_ev_s"
