#!/usr/bin/env bash
# `sluice mcp` with the official MCP SDK's client (tests/node/mcp_client.js) on `sluice emulate`,
# and the Inspector's CLI listing and calling a tool.
# Usage: mcp.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
sluice=$1
. "$(dirname "$0")/lib.sh"
start_emulator
url=$EMU_URL
[ -n "$url" ] || { echo "FAIL: the emulator did not start"; cat "$tmp/emu.log"; exit 1; }

# Two connections on the emulator and a manual flow, for the connection argument and the run tools.
mkdir -p "$tmp/data/flows"
printf 'name: hello\ntrigger: manual\nsteps:\n  - id: s\n    set: 1\n' >"$tmp/data/flows/hello.yaml"
for c in shop other; do
    "$sluice" connect add "$c" --key "sk_test_$c" --base-url "$url" --data "$tmp/data" \
        --webhook-secret whsec_mcp_test >/dev/null || { echo "FAIL: connect add $c"; exit 1; }
done

# For replay_event and retry_run: a flow on customer.created, and a manual one whose receiver
# fails its first request (so a run fails, and its retry succeeds); an event in the inbox, as
# Stripe would deliver it to a sluice serve.
python3 "$(dirname "$0")/../support/http_sink.py" "$tmp/sink.jsonl" --fail-first 1 >"$tmp/sink.port" &
sink_pid=$!
for _ in $(seq 400); do [ -s "$tmp/sink.port" ] && break; sleep 0.05; done
printf 'name: greet\nconnection: shop\ntrigger: customer.created\nsteps:\n  - id: s\n    set: "{{ $.trigger.id }}"\n' \
    >"$tmp/data/flows/greet.yaml"
printf 'name: flaky\ntrigger: manual\nsteps:\n  - id: tell\n    http: {method: POST, url: "http://127.0.0.1:%s/tell"}\n    retry: {attempts: 1}\n' \
    "$(head -1 "$tmp/sink.port")" >"$tmp/data/flows/flaky.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_ADMIN_TOKEN=mcp-test-token-0123456789 "$sluice" serve --listen "127.0.0.1:$port" \
    --admin-listen off --data "$tmp/data" 2>"$tmp/serve.log" &
serve_pid=$!
for _ in $(seq 400); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
"$sluice" trigger customer.created --to "http://127.0.0.1:$port/hooks/shop" --secret whsec_mcp_test \
    >/dev/null || { echo "FAIL: the event was not delivered"; cat "$tmp/serve.log"; exit 1; }
kill "$serve_pid"; wait "$serve_pid"
extra_cleanup() { kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; }

node "$(dirname "$0")/../node/mcp_client.js" "$sluice" "$url" "$tmp/data"
rc=$?

# The Inspector's CLI: list the tools, call one. (It reads its own package.json by a path relative
# to the working directory, hence the cd.)
build="$(cd "$(dirname "$0")/../node" && pwd)/node_modules/@modelcontextprotocol/inspector-cli/build"
inspect() { (cd "$build" && node index.js "$sluice" mcp --api-key sk_test_insp --base-url "$url" "$@" 2>&1); }
out=$(inspect --method tools/list)
if grep -q '"find-customer"' <<<"$out"; then echo "ok: inspector lists the tools"; else
    echo "FAIL: inspector tools/list: ${out:0:400}"; rc=1; fi
out=$(inspect --method tools/call --tool-name create-customer --tool-arg email=insp@example.com)
if grep -q '"email": "insp@example.com"' <<<"$out"; then echo "ok: inspector calls a tool"; else
    echo "FAIL: inspector tools/call: ${out:0:400}"; rc=1; fi
exit $rc
