#!/usr/bin/env bash
# The dashboard's API calls with a big store: bench/dashboard_bench fills SQLite (and, with
# --pg, a private PostgreSQL server started here) with N events and their N runs, then prints
# each call's p50 and p99 server time.
# Usage: bash bench/dashboard.sh [N] [--pg]      (N defaults to 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
pg=0
n=1000000
for a in "$@"; do
    if [ "$a" = --pg ]; then pg=1; else n=$a; fi
done
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target dashboard_bench >/dev/null
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
build/bench/dashboard_bench --store "sqlite:$db/bench.db" --events "$n"
if [ $pg = 1 ]; then
    echo
    bash tests/support/with-pg.sh bash -c \
        'exec build/bench/dashboard_bench --store "$SLUICE_TEST_PG" --events "$1"' _ "$n"
fi
