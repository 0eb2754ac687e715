#!/usr/bin/env bash
# Retries and replays from the CLI: `runs retry --failed [--flow] [--since]` puts every failed
# run back and runs them; with a `sluice serve` on the store, `runs retry ID` and
# `events replay ID` are run by serve with its settings, not the shell's that typed them.
# Usage: retry.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_retry_0000000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
python3 "$here/../support/http_sink.py" "$tmp/http.jsonl" >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do [ -s "$tmp/http.port" ] && break; sleep 0.05; done
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$here/../data/flows-retry
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
good=http://127.0.0.1:$(head -1 "$tmp/http.port")/tell
bad=http://127.0.0.1:9/down
calls() { wc -l <"$tmp/http.jsonl" | tr -d ' '; }

begin "runs retry --failed puts every failed run back and runs them"
for note in one two three; do
    SLUICE_FLOW_TELL_URL=$bad run flows run tell --input "{\"note\":\"$note\"}"
    expect_rc 1
done
run runs list --status failed --json
[ "$(jq length "$tmp/out")" = 3 ] || fail "$(jq length "$tmp/out") failed runs, wanted 3"
SLUICE_FLOW_TELL_URL=$good run runs retry --failed --flow tell --since 1h
expect_rc 0
expect_out "3 failed runs queued again of tell"
[ "$(calls)" = 3 ] || fail "$(calls) calls reached the receiver, wanted 3"
run runs list --status failed --json
[ "$(jq length "$tmp/out")" = 0 ] || fail "failed runs left"
run runs retry --failed --since 2999-01-01
expect_rc 0
expect_out "0 failed runs queued again"
run runs retry --failed --since yesterday
expect_rc 2
expect_err "--since takes"
end

begin "with sluice serve on the store, a retry runs with serve's settings"
SLUICE_FLOW_TELL_URL=$bad run flows run tell --input '{"note":"four"}'
expect_rc 1
id=$(grep -o 'run_[0-9a-f]*' "$tmp/out" | head -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_FLOW_TELL_URL=$good "$SLUICE" serve --listen "127.0.0.1:$port" 2>"$tmp/serve.log" &
serve=$!
pids+=($serve)
for _ in $(seq 400); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
sleep 1.2 # the keeper marks the store as served every second
before=$(calls)
SLUICE_FLOW_TELL_URL=$bad run runs retry "$id"
expect_rc 0
expect_out "sluice serve is running on this store"
expect_out "succeeded (attempt 2)"
[ "$(calls)" = $((before + 1)) ] || fail "the retry did not reach the receiver through serve"
end

begin "events replay: serve runs the event's flows again"
"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
for _ in $(seq 400); do grep -q '"url"' "$tmp/emu.log" && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
secret=whsec_retry_test_secret_0123456789
run connect add shop --key "$KEY" --webhook-secret "$secret" --base-url "$EMU"
expect_rc 0
t=$(date +%s)
body="{\"id\":\"evt_replay_1\",\"object\":\"event\",\"type\":\"invoice.paid\",\"created\":$t,\"livemode\":false,\"data\":{\"object\":{\"id\":\"in_1\",\"object\":\"invoice\"}}}"
sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //')
before=$(calls)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/hooks/shop" \
    -H "Stripe-Signature: t=$t,v1=$sig" -H 'Content-Type: application/json' --data "$body")
[ "$code" = 200 ] || fail "the webhook got $code"
for _ in $(seq 50); do [ "$(calls)" -gt "$before" ] && break; sleep 0.1; done
[ "$(calls)" = $((before + 1)) ] || fail "the event's flow did not run"
SLUICE_FLOW_TELL_URL=$bad run events replay evt_replay_1
expect_rc 0
expect_out "Queued run"
expect_out "of on-paid"
[ "$(calls)" = $((before + 2)) ] || fail "the replay did not reach the receiver through serve"
[ "$(grep -c evt_replay_1 "$tmp/http.jsonl")" = 2 ] || fail "the receiver did not get the event twice"
run events replay evt_nope
expect_rc 4
expect_err "no event"
kill "$serve"
wait "$serve" 2>/dev/null
# No serve now: the replay runs here, with this shell's settings.
SLUICE_FLOW_TELL_URL=$good run events replay evt_replay_1
expect_rc 0
[ "$(grep -c evt_replay_1 "$tmp/http.jsonl")" = 3 ] || fail "the replay did not run here"
end

begin "exit codes: not found is 4 everywhere; showing a failed run is no error"
run runs show run_nope
expect_rc 4
run runs retry run_nope
expect_rc 4
run flows run nope
expect_rc 4
run connect show nope
expect_rc 4
run events show evt_nope
expect_rc 4
SLUICE_FLOW_TELL_URL=$bad run flows run tell --input '{"note":"five"}'
expect_rc 1
id=$(grep -o 'run_[0-9a-f]*' "$tmp/out" | head -1)
run runs show "$id"
expect_rc 0
expect_out "failed"
end

begin "tables keep their columns with long names; one time format; the wait apart"
run flows list
expect_rc 0
col=$(head -1 "$tmp/out" | awk '{print index($0, "STATE")}')
awk -v c="$col" 'NR > 1 && substr($0, c, 7) != "enabled" && substr($0, c, 8) != "disabled" {bad = 1} END {exit bad}' "$tmp/out" ||
    fail "the STATE column moved: $(cat "$tmp/out")"
run flows run a-flow-with-a-name-longer-than-the-old-columns
expect_rc 0
expect_out "(waited "
run runs list
col=$(head -1 "$tmp/out" | awk '{print index($0, "STATUS")}')
awk -v c="$col" 'NR > 1 && substr($0, c, 6) != "succee" && substr($0, c, 6) != "failed" {bad = 1} END {exit bad}' "$tmp/out" ||
    fail "the STATUS column moved: $(head -4 "$tmp/out")"
grep -Eq '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC' "$tmp/out" || fail "runs list time format"
run events list
grep -Eq '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC' "$tmp/out" || fail "events list time format: $(head -2 "$tmp/out")"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
