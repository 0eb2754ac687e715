#!/usr/bin/env bash
# A damaged SQLite file is not served: `sluice serve` runs a quick check at start and refuses a
# corrupt database with what to do, instead of taking webhooks into it.
# Usage: store_check.sh SLUICE_BIN
set -uo pipefail
SLUICE=$1
KEY=sk_test_store_check_000000000000000
source "$(dirname "$0")/lib.sh"
export SLUICE_DATA=$tmp/data
export SLUICE_MASTER_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SLUICE_ADMIN_TOKEN=test-admin-token-0123456789

begin "serve refuses a damaged database and says how to recover it"
run events list
expect_rc 0
# Enough rows for several pages of the events table, written by SQLite itself.
python3 - "$tmp/data/sluice.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO events (id, connection, type, created, received_ms, source, payload)"
               " VALUES (?, 'shop', 'invoice.paid', 1, ?, 'webhook', ?)",
               [("evt_%05d" % i, i, '{"pad":"%s"}' % ("x" * 300)) for i in range(2000)])
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 20 "$SLUICE" serve --listen "127.0.0.1:$port" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 400); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
curl -s "http://127.0.0.1:$port/healthz" | grep -q ok || fail "an intact database was not served"
kill "$pid"; wait "$pid" 2>/dev/null
# Scribble over the headers of pages in the middle of the file (not the file's header page).
python3 - "$tmp/data/sluice.db" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    for page in range(40, 200, 10):
        f.seek(4096 * page)
        f.write(bytes([0xA5, 0x17, 0xFF, 0x00] * 64))
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run serve --listen "127.0.0.1:$port"
expect_rc 1
expect_err "is damaged"
expect_err ".recover"
curl -s "http://127.0.0.1:$port/healthz" >/dev/null && fail "serve listened on a damaged database"
end

begin "serve logs readable lines with --log-format text, JSON lines otherwise"
rm -rf "$tmp/data2"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_DATA=$tmp/data2 timeout 3 "$SLUICE" serve --listen "127.0.0.1:$port" --log-format text 2>"$tmp/text.log"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ notice listening url=http://127.0.0.1:[0-9]+ ' "$tmp/text.log" ||
    fail "no readable listening line: $(head -2 "$tmp/text.log")"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_DATA=$tmp/data2 timeout 3 "$SLUICE" serve --listen "127.0.0.1:$port" 2>"$tmp/json.log"
grep '"listening"' "$tmp/json.log" | jq -e .url >/dev/null || fail "no JSON listening line when not a terminal"
run serve --log-format yaml
expect_rc 2
expect_err "--log-format is text, json or auto"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
