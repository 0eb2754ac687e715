#!/usr/bin/env python3
"""A loopback stand-in for Stripe with one invoice whose 250 lines come in pages, for the sync
test of truncated embedded lists: GET /v1/account, GET /v1/invoices/in_big and
GET /v1/invoices/in_big/lines (limit, starting_after). Prints its port (127.0.0.1) first.

    paged_stripe.py
"""
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LINES = [{"id": "il_%03d" % i, "object": "line_item", "amount": 100 + i, "currency": "usd",
          "type": "invoiceitem", "livemode": False} for i in range(250)]
INVOICE = {"id": "in_big", "object": "invoice", "status": "open", "customer": "cus_big",
           "created": 1700000000, "livemode": False,
           "lines": {"object": "list", "data": LINES[:10], "has_more": True,
                     "url": "/v1/invoices/in_big/lines"}}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/v1/account":
            body = {"id": "acct_paged", "object": "account"}
        elif u.path == "/v1/invoices/in_big":
            body = INVOICE
        elif u.path == "/v1/invoices/in_big/lines":
            start = 0
            if "starting_after" in q:
                start = [l["id"] for l in LINES].index(q["starting_after"]) + 1
            n = int(q.get("limit", 10))
            page = LINES[start:start + n]
            body = {"object": "list", "data": page, "has_more": start + n < len(LINES),
                    "url": "/v1/invoices/in_big/lines"}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
