#!/usr/bin/env python3
"""`sluice mcp` given broken input: malformed JSON, wrong JSON-RPC, unknown methods, huge and
deeply nested lines, bad UTF-8. Each gets an error reply (or, for a notification, none), stdout
holds only JSON-RPC lines, the server keeps answering, and it exits at once at end of input.
Usage: mcp_malformed.py SLUICE_BIN"""
import json
import subprocess
import sys
import time

sluice = sys.argv[1]
MAX = 16384
lines = [
    (b'garbage{', -32700),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping"', -32700),
    (b'[]', -32600),
    (b'[{"jsonrpc":"2.0","id":2,"method":"ping"}]', -32600),
    (b'{"jsonrpc":"1.0","id":3,"method":"ping"}', -32600),
    (b'{"id":4,"method":"ping"}', -32600),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600),
    (b'{"jsonrpc":"2.0","id":5,"method":7}', -32600),
    (b'{"jsonrpc":"2.0","id":6,"method":"ping","params":"x"}', -32600),
    (b'{"jsonrpc":"2.0","id":7,"method":"no/such/method"}', -32601),
    (b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"find-customer","arguments":[1]}}', -32602),
    (b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"arguments":{}}}', -32602),
    (b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"nope"}}', -32602),
    (b'{"jsonrpc":"2.0","id":11,"method":"tools/list","params":{"cursor":"999999"}}', -32602),
    (b'{"jsonrpc":"2.0","id":12,"method":"ping","params":{"x":"' + b'a' * 200000 + b'"}}', -32600),
    (b'[' * 100000 + b']' * 100000, -32600),  # longer than MAX: skipped
    (b'[' * 3000 + b']' * 3000, -32700),  # within MAX, deeper than jansson's limit
    (b'{"jsonrpc":"2.0","id":13,"method":"ping","params":{"x":"\xff\xfe"}}', -32700),
    (b'{"jsonrpc":"2.0","id":14,"id":15,"method":"ping"}', -32700),
    (b'{"jsonrpc":"2.0","method":"notifications/whatever"}', None),  # a notification: no reply
    (b'{"jsonrpc":"2.0","result":{}, "id":"from-client"}', None),  # a response: no reply
    (b'', None),
    (b'   ', None),
    (b'{"jsonrpc":"2.0","id":"crlf","method":"ping"}\r', 0),
    (b'{"jsonrpc":"2.0","id":16,"method":"tools/call","params":{"name":"call_operation","arguments":{"operation":"customers.create","params":"x"}}}', 'isError'),
    (b'{"jsonrpc":"2.0","id":99,"method":"ping"}', 0),
]
proc = subprocess.Popen([sluice, 'mcp', '--api-key', 'sk_test_x', '--base-url', 'http://127.0.0.1:9',
                         '--max-message', str(MAX)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
start = time.monotonic()
out, err = proc.communicate(b''.join(l + b'\n' for l, _ in lines), timeout=60)
took = time.monotonic() - start
failed = 0


def check(ok, what):
    global failed
    print(('ok: ' if ok else 'FAIL: ') + what)
    failed += not ok


replies = []
for raw in out.split(b'\n'):
    if not raw:
        continue
    try:
        replies.append(json.loads(raw))
    except ValueError:
        check(False, 'stdout holds only JSON lines, not %r' % raw[:80])
expected = [want for _, want in lines if want is not None]
check(len(replies) == len(expected), '%d replies for %d answerable lines' % (len(replies), len(expected)))
for got, want in zip(replies, expected):
    if want == 0:
        check('result' in got, 'answered %s' % got.get('id'))
    elif want == 'isError':
        check(got.get('result', {}).get('isError') is True, 'tool error for bad params')
    else:
        code = got.get('error', {}).get('code')
        check(code == want, 'error %s (got %s: %s)' % (want, code, got.get('error', {}).get('message')))
check(replies and replies[-1].get('id') == 99, 'still answering after it all')
check(proc.returncode == 0, 'exit 0 at end of input (got %s)' % proc.returncode)
check(took < 10, 'exits promptly (%.2fs)' % took)
check(b'sluice mcp:' in err, 'logs on stderr')
sys.exit(1 if failed else 0)
