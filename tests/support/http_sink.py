#!/usr/bin/env python3
"""A loopback HTTP receiver for sluice's tests: answers 200 to every request and appends one
JSON line per request (method, path, headers, body parsed as JSON when it is) to a file.

    http_sink.py OUT.jsonl [--fail-first N] [--delay-ms MS]

Prints the port it listens on (127.0.0.1, chosen by the system) as the first line on stdout.
--fail-first N answers the first N requests with 503, to exercise retries; --delay-ms MS waits
that long before answering each request.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import time

out_path = sys.argv[1]
opts = dict(zip(sys.argv[2::2], sys.argv[3::2]))
fail_first = int(opts.get("--fail-first", 0))
delay = int(opts.get("--delay-ms", 0)) / 1000.0
lock = threading.Lock()
seen = [0]


class Handler(BaseHTTPRequestHandler):
    def handle_any(self):
        if delay:
            time.sleep(delay)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with lock:
            seen[0] += 1
            failing = seen[0] <= fail_first
            with open(out_path, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "headers": dict(self.headers), "body": body,
                                    "answered": 503 if failing else 200}) + "\n")
        try:
            self.send_response(503 if failing else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')
        except OSError:
            pass  # the client went away (the crash test kills it)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
