#!/usr/bin/env python3
"""Counts one run of an official Stripe SDK's suite (bench/sdk_suites.sh) and sorts its failures.

Usage: sdk_count.py go|python LABEL OUTPUT [FAILURES_DIR]
OUTPUT is `go test -json` output or pytest's `-rf --tb=no` output. Prints one line of counts,
then the failures that are not "stateless only":
  placeholder  the test names an id that no server made (cus_123, cus_xxxxxxxxxxxxx, gold) and
               the server answered Stripe's 404 "No such ...", as real Stripe would;
  empty        the test lists or searches and expects an object that a fresh account does not
               have (the stateless mock answers every list with its example).
"""
import collections
import json
import os
import re
import sys

# An id a server made: a prefix and at least 14 random characters (sluice's and Stripe's alike).
MADE = re.compile(r"^[a-z]+(_[a-z]+)*_[A-Za-z0-9]{14,}$")
NO_SUCH = re.compile(r"No such [a-z_.]+: '([^']*)'")


def placeholder(msg):
    ids = NO_SUCH.findall(msg)
    return bool(ids) and all(i and not MADE.match(i) for i in ids)


def go_results(path):
    out = collections.defaultdict(list)
    result = {}
    for line in open(path, errors="replace"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        test = r.get("Test")
        if not test:
            continue
        key = (re.sub(r"^.*?/v\d+", "", r["Package"]) or "/", test.split("/")[0])
        if r["Action"] == "output":
            out[key].append(r.get("Output", ""))
        elif "/" not in test and r["Action"] in ("pass", "fail", "skip"):
            result[key] = r["Action"]
    for key, action in result.items():
        text = "".join(out[key])
        msgs = re.findall(r'Msg:"((?:[^"\\]|\\.)*)"', text)
        first = msgs[0] if msgs else (re.findall(r"Error:\s+([^\n]*)", text) or [""])[0]
        name = "%s %s" % key
        if action != "fail":
            yield name, action, ""
        elif msgs and all(placeholder(m) for m in msgs):
            yield name, "placeholder", first
        elif not msgs and re.search(r"List|Search", key[1]) and re.search(
            r"Should be true|Not equal", text
        ):
            yield name, "empty", first
        else:
            yield name, "fail", first


def python_results(path):
    text = open(path, errors="replace").read()
    m = re.search(r"(?:(\d+) failed)?(?:, )?(\d+) passed", text)
    passed = int(m.group(2)) if m else 0
    for _ in range(passed):
        yield "", "pass", ""
    for line in text.splitlines():
        if not line.startswith("FAILED "):
            continue
        name, _, msg = line[7:].partition(" - ")
        if placeholder(msg):
            yield name, "placeholder", msg
        elif re.search(r"test_is_(listable|searchable)", name) and re.search(
            r"IndexError: list index out of range|assert 0 == 1", msg
        ):
            yield name, "empty", msg
        else:
            yield name, "fail", msg


def main():
    kind, label, path = sys.argv[1:4]
    keep = sys.argv[4] if len(sys.argv) > 4 else ""
    rows = list((go_results if kind == "go" else python_results)(path))
    n = collections.Counter(r[1] for r in rows)
    failed = n["fail"] + n["placeholder"] + n["empty"]
    total = n["pass"] + failed
    fair = total - n["placeholder"] - n["empty"]
    print(
        "%-12s %d passed, %d failed (%d name placeholder ids, %d expect objects a fresh account "
        "lacks, %d other); %d of the %d a stateful server can pass: %.1f%%"
        % (label, n["pass"], failed, n["placeholder"], n["empty"], n["fail"], n["pass"], fair,
           100.0 * n["pass"] / fair if fair else 0)
    )
    for name, what, msg in rows:
        if what == "fail":
            print("    other failure: %s | %s" % (name, msg[:160]))
    if keep:
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, "%s-%s.txt" % (kind, label)), "w") as f:
            for name, what, msg in rows:
                if what != "pass":
                    f.write("%s\t%s\t%s\n" % (what, name, msg))


main()
