#!/usr/bin/env bash
# The Stripe CLI's own trigger fixtures against `sluice emulate`: each fixture runs unchanged with
# `sluice trigger --fixture` on a fresh emulator, and passes when the emulator recorded the event
# the fixture is named for. Prints a line per fixture and the count. Loopback only.
# Usage: bench/cli_fixtures.sh DIR   where DIR holds the fixtures, e.g. a clone of
#   https://github.com/stripe/stripe-cli and DIR=stripe-cli/pkg/fixtures/triggers
# Names that are no event type: x.eu/x.gb are x made in another country, and the CLI's
# subscription.payment_succeeded/_failed make invoice.payment_succeeded/_failed.
set -uo pipefail
dir=${1:?usage: bench/cli_fixtures.sh FIXTURES_DIR}
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sluice-cli >/dev/null
bin=$PWD/build/sluice
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 n=0
for f in "$dir"/*.json; do
    ev=$(basename "$f" .json)
    ev=${ev%.eu}
    ev=${ev%.gb}
    case $ev in
    subscription.payment_succeeded) ev=invoice.payment_succeeded ;;
    subscription.payment_failed) ev=invoice.payment_failed ;;
    esac
    rm -f "$tmp/log"
    "$bin" emulate --listen 127.0.0.1:0 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 500); do grep -qs '"url"' "$tmp/log" && break; sleep 0.02; done
    url=$(grep -o '"url":"[^"]*"' "$tmp/log" | head -1 | cut -d'"' -f4)
    [ -n "$url" ] || { echo "sluice emulate did not start: $(cat "$tmp/log")" >&2; exit 1; }
    out=$(timeout 30 "$bin" trigger --fixture "$f" --api-key sk_test_x --base-url "$url" 2>&1)
    types=" $(curl -s -u sk_test_x: "$url/v1/events?limit=100" | jq -r '.data[].type' | sort -u | tr '\n' ' ')"
    kill "$pid"
    wait "$pid" 2>/dev/null
    pid=
    n=$((n + 1))
    if [[ $types == *" $ev "* ]]; then
        pass=$((pass + 1))
        echo "ok    $(basename "$f")"
    else
        echo "FAIL  $(basename "$f"): $(echo "$out" | tail -1 | cut -c1-200)"
    fi
done
echo "$pass of $n fixtures produced their event"
