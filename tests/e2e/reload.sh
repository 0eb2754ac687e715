#!/usr/bin/env bash
# Flow files reload without a restart: serve notices a changed, added or broken file within
# seconds (and reloads on SIGHUP); new events run the new versions; a file that no longer loads
# keeps its last good version, and the log and GET /api/flows say so.
# Usage: reload.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_reload_0000000000000000000000
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
pids=()
extra_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
"$SLUICE" emulate --listen 127.0.0.1:0 2>"$tmp/emu.log" &
pids+=($!)
python3 "$here/../support/http_sink.py" "$tmp/http.jsonl" >"$tmp/http.port" &
pids+=($!)
for _ in $(seq 400); do grep -q '"url"' "$tmp/emu.log" && [ -s "$tmp/http.port" ] && break; sleep 0.05; done
EMU=$(grep -o '"url":"[^"]*"' "$tmp/emu.log" | head -1 | cut -d'"' -f4)
export SLUICE_DATA=$tmp/data SLUICE_FLOWS=$tmp/flows
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789
export SLUICE_FLOW_TELL_URL=http://127.0.0.1:$(head -1 "$tmp/http.port")/tell
secret=whsec_reload_test_secret_0123456789
mkdir -p "$tmp/flows"
paid() { # VERSION: the invoice.paid flow, telling which version ran
    cat >"$tmp/flows/paid.yaml" <<YAML
name: paid
connection: shop
trigger: invoice.paid
steps:
  - id: tell
    http:
      url: "{{ \$.env.SLUICE_FLOW_TELL_URL }}"
      method: POST
      body: {version: "$1", event: "{{ \$.trigger.id }}"}
YAML
}
paid v1
"$SLUICE" connect add shop --key "$KEY" --webhook-secret "$secret" --base-url "$EMU" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADMIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SLUICE" serve --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" 2>"$tmp/serve.log" &
serve=$!
pids+=($serve)
for _ in $(seq 200); do grep -q '"listening"' "$tmp/serve.log" && break; sleep 0.05; done
api() { curl -s -H "Authorization: Bearer $SLUICE_ADMIN_TOKEN" "http://127.0.0.1:$ADMIN_PORT/api/$1"; }
post() { signed_post "http://127.0.0.1:$PORT/hooks/shop" "$secret" "$1" "$2"; } # TYPE ID
told() { # VERSION EVENT: waits up to 5 s for the receiver to hear it
    for _ in $(seq 50); do
        grep -q "\"version\": *\"$1\", *\"event\": *\"$2\"" "$tmp/http.jsonl" 2>/dev/null && return 0
        grep -q "\"$2\"" "$tmp/http.jsonl" 2>/dev/null && grep "\"$2\"" "$tmp/http.jsonl" | grep -q "\"$1\"" && return 0
        sleep 0.1
    done
    return 1
}
flows_now() { api flows | jq -r '[.flows[].name] | sort | join(",")'; }
wait_flows() { # WANTED: up to 6 s for /api/flows to list exactly these
    for _ in $(seq 60); do [ "$(flows_now)" = "$1" ] && return 0; sleep 0.1; done
    return 1
}

begin "a changed file takes effect for new events, without a restart"
[ "$(post invoice.paid evt_r1)" = 200 ] || fail "webhook refused"
told v1 evt_r1 || fail "v1 did not run"
sleep 1.1 # file times have a resolution; a change within the same instant must still show
paid v2
for _ in $(seq 60); do grep -q '"flows reloaded"' "$tmp/serve.log" && break; sleep 0.1; done
grep -q '"flows reloaded"' "$tmp/serve.log" || fail "no reload logged"
[ "$(post invoice.paid evt_r2)" = 200 ] || fail "webhook refused"
told v2 evt_r2 || fail "the new version did not run"
end

begin "an added file is picked up; a removed one is gone"
cat >"$tmp/flows/created.yaml" <<'YAML'
name: created
connection: shop
trigger: customer.created
steps:
  - id: tell
    http: {url: "{{ $.env.SLUICE_FLOW_TELL_URL }}", method: POST, body: {version: created, event: "{{ $.trigger.id }}"}}
YAML
wait_flows created,paid || fail "the added flow is not listed: $(flows_now)"
[ "$(post customer.created evt_r3)" = 200 ] || fail "webhook refused"
told created evt_r3 || fail "the added flow did not run"
rm "$tmp/flows/created.yaml"
wait_flows paid || fail "the removed flow is still listed: $(flows_now)"
end

begin "a file that no longer loads keeps its last good version, and says so"
printf 'name: paid\ntrigger: [unclosed\n' >"$tmp/flows/paid.yaml"
for _ in $(seq 60); do api flows | jq -e '.load_errors | length > 0' >/dev/null 2>&1 && break; sleep 0.1; done
api flows | jq -e '.load_errors[0] | test("paid.yaml")' >/dev/null || fail "the API does not name the broken file: $(api flows | head -c 300)"
grep -q 'does not load' "$tmp/serve.log" || fail "the log does not say the file is broken"
[ "$(flows_now)" = paid ] || fail "the broken flow's last good version is gone: $(flows_now)"
[ "$(post invoice.paid evt_r4)" = 200 ] || fail "webhook refused"
told v2 evt_r4 || fail "the last good version did not run"
end

begin "SIGHUP reloads"
paid v3
kill -HUP "$serve"
for _ in $(seq 60); do [ "$(grep -c '"flows reloaded"' "$tmp/serve.log")" -ge 4 ] && break; sleep 0.1; done
[ "$(post invoice.paid evt_r5)" = 200 ] || fail "webhook refused"
told v3 evt_r5 || fail "v3 did not run after SIGHUP"
kill -0 "$serve" 2>/dev/null || fail "SIGHUP stopped serve"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
