#!/usr/bin/env python3
"""Generates sluice's Stripe operation catalog from Stripe's OpenAPI description.

Usage: tools/gen_catalog.py SPEC3_JSON [OUT_C] [OUT_EXAMPLES_JSON] [OUT_FIXTURES_C]
       (defaults: src/stripe/catalog_data.c, tests/data/catalog_examples.json,
        src/emulator/fixtures_data.c; the last from fixtures3.json beside the spec)

It writes:
- OUT_C: every operation (friendly name, method, path, path parameters, query or body
  parameters as a deduplicated tree of shapes, summary, response type) and every webhook event
  type, as compact C tables (one string blob addressed by offsets, so no relocations);
- OUT_EXAMPLES_JSON: one example call per operation, with its required parameters filled with
  values of the right type, for the test that routes every operation through a fake server;
- OUT_FIXTURES_C: Stripe's example object of every resource (fixtures3.json), the templates the
  emulator builds objects and sample events from.

The same spec always gives the same bytes. Only the Python standard library is used.

Friendly names follow the official SDKs: resource path segments joined by dots, then the
method. Paths ending in an id are retrieve/update/delete; collections are list/create; a POST
to a sub-path that returns the parent's own type is an action named by that sub-path
(`invoices.finalize`, `payment_intents.confirm`); one returning another type creates a nested
resource (`accounts.login_links.create`).
"""
import html
import json
import re
import sys

KIND = {"string": 1, "integer": 2, "number": 4, "boolean": 8, "object": 16, "array": 32}
FLAG_OPEN = 1      # object accepting any keys (metadata)
FLAG_EMPTY_OK = 2  # "" is accepted (Stripe's way to unset a field)
NONE = 0xFFFFFFFF
METHODS = {"get": 0, "post": 1, "delete": 2}

# Names that the SDKs and Stripe's docs use instead of the generic rule.
NAME_OVERRIDES = {
    ("delete", "/v1/subscriptions/{subscription_exposed_id}"): "subscriptions.cancel",
}


def first_sentence(text, cap=200):
    if not text:
        return ""
    t = re.sub(r"<[^>]+>", "", text)
    t = html.unescape(t)
    t = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", t)  # Markdown links keep their text
    t = re.sub(r"\s+", " ", t).strip()
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z`(])", t)
    if m:
        t = t[: m.start()]
    if len(t) > cap:
        cut = t.rfind(" ", 0, cap - 1)
        t = t[: cut if cut > 0 else cap - 1] + "\u2026"
    return t


class Spec:
    def __init__(self, doc):
        self.doc = doc
        self.paths = doc["paths"]
        self.schemas = doc["components"]["schemas"]

    def deref(self, s):
        seen = 0
        while isinstance(s, dict) and "$ref" in s and seen < 20:
            s = self.schemas[s["$ref"].split("/")[-1]]
            seen += 1
        return s

    def response_schema(self, op):
        try:
            return op["responses"]["200"]["content"]["application/json"]["schema"]
        except KeyError:
            return None

    def type_name(self, s):
        """A short name of the object a schema describes."""
        if s is None:
            return ""
        if "$ref" in s:
            return s["$ref"].split("/")[-1]
        if "anyOf" in s:
            return " | ".join(self.type_name(v) for v in s["anyOf"])
        props = s.get("properties", {})
        if "object" in props and "data" in props:
            kind = "search_result" if "search_result" in props["object"].get("enum", []) else "list"
            return "%s of %s" % (kind, self.type_name(props["data"].get("items")))
        return s.get("type", "")

    def response_type(self, op):
        return self.type_name(self.response_schema(op))

    def returns_list(self, op):
        t = self.response_type(op)
        return t.startswith("list of ") or t.startswith("search_result of ")


def is_param(seg):
    return seg.startswith("{")


def shape_of_path(path):
    """The path with parameter names erased: /v1/fees/{id} and /v1/fees/{fee} are one place."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def resource(path):
    return ".".join(s for s in path.split("/")[2:] if not is_param(s))


def op_name(spec, path, method):
    if (method, path) in NAME_OVERRIDES:
        return NAME_OVERRIDES[(method, path)]
    methods = spec.paths[path]
    op = methods[method]
    segs = path.split("/")
    last, parent = segs[-1], "/".join(segs[:-1])
    norm = shape_of_path(path)
    has_child = any(
        shape_of_path(p) == norm + "/{}" for p in spec.paths
    )
    if is_param(last):
        return resource(path) + "." + {"get": "retrieve", "post": "update", "delete": "delete"}[method]
    if last == "search" and method == "get":
        return resource(parent) + ".search"
    if has_child or spec.returns_list(op):
        return resource(path) + "." + {"get": "list", "post": "create", "delete": "delete"}[method]
    parent_is_resource = parent in spec.paths or is_param(parent.split("/")[-1])
    if method == "post" and "get" not in methods and parent_is_resource:
        parent_type = ""
        if parent in spec.paths:
            pm = spec.paths[parent]
            pop = pm.get("get") or pm.get("post")
            if pop:
                parent_type = spec.response_type(pop)
        mine = spec.response_type(op)
        if parent_type and mine and "|" not in parent_type + mine and parent_type != mine:
            return resource(path) + ".create"
        return resource(parent) + "." + last
    if method == "get" and parent in spec.paths and any(
        shape_of_path(p) == shape_of_path(parent) + "/{}" for p in spec.paths
    ):
        return resource(parent) + "." + last
    verb = {"get": "retrieve", "post": "update" if "get" in methods else "create", "delete": "delete"}
    return resource(path) + "." + verb[method]


class Tables:
    """Interned strings, shapes, field lists and enum lists."""

    def __init__(self):
        self.blob = bytearray()
        self.str_off = {}
        self.shapes = []
        self.shape_idx = {}
        self.fields = []
        self.field_lists = {}
        self.enums = []
        self.enum_lists = {}

    def s(self, text):
        if text not in self.str_off:
            self.str_off[text] = len(self.blob)
            self.blob += text.encode("utf-8") + b"\0"
        return self.str_off[text]

    def enum_list(self, values):
        key = tuple(values)
        if not key:
            return 0
        if key not in self.enum_lists:
            self.enum_lists[key] = len(self.enums)
            self.enums.extend(self.s(v) for v in key)
        return self.enum_lists[key]

    def field_list(self, fields):
        key = tuple(fields)
        if not key:
            return 0
        if key not in self.field_lists:
            self.field_lists[key] = len(self.fields)
            self.fields.extend(key)
        return self.field_lists[key]

    def shape(self, kinds, flags, fields, enums, items, max_len):
        f = self.field_list(fields)
        e = self.enum_list(enums)
        key = (kinds, flags, f, len(fields), e, len(enums), items, max_len)
        if key not in self.shape_idx:
            self.shape_idx[key] = len(self.shapes)
            self.shapes.append(key)
        return self.shape_idx[key]


class Builder:
    def __init__(self, spec, tables):
        self.spec = spec
        self.t = tables

    def collect(self, s, acc, depth):
        """Flattens anyOf variants into kinds, flags, properties, required, enums, items."""
        s = self.spec.deref(s)
        if depth > 40 or not isinstance(s, dict):
            return
        if "anyOf" in s or "oneOf" in s:
            for v in s.get("anyOf", []) + s.get("oneOf", []):
                self.collect(v, acc, depth + 1)
            return
        enum = s.get("enum")
        typ = s.get("type")
        if enum == [""] and typ in (None, "string"):
            acc["flags"] |= FLAG_EMPTY_OK
            return
        if typ in KIND:
            acc["kinds"] |= KIND[typ]
        elif "properties" in s:
            acc["kinds"] |= KIND["object"]
        if enum:
            for v in enum:
                if v == "":
                    acc["flags"] |= FLAG_EMPTY_OK
                elif isinstance(v, str) and v not in acc["enums"]:
                    acc["enums"].append(v)
        if typ == "object" or "properties" in s:
            for name, sub in s.get("properties", {}).items():
                acc["props"].setdefault(name, []).append(sub)
            # A field is required only when every object variant requires it (card[token] or
            # card[number] with its expiry: neither alone is required).
            acc["required_sets"].append(set(s.get("required", [])))
            ap = s.get("additionalProperties")
            if ap not in (None, False) or ("properties" not in s and ap is None):
                acc["flags"] |= FLAG_OPEN
        if typ == "array" and "items" in s:
            acc["items"].append(s["items"])
        if isinstance(s.get("additionalProperties"), dict):
            acc["values"].append(s["additionalProperties"])
        if typ == "string" and isinstance(s.get("maxLength"), int):
            acc["max_len"] = max(acc["max_len"], min(s["maxLength"], 65535))
        if not acc["desc"] and s.get("description"):
            acc["desc"] = first_sentence(s["description"])

    def shape_of(self, schemas, depth=0):
        acc = {"kinds": 0, "flags": 0, "props": {}, "required_sets": [], "enums": [],
               "items": [], "values": [], "max_len": 0, "desc": ""}
        for s in schemas:
            self.collect(s, acc, depth)
        acc["required"] = (set.intersection(*acc["required_sets"]) if acc["required_sets"]
                           else set())
        fields = []
        if depth < 12:
            for name in sorted(acc["props"]):
                subs = acc["props"][name]
                sub_shape = self.shape_of(subs, depth + 1)
                desc = ""
                for sub in subs:
                    d = self.spec.deref(sub).get("description") if isinstance(sub, dict) else None
                    if d:
                        desc = first_sentence(d)
                        break
                fields.append((self.t.s(name), self.t.s(desc), sub_shape,
                               1 if name in acc["required"] else 0))
        items = self.shape_of(acc["items"], depth + 1) if acc["items"] else NONE
        if (items == NONE and acc["values"] and not acc["kinds"] & KIND["array"]
                and depth < 12):
            # An open object's values (currency_options[eur]): kept where an array's items are.
            items = self.shape_of(acc["values"], depth + 1)
        if acc["kinds"] == 0 and acc["flags"] & FLAG_EMPTY_OK == 0:
            acc["kinds"] = 63  # untyped: anything goes
        # A string's maxLength, when a string variant declares one (0: none).
        max_len = acc["max_len"] if acc["kinds"] & KIND["string"] else 0
        return self.t.shape(acc["kinds"], acc["flags"], fields, acc["enums"], items, max_len)


def example_value(spec_shapes, tables, shape_idx, name, depth=0):
    kinds, flags, f, nf, e, ne, items, _ = spec_shapes[shape_idx]
    if ne:
        return tables["enum_values"][e]
    if kinds & KIND["object"] and depth < 8:
        out = {}
        fields = tables["fields"][f: f + nf]
        req = [x for x in fields if x[3]] or fields[:1]
        for fname, _, fshape, _ in req:
            out[tables["names"][fname]] = example_value(spec_shapes, tables, fshape,
                                                        tables["names"][fname], depth + 1)
        if not out and flags & FLAG_OPEN:
            out = {"key": "value"}
        return out
    if kinds & KIND["array"] and items != NONE:
        return [example_value(spec_shapes, tables, items, name, depth + 1)]
    if kinds & KIND["string"]:
        return "example_" + name
    if kinds & KIND["integer"]:
        return 1
    if kinds & KIND["number"]:
        return 1.5
    if kinds & KIND["boolean"]:
        return True
    return ""


def c_string(data):
    out = []
    line = '    "'
    for b in data:
        if b == 0:
            piece = "\\000"
        elif b in (34, 92):
            piece = "\\" + chr(b)
        elif 32 <= b < 127 and chr(b) != "?":
            piece = chr(b)
        else:
            piece = "\\%03o" % b
        line += piece
        if len(line) > 96 and b == 0:
            out.append(line + '"')
            line = '    "'
    if line != '    "':
        out.append(line + '"')
    return "\n".join(out)


def event_description(name):
    if name == "*":
        return "Every event type (Stripe's wildcard for webhook endpoints)."
    parts = name.split(".")
    obj = " ".join(p.replace("_", " ") for p in parts[:-1])
    action = parts[-1].replace("_", " ")
    text = "%s %s." % (obj, action)
    return text[0].upper() + text[1:]


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    spec_path = sys.argv[1]
    out_c = sys.argv[2] if len(sys.argv) > 2 else "src/stripe/catalog_data.c"
    out_ex = sys.argv[3] if len(sys.argv) > 3 else "tests/data/catalog_examples.json"
    out_fx = sys.argv[4] if len(sys.argv) > 4 else "src/emulator/fixtures_data.c"
    with open(spec_path, encoding="utf-8") as f:
        spec = Spec(json.load(f))
    t = Tables()
    t.s("")
    b = Builder(spec, t)

    ops = []
    for path in sorted(spec.paths):
        for method in ("get", "post", "delete"):
            op = spec.paths[path].get(method)
            if not op:
                continue
            name = op_name(spec, path, method)
            path_fields, query_schemas = [], {"type": "object", "properties": {}, "required": []}
            for p in op.get("parameters", []):
                p = spec.deref(p)
                if p["in"] == "path":
                    path_fields.append((t.s(p["name"]), t.s(first_sentence(p.get("description"))),
                                        b.shape_of([p.get("schema", {"type": "string"})]), 1))
                elif p["in"] == "query":
                    sch = dict(spec.deref(p.get("schema", {})))
                    if p.get("description"):
                        sch["description"] = p["description"]
                    query_schemas["properties"][p["name"]] = sch
                    if p.get("required"):
                        query_schemas["required"].append(p["name"])
            if method == "post":
                body = op.get("requestBody", {}).get("content", {})
                form = body.get("application/x-www-form-urlencoded") or body.get(
                    "multipart/form-data") or {}
                params_schema = form.get("schema", {"type": "object", "properties": {}})
            else:
                params_schema = query_schemas
            params_schema = dict(spec.deref(params_schema))
            params_schema["additionalProperties"] = False
            params_shape = b.shape_of([params_schema])
            # Path parameters keep the order they have in the path.
            order = re.findall(r"\{([^}]+)\}", path)
            path_fields.sort(key=lambda x: order.index(t.blob[x[0]:t.blob.index(0, x[0])].decode()))
            ops.append({
                "name": name, "method": method, "path": path,
                "summary": first_sentence(op.get("description") or op.get("summary")),
                "response": spec.response_type(op), "path_fields": path_fields,
                "params": params_shape,
            })

    names = [o["name"] for o in ops]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        sys.stderr.write("gen_catalog: duplicate operation names: %s\n" % ", ".join(dups))
        return 1
    ops.sort(key=lambda o: o["name"])

    events = spec.paths["/v1/webhook_endpoints"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["schema"]["properties"]["enabled_events"]["items"][
        "enum"]
    events = sorted(events)

    op_rows = []
    for o in ops:
        pf = t.field_list(o["path_fields"])
        op_rows.append((t.s(o["name"]), METHODS[o["method"]], t.s(o["path"]), t.s(o["summary"]),
                        t.s(o["response"]), pf, len(o["path_fields"]), o["params"]))
    ev_rows = [(t.s(e), t.s(event_description(e))) for e in events]

    version = spec.doc["info"]["version"]
    lines = [
        "// clang-format off\n/* Generated by tools/gen_catalog.py from Stripe's OpenAPI description (API version %s)."
        % version,
        " * Do not edit: regenerate with `tools/gen_catalog.py PATH/TO/spec3.json`. */",
        '#include "stripe/catalog.h"',
        "",
        'const char sl__cat_api_version[] = "%s";' % version,
        "",
        "const char sl__cat_str[%d] =" % len(t.blob),
        c_string(bytes(t.blob)) + ";",
        "",
        "const sl_cat_shape_t sl__cat_shapes[%d] = {" % len(t.shapes),
    ]
    for kinds, flags, f, nf, e, ne, items, max_len in t.shapes:
        lines.append("    {%d, %d, %d, %d, %d, %d, %s, %d}," % (
            kinds, flags, nf, ne, f, e, "SL_CAT_NONE" if items == NONE else str(items), max_len))
    lines.append("};")
    lines.append("")
    lines.append("const sl_cat_field_t sl__cat_fields[%d] = {" % max(1, len(t.fields)))
    for name, desc, shape, req in t.fields or [(0, 0, 0, 0)]:
        lines.append("    {%d, %d, %d, %d}," % (name, desc, shape, req))
    lines.append("};")
    lines.append("")
    lines.append("const uint32_t sl__cat_enums[%d] = {" % max(1, len(t.enums)))
    for i in range(0, len(t.enums), 10):
        lines.append("    " + " ".join("%d," % x for x in t.enums[i: i + 10]))
    lines.append("};")
    lines.append("")
    lines.append("const sl_cat_op_t sl__cat_ops[%d] = {" % len(op_rows))
    for r in op_rows:
        lines.append("    {%d, %d, %d, %d, %d, %d, %d, %d}," % r)
    lines.append("};")
    lines.append("const size_t sl__cat_nops = %d;" % len(op_rows))
    lines.append("")
    lines.append("const sl_cat_event_t sl__cat_events[%d] = {" % len(ev_rows))
    for r in ev_rows:
        lines.append("    {%d, %d}," % r)
    lines.append("};")
    lines.append("const size_t sl__cat_nevents = %d;" % len(ev_rows))
    with open(out_c, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")

    # Example calls: required parameters filled with values of the right type.
    blob = bytes(t.blob)
    str_at = {off: s for s, off in t.str_off.items()}
    enum_first = {}
    for key, start in t.enum_lists.items():
        enum_first[start] = key[0]
    tabs = {"fields": t.fields, "names": str_at, "enum_values": enum_first}
    examples = []
    for o in ops:
        params = {}
        path = o["path"]
        for fname, _, _, _ in o["path_fields"]:
            n = str_at[fname]
            value = "ex_" + n
            params[n] = value
            path = path.replace("{%s}" % n, value)
        kinds, flags, f, nf, e, ne, items, _ = t.shapes[o["params"]]
        for fname, _, fshape, req in t.fields[f: f + nf]:
            if req:
                n = str_at[fname]
                params[n] = example_value(t.shapes, tabs, fshape, n)
        examples.append({"name": o["name"], "method": o["method"].upper(), "path": path,
                         "params": params})
    with open(out_ex, "w", encoding="utf-8", newline="\n") as f:
        json.dump(examples, f, indent=1, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    import os
    fx_path = os.path.join(os.path.dirname(os.path.abspath(spec_path)), "fixtures3.json")
    with open(fx_path, encoding="utf-8") as f:
        resources = json.load(f)["resources"]
    fl = ["// clang-format off",
          "/* Generated by tools/gen_catalog.py from Stripe's example objects (fixtures3.json).",
          " * Do not edit: regenerate with `tools/gen_catalog.py PATH/TO/spec3.json`. */",
          '#include "emulator/fixtures.h"', "",
          "const sl_fixture_t sl__fixtures[%d] = {" % len(resources)]
    for name in sorted(resources):
        text = json.dumps(resources[name], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        fl.append("    {%s,\n     %s}," % (json.dumps(name), c_string(text.encode()).strip()))
    fl.append("};")
    fl.append("const size_t sl__nfixtures = %d;" % len(resources))
    with open(out_fx, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(fl) + "\n")
    sys.stderr.write("gen_catalog: %d operations, %d event types, %d shapes, %d fields, "
                     "%d strings (%d bytes)\n" % (len(ops), len(events), len(t.shapes),
                                                  len(t.fields), len(t.str_off), len(blob)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
