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
    "$sluice" connect add "$c" --key "sk_test_$c" --base-url "$url" --data "$tmp/data" >/dev/null ||
        { echo "FAIL: connect add $c"; exit 1; }
done

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
