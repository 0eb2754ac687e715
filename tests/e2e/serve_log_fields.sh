#!/usr/bin/env bash
# Every rejection of `sluice serve` is logged as a JSON line with all its fields, even when the
# request's path is not UTF-8 (raw bytes, or escapes of bytes that are not UTF-8).
# Usage: serve_log_fields.sh SLUICE_BIN FAKE_STRIPE_BIN
set -uo pipefail
SLUICE=$1
FAKE=$2
KEY=sk_test_51HsecretsecretsecretsecretXYZ4f2a
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

# raw METHOD PATH: sends one request whose path holds the bytes of PATH as given (printf
# escapes), on a socket of its own; prints the status.
raw() {
    python3 - "$1" "$2" "${SURL#http://}" <<'PY'
import socket, sys
method, path, hostport = sys.argv[1], sys.argv[2].encode().decode('unicode_escape').encode('latin-1'), sys.argv[3]
host, port = hostport.rsplit(':', 1)
s = socket.create_connection((host, int(port)), timeout=5)
body = b'{"id":"evt_1","object":"event"}'
s.sendall(method.encode() + b' ' + path + b' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
          b'Stripe-Signature: t=1,v1=00\r\nContent-Type: application/json\r\n'
          b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)
data = b''
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b' ')[1].decode() if data else '000')
PY
}

# expect_line N REASON STATUS: the Nth "webhook rejected" line is JSON with every field.
expect_line() {
    local line
    line=$(grep '"webhook rejected"' "$tmp/serve.log" | sed -n "${1}p")
    [ -n "$line" ] || { fail "no rejection line $1 in the log"; return; }
    echo "$line" | jq -e --arg r "$2" --argjson s "$3" \
        '.reason == $r and .status == $s and .remote == "127.0.0.1" and (.connection | type == "string" and length > 0)' \
        >/dev/null || fail "rejection line $1 lacks fields: $line"
}

add_shop
start_serve 127.0.0.1:0
[ -n "$SURL" ] || { echo "serve did not start: $(cat "$tmp/serve.log")"; exit 1; }

begin "a path of raw bytes that are not UTF-8: the rejection line keeps its fields"
code=$(raw POST '/hooks/\xff\xfe\x80abc')
[ "$code" = 404 ] || fail "HTTP $code, wanted 404"
expect_line 1 unknown_connection 404
grep '"webhook rejected"' "$tmp/serve.log" | sed -n 1p | jq -e '.connection | test("abc$")' \
    >/dev/null || fail "the connection field lost its readable part"
end

begin "escaped bytes that are not UTF-8 (%FF%FE), with a wrong method too"
code=$(raw POST '/hooks/%FF%FEshop')
[ "$code" = 404 ] || fail "HTTP $code, wanted 404"
expect_line 2 unknown_connection 404
code=$(raw GET '/hooks/%C0%AF')
[ "$code" = 405 ] || fail "HTTP $code, wanted 405"
expect_line 3 method_not_allowed 405
end

begin "every line of the log is JSON"
stop_serve
# (but the admin token's line, shown once to the person starting serve)
grep -v '^sluice serve: ' "$tmp/serve.log" | jq -e . >/dev/null ||
    fail "a log line is not JSON: $(cat "$tmp/serve.log")"
end

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
