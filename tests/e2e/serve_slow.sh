#!/usr/bin/env bash
# `sluice serve` under a flood of slow clients keeps taking webhooks from everyone else:
# hundreds of connections from 127.0.0.1 trickling header bytes and slow uploads from
# 127.0.0.3 declaring 1 MiB bodies, while signed webhooks from 127.0.0.2 must each be accepted
# within 1 s and the server's memory stays bounded. The per-address cap refuses most of the
# flood at once; the header and request deadlines close the rest.
# Usage: serve_slow.sh SLUICE_BIN FAKE_STRIPE_BIN
set -uo pipefail
SLUICE=$1
FAKE=$2
KEY=sk_test_51HsecretsecretsecretsecretXYZ4f2a
SLOW="$(cd "$(dirname "$0")/../support" && pwd)/slow_clients.py"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

TRICKLE=400
UPLOADS=40
HEADER_S=2
REQUEST_S=4
FLOOD_S=8
CAP=64 # the default --max-conns-per-ip

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$serve_pid/status" 2>/dev/null || echo 0; }

add_shop
start_serve 127.0.0.1:0 --quiet --header-timeout "$HEADER_S" --request-timeout "$REQUEST_S"
[ -n "$SURL" ] || { echo "serve did not start: $(cat "$tmp/serve.log")"; exit 1; }
port=${SURL##*:}

begin "slow clients from 127.0.0.1 and 127.0.0.3; webhooks from 127.0.0.2 each within 1 s"
python3 "$SLOW" 127.0.0.1 "$port" "$FLOOD_S" --trickle "$TRICKLE" --trickle-from 127.0.0.1 \
    --upload "$UPLOADS" --upload-from 127.0.0.3 >"$tmp/flood.json" &
flood=$!
sleep 0.5
max_rss=0
max_body=0
slowest=0
n=0
end_at=$((SECONDS + FLOOD_S - 1))
while [ "$SECONDS" -lt "$end_at" ]; do
    n=$((n + 1))
    post "evt_slow_$n" --interface 127.0.0.2
    expect_code 200
    awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' || fail "webhook $n took ${secs} s"
    slowest=$(awk -v a="$slowest" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')
    r=$(rss_kb)
    [ "$r" -gt "$max_rss" ] && max_rss=$r
    b=$(curl -s --interface 127.0.0.2 "$SURL/metrics" | awk '/^sluice_http_body_bytes / { print $2 }')
    [ "${b:-0}" -gt "$max_body" ] && max_body=$b
    sleep 0.2
done
wait "$flood"
echo "  ($n webhooks from 127.0.0.2, the slowest answered in ${slowest} s; serve's RSS peaked at $((max_rss / 1024)) MB)"
[ "$n" -ge 10 ] || fail "only $n webhooks were sent during the flood"
[ "$max_rss" -gt 0 ] && [ "$max_rss" -lt $((100 * 1024)) ] || fail "serve's RSS reached $((max_rss / 1024)) MB"
# The uploads declared 1 MiB each but sent a few KiB: memory only for what arrived.
echo "  (at most $((max_body / 1024)) KiB held for $UPLOADS uploads declaring 1 MiB each)"
[ "$max_body" -gt 0 ] || fail "no body bytes seen in /metrics during the uploads"
[ "$max_body" -lt $((8 << 20)) ] || fail "$((max_body >> 20)) MiB held for bodies that had not arrived"
end

begin "the flood was capped per address and closed at the deadlines"
jq -r '"  (trickling: \([.trickle.closed_after[] | select(. != null and . < 1)] | length) refused at once, "
    + "the others closed after \([.trickle.closed_after[] | select(. != null and . >= 1)] | [min, max]) s; "
    + "uploads closed after \(.upload.closed_after | [min, max]) s)"' "$tmp/flood.json"
# Over the cap: refused at once. Within it: closed once the headers' deadline passed.
refused=$(jq '[.trickle.closed_after[] | select(. != null and . < 1)] | length' "$tmp/flood.json")
[ "$refused" -ge $((TRICKLE - CAP)) ] || fail "only $refused of $TRICKLE trickling connections were refused at once"
open=$(jq '[.trickle.closed_after[], .upload.closed_after[] | select(. == null)] | length' "$tmp/flood.json")
[ "$open" = 0 ] || fail "$open slow connections were still open after $FLOOD_S s"
late=$(jq --argjson h "$HEADER_S" '[.trickle.closed_after[] | select(. != null and . >= 1 and (. < $h or . > $h + 1.5))] | length' "$tmp/flood.json")
[ "$late" = 0 ] || fail "$late trickling connections were closed outside ${HEADER_S}-$((HEADER_S + 1)).5 s"
early=$(jq --argjson r "$REQUEST_S" '[.upload.closed_after[] | select(. != null and (. < $r or . > $r + 1.5))] | length' "$tmp/flood.json")
[ "$early" = 0 ] || fail "$early slow uploads were closed outside ${REQUEST_S}-$((REQUEST_S + 1)).5 s"
curl -s "$SURL/metrics" >"$tmp/metrics"
grep -q '^sluice_http_deadline_closed_total [1-9]' "$tmp/metrics" ||
    fail "no deadline closings in /metrics: $(grep deadline "$tmp/metrics")"
post evt_after_flood
expect_code 200
end

begin "a second client from 127.0.0.1 is served once the flood is gone"
post evt_after_flood_2
expect_code 200
stop_serve
[ "$serve_rc" = 0 ] || fail "serve exited $serve_rc"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
