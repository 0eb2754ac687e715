#!/usr/bin/env python3
"""Fills `sluice emulate` with objects for the sync tests and benchmark, over one keep-alive
connection: N customers, M invoices of 3 lines each (finalized, so open), P products with a
price each, and S subscriptions to those prices, paid by a test card. Prints
{"customers": N, "invoices": M, "lines": 3M, "products": P, "subscriptions": S}.

Usage: sync_seed.py URL KEY CUSTOMERS INVOICES [PRODUCTS [SUBSCRIPTIONS]]
       sync_seed.py URL KEY --ids PATH   (prints the id of every object the list PATH gives)
"""
import http.client
import json
import sys
import urllib.parse

url, key = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
if sys.argv[3] == "--ids":
    after = None
    while True:
        q = "?limit=100" + ("&starting_after=" + after if after else "")
        conn.request("GET", sys.argv[4] + q, headers={"Authorization": "Bearer " + key})
        page = json.loads(conn.getresponse().read())
        for o in page["data"]:
            print(o["id"])
        if not page["has_more"] or not page["data"]:
            break
        after = page["data"][-1]["id"]
    sys.exit(0)
ncus, ninv = int(sys.argv[3]), int(sys.argv[4])
nprod = int(sys.argv[5]) if len(sys.argv) > 5 else 0
nsub = int(sys.argv[6]) if len(sys.argv) > 6 else 0


def post(path, **params):
    body = urllib.parse.urlencode(params)
    conn.request("POST", path, body, {"Authorization": "Bearer " + key,
                                      "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    data = json.loads(r.read())
    if r.status != 200:
        sys.exit("POST %s: %s %s" % (path, r.status, data))
    return data


customers = [post("/v1/customers", email="c%d@example.com" % i)["id"] for i in range(ncus)]
for i in range(ninv):
    cus = customers[i % len(customers)]
    inv = post("/v1/invoices", customer=cus)["id"]
    for k in range(3):
        post("/v1/invoiceitems", customer=cus, invoice=inv, amount=100 * (k + 1), currency="usd")
    post("/v1/invoices/%s/finalize" % inv)
prices = []
for i in range(nprod):
    prod = post("/v1/products", name="Product %d" % i)["id"]
    prices.append(post("/v1/prices", product=prod, unit_amount=1000 + i, currency="usd",
                       **{"recurring[interval]": "month"})["id"])
for i in range(nsub):
    cus = customers[i % len(customers)]
    pm = post("/v1/payment_methods/pm_card_visa/attach", customer=cus)["id"]
    post("/v1/subscriptions", customer=cus, default_payment_method=pm,
         **{"items[0][price]": prices[i % len(prices)]})
print(json.dumps({"customers": ncus, "invoices": ninv, "lines": 3 * ninv, "products": nprod,
                  "subscriptions": nsub}))
