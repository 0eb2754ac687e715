#!/usr/bin/env bash
# Secrets never reach run history: a flow puts a SLUICE_FLOW_* token in a header, a body and a
# set step, and a URL carries a password. The receiving server gets the real values; `runs show`,
# GET /api/runs/ID and the database file hold none of them.
# Usage: secrets.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_secrets_00000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
python3 "$here/../support/http_sink.py" "$tmp/http.jsonl" >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do [ -s "$tmp/http.port" ] && break; sleep 0.05; done
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$here/../data/flows-secrets
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
export SLUICE_FLOW_HOOK_URL=http://127.0.0.1:$(head -1 "$tmp/http.port")/hook
token=tok_live_9f8e7d6c5b4a3210
export SLUICE_FLOW_PARTNER_TOKEN=$token
down_secret=down-secret-4f2a9c
export SLUICE_FLOW_DOWN_URL="http://127.0.0.1:9/hook?key=$down_secret"

begin "a token from the environment is sent, and recorded nowhere"
run flows run call-partner
expect_rc 0
id=$(grep -o 'run_[0-9a-f]*' "$tmp/out" | head -1)
grep -q "Bearer $token" "$tmp/http.jsonl" || fail "the partner did not get the real token"
grep -q "key=$token" "$tmp/http.jsonl" || fail "the body did not carry the real token"
grep -q "hunter2-long-password" "$tmp/http.jsonl" || fail "the body did not carry the URL as written"
run runs show "$id" --json --full
expect_rc 0
cp "$tmp/out" "$tmp/show.json"
grep -q "$token" "$tmp/show.json" && fail "runs show prints the token"
grep -q "hunter2-long-password" "$tmp/show.json" && fail "runs show prints the URL's password"
grep -q 'redacted $.env.SLUICE_FLOW_PARTNER_TOKEN' "$tmp/show.json" || fail "no redaction mark in the record"
[ "$(jq -r '.steps[0].input.headers.Authorization' "$tmp/show.json")" = "[redacted]" ] ||
    fail "the Authorization header is not redacted: $(jq -c '.steps[0].input.headers' "$tmp/show.json")"
run runs show "$id"
grep -q "$token" "$tmp/out" && fail "the debug view prints the token"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SLUICE" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" 2>"$tmp/serve.log" &
pids+=($!)
for _ in $(seq 400); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
curl -s -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "http://127.0.0.1:$admin_port/api/runs/$id" >"$tmp/api.json"
jq -e '.steps | length == 2' "$tmp/api.json" >/dev/null || fail "the API did not return the run: $(head -c 300 "$tmp/api.json")"
grep -q "$token" "$tmp/api.json" && fail "GET /api/runs/ID returns the token"
grep -q "$token" "$tmp/serve.log" && fail "the log holds the token"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null
for f in "$tmp"/data/sluice.db*; do
    grep -aq "$token" "$f" && fail "$(basename "$f") holds the token"
    grep -aq "hunter2-long-password" "$f" && fail "$(basename "$f") holds the URL's password"
done
end

begin "a failed step's error, and the run's, are recorded without the secret it quotes"
run flows run call-down
expect_rc 1
id=$(grep -o 'run_[0-9a-f]*' "$tmp/out" | head -1)
run runs show "$id" --json --full
jq -e '.status == "failed" and (.error | length > 0)' "$tmp/out" >/dev/null || fail "not a failed run: $(head -c 300 "$tmp/out")"
grep -q "$down_secret" "$tmp/out" && fail "the run's record quotes the secret: $(jq -c '{error, e: .steps[0].error}' "$tmp/out")"
grep -q 'redacted $.env.SLUICE_FLOW_DOWN_URL' "$tmp/out" || fail "no redaction mark: $(jq -c .error "$tmp/out")"
for f in "$tmp"/data/sluice.db*; do
    grep -aq "$down_secret" "$f" && fail "$(basename "$f") holds the secret"
done
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
