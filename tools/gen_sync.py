#!/usr/bin/env python3
"""Generates sluice's sync tables (src/sync/tables_data.c) from Stripe's OpenAPI description.

Usage: tools/gen_sync.py SPEC3_JSON [OUT_C]   (default: src/sync/tables_data.c)

One table for every object type that Stripe lists: each top-level list endpoint (GET on a
collection returning {object: list, data: [...]}, searches left out) and the lists nested under
one parent (/v1/invoices/{invoice}/lines, /v1/customers/{customer}/tax_ids, ...). The table is
named for the object type made plural (checkout.session: checkout_sessions); a few nested
item types get names that say whose items they are (invoice_line_items, checkout_line_items).
Each table gets a typed column for every top-level scalar field of its object (string,
integer, number, boolean, and references to other objects, kept as their id), its list path, whether
the list can be filtered by `created`, the path to retrieve one object, and for nested lists
the parent's path and the column that names the parent.

The same spec always gives the same bytes. Only the Python standard library is used.
"""
import json
import sys

# Item types whose plain plural would not say what they are.
NAMES = {
    "/v1/invoices/{invoice}/lines": "invoice_line_items",
    "/v1/checkout/sessions/{session}/line_items": "checkout_line_items",
    "/v1/subscription_items": "subscription_items",
    "invoiceitem": "invoice_items",
}
# Nested lists kept: the embedded lists Stripe truncates, and the ones the issue names.
NESTED = {
    "/v1/invoices/{invoice}/lines": ("invoices", "invoice"),
    "/v1/checkout/sessions/{session}/line_items": ("checkout_sessions", "checkout_session"),
    "/v1/customers/{customer}/tax_ids": ("customers", "customer"),
}
# Columns every table has; an object field of the same name stays in `data` only.
META = {"id", "account", "data", "deleted", "version", "event_id", "synced_at"}
# Foreign-key-like columns that get an index.
INDEXED = ["customer", "subscription", "invoice", "price", "product", "payment_intent", "charge",
           "checkout_session"]
KIND = {"string": 1, "integer": 2, "number": 3, "boolean": 4}


def deref(schemas, s):
    n = 0
    while isinstance(s, dict) and "$ref" in s and n < 20:
        s = schemas[s["$ref"].split("/")[-1]]
        n += 1
    return s


def plural(word):
    if word.endswith("s"):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def column_kind(schemas, s):
    """The kind of a top-level field as a typed column, or 0 when it is not a scalar."""
    s0 = s
    if "anyOf" in s:
        kinds = set()
        for alt in s["anyOf"]:
            if "$ref" in alt:
                t = deref(schemas, alt)
                # A reference (an expandable id, or an object of its own such as a line's
                # price): kept as the id.
                if "id" in t.get("properties", {}) and "object" in t.get("properties", {}):
                    kinds.add(1)
                    continue
                return 0
            k = KIND.get(alt.get("type"), 0)
            if not k:
                return 0
            kinds.add(k)
        return kinds.pop() if len(kinds) == 1 else 0
    s = deref(schemas, s0)
    if "$ref" in s0 and "id" in s.get("properties", {}) and "object" in s.get("properties", {}):
        return 1
    return KIND.get(s.get("type"), 0)


def main():
    spec = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else "src/sync/tables_data.c"
    doc = json.load(open(spec))
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    tables = {}
    retrieve = {}
    for p, ops in paths.items():
        g = ops.get("get")
        if not g:
            continue
        try:
            sch = deref(schemas, g["responses"]["200"]["content"]["application/json"]["schema"])
        except KeyError:
            continue
        props = sch.get("properties", {})
        # Retrieve: /v1/x/{id} whose answer is one object (or, once deleted, its stub).
        if p.endswith("}") and p.count("{") == 1:
            for alt in [sch] + [deref(schemas, a) for a in sch.get("anyOf", [])]:
                aprops = alt.get("properties", {})
                if "id" in aprops and "object" in aprops and "deleted" not in alt.get("required", []):
                    obj = aprops["object"].get("enum", [None])[0]
                    if obj and obj not in retrieve:
                        retrieve[obj] = p
                    break
        if p.endswith("/search") or "/upcoming/" in p or "/preview/" in p or "data" not in props or "has_more" not in props:
            continue
        item = deref(schemas, props["data"].get("items", {}))
        iprops = item.get("properties", {})
        if "id" not in iprops or "object" not in iprops or "enum" not in iprops["object"]:
            continue
        obj = iprops["object"]["enum"][0]
        required = [q["name"] for q in g.get("parameters", []) if q.get("required")]
        if "{" in p:
            if p not in NESTED:
                continue
            parent_table, parent_col = NESTED[p]
        else:
            parent_table, parent_col = "", ""
        name = NAMES.get(p) or NAMES.get(obj) or plural(obj.replace(".", "_"))
        created = any(q["name"] == "created" for q in g.get("parameters", []))
        cols = []
        for f in sorted(iprops):
            if f in META:
                continue
            k = column_kind(schemas, iprops[f])
            if k:
                cols.append((f, k))
        if parent_col and parent_col not in [c for c, _ in cols]:
            cols.append((parent_col, 1))
        t = dict(name=name, object=obj, list=p, created=created, parent=parent_table,
                 parent_col=parent_col, cols=cols,
                 listable=not required and "{" not in p)
        # One table per name; a top-level, listable path wins over others for the same name.
        old = tables.get(name)
        if old is None or (t["listable"] and not old["listable"]) or (
                t["listable"] == old["listable"] and p < old["list"]):
            tables[name] = t
    lines = []
    w = lines.append
    w("/* Generated by tools/gen_sync.py from Stripe's OpenAPI description. Do not edit. */")
    w("/* clang-format off */")
    w('#include "sync/tables.h"')
    w("")
    names = sorted(tables)
    for n in names:
        t = tables[n]
        w("static const sl_sync_col_t cols_%s[] = {" % n)
        for c, k in t["cols"]:
            w('    {"%s", %d, %d},' % (c, k, 1 if c in INDEXED else 0))
        w("};")
    w("")
    w("const sl_sync_table_t sl__sync_tables[] = {")
    for n in names:
        t = tables[n]
        w('    {"%s", "%s", "%s", "%s", "%s", "%s", %d, %d, cols_%s, %d},' % (
            n, t["object"], t["list"], retrieve.get(t["object"], ""), t["parent"],
            t["parent_col"], 1 if t["created"] else 0, 1 if t["listable"] else 0, n,
            len(t["cols"])))
    w("};")
    w("const size_t sl__sync_ntables = %d;" % len(names))
    open(out, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
