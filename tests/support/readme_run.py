#!/usr/bin/env python3
"""Runs the README's command blocks the way a newcomer would type them, against `sluice emulate`.

    readme_run.py SLUICE_BIN README.md [--python PY]

Every ```sh block runs, line by line and in the README's order, in one session: one HOME (so
the default data directory and config file are fresh), one working directory (with the
project's examples/ beside it, as in a clone), and the variables the blocks export. A line
must exit 0, or the code its comment names ("# 400, exit 1"). A ``` block of "$ command" lines
followed by what they print is a transcript: the command runs and must print those lines, ids
and request ids aside.

The session's Stripe is the emulator (started here on a free loopback port): $SLUICE_BASE_URL
points at it, and 127.0.0.1:12111 (its default address) in a command means it. The README's
placeholders stand for what a reader would paste from an earlier output: cus_123 is the newest
customer, price_123 a price, in_123 a draft invoice, run_3f2a... the newest failed run,
evt_1NG8... the newest event; sk_test_... and whsec_... a test key and secret. A server line
(`sluice serve`, `sluice emulate`) runs until it answers, then gets Ctrl-C (SIGINT) and must
exit 0; one ending in `&` runs until the end of its block. The default ports move to free ones
(a `--listen` is added when the line gives none) so that tests run side by side.

What is not run is listed in SKIPS with the reason, and printed. Exits 1 if anything failed.
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Lines not run, by a pattern of the command, and why.
SKIPS = [
    (r"^\./scripts/(demo|test)\.sh",
     "installs packages and builds: CI runs scripts/test.sh, e2e tests run `sluice demo`"),
    (r"--listen 0\.0\.0\.0|hooks\.example\.com",
     "listens on every address and registers a public URL: tests stay on loopback"),
    (r"db\.internal|sk_live_|/etc/sluice|64 hex digits",
     "a team's PostgreSQL and live key: e2e_instances runs this on a private PostgreSQL"),
    (r"--sync-store postgres://",
     "a team's PostgreSQL: e2e_sync runs sync on a private PostgreSQL"),
    (r"^cmake --build build|^STRIPE_API_KEY=\S+ build/examples/",
     "a build directory of the reader's: e2e_example_c builds and runs the example"),
    (r"PATH/TO/spec3\.json", "needs Stripe's spec: catalog_regenerates runs the generator"),
    (r"bench/sdk_suites\.sh PATH/TO/",
     "needs the official SDKs' checkouts, which the reader fetches; a benchmark, not run in CI"),
]

ID = re.compile(r"\b(?:cus|in|ii|pi|pm|ch|price|prod|cs_test|req|evt|run|we|sub|acct|txn)_[A-Za-z0-9]+")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, secs=15):
    end = time.time() + secs
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def blocks(readme):
    """(line, kind, lines) for each sh block and each transcript block, in order."""
    out, lines, i = [], open(readme, encoding="utf-8").read().split("\n"), 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = lines[i + 1:j]
        if m.group(1) == "sh":
            out.append((i + 1, "sh", body))
        elif m.group(1) == "" and body and body[0].startswith("$ "):
            out.append((i + 1, "transcript", body))
        i = j + 1
    return out


def commands(body):
    """The commands of an sh block: continuation lines joined, blank and comment lines dropped."""
    cmds, cur = [], ""
    for line in body:
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip() and not cur.strip().startswith("#"):
            cmds.append(cur.strip())
        cur = ""
    return cmds


def comment_of(cmd):
    """The trailing `# comment` of a command (outside quotes), or ''."""
    try:
        lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
        lex.commenters = ""
        lex.whitespace_split = True
        list(lex)
    except ValueError:
        return ""
    q = None
    for k, ch in enumerate(cmd):
        if q:
            q = None if ch == q else q
        elif ch in "'\"":
            q = ch
        elif ch == "#" and (k == 0 or cmd[k - 1] in " \t"):
            return cmd[k + 1:]
    return ""


def normalize(text):
    return [ID.sub("ID", l.rstrip()) for l in text.rstrip("\n").split("\n")]


class Session:
    def __init__(self, sluice, python):
        self.sluice = os.path.abspath(sluice)
        self.python = python
        self.tmp = tempfile.mkdtemp(prefix="sluice-readme-")
        self.root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.home = os.path.join(self.tmp, "home")
        self.cwd = os.path.join(self.tmp, "work")
        os.makedirs(self.home)
        os.makedirs(self.cwd)
        os.symlink(os.path.join(self.root, "examples"), os.path.join(self.cwd, "examples"))
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(self.sluice, os.path.join(bindir, "sluice"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "STRIPE_"))}
        self.env.update(HOME=self.home, PATH=bindir + ":" + os.environ.get("PATH", ""),
                        PWD=self.cwd, MANPAGER="cat", PAGER="cat", NO_COLOR="1")
        self.procs = []  # every process started here, stopped by PID at the end
        self.emu_port = free_port()
        self.serve_port = free_port()
        self.start(["sluice", "emulate", "--listen", f"127.0.0.1:{self.emu_port}"], self.emu_port)
        self.url = f"http://127.0.0.1:{self.emu_port}"
        self.env.update(SLUICE_BASE_URL=self.url, URL=self.url)
        # A team's settings for the example flows: a mail server and a receiver of its own.
        smtp_out = os.path.join(self.tmp, "smtp.port")
        self.start_sink([python, os.path.join(self.root, "tests/support/smtp_sink.py"), "0",
                         os.path.join(self.tmp, "mail.jsonl")], smtp_out)
        http_out = os.path.join(self.tmp, "http.port")
        self.start_sink([python, os.path.join(self.root, "tests/support/http_sink.py"),
                         os.path.join(self.tmp, "http.jsonl")], http_out)
        hp = open(http_out).readline().strip()
        self.env.update(
            SLUICE_SMTP_URL="smtp://127.0.0.1:" + open(smtp_out).readline().strip(),
            SLUICE_SMTP_FROM="Shop <shop@example.com>",
            SLUICE_FLOW_CRM_URL=f"http://127.0.0.1:{hp}/crm",
            SLUICE_FLOW_CATALOG_URL=f"http://127.0.0.1:{hp}/catalog",
            SLUICE_FLOW_EVENTS_URL=f"http://127.0.0.1:{hp}/events",
            SLUICE_MASTER_KEY="00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
        self.values = {}  # a block's placeholders, resolved once each

    def start(self, argv, port):
        p = subprocess.Popen(argv, env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.tmp, "server.log"), "a"))
        self.procs.append(p)
        if not wait_port(port, p):
            raise RuntimeError(f"{' '.join(argv)} did not start")
        return p

    def start_sink(self, argv, out):
        p = subprocess.Popen(argv, stdout=open(out, "w"), stderr=subprocess.DEVNULL)
        self.procs.append(p)
        for _ in range(200):
            if os.path.getsize(out):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{argv[1]} did not start")

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for p in reversed(self.procs):
            self.stop(p)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sh(self, cmd, timeout=120):
        return subprocess.run(["bash", "-c", cmd], env=self.env, cwd=self.cwd, timeout=timeout,
                              stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)

    def json_of(self, cmd):
        r = self.sh(cmd)
        if r.returncode:
            raise RuntimeError(f"{cmd}: {r.stderr.strip()}")
        return json.loads(r.stdout)

    def call(self, *args):
        return self.json_of("sluice call " + " ".join(shlex.quote(a) for a in args))

    # --- the placeholders: what a reader pastes from an earlier output ----------------------
    def customer(self):
        found = self.call("customers.list", "limit=1")["data"]
        return found[0]["id"] if found else self.call("customers.create")["id"]

    def price(self):
        return self.call("prices.create", "currency=usd", "unit_amount=1500",
                         "product_data[name]=T-shirt")["id"]

    def draft_invoice(self):
        cus = self.customer()
        self.call("invoiceitems.create", "customer=" + cus, "amount=2000", "currency=usd")
        return self.call("invoices.create", "customer=" + cus,
                         "pending_invoice_items_behavior=include")["id"]

    def failed_run(self):
        runs = self.json_of("sluice runs list --status failed --limit 1 --json")
        if runs:
            return runs[0]["id"]
        # As a reader meets one: the mail server was down when the reminder ran.
        down = dict(self.env, SLUICE_SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
        subprocess.run(["sluice", "flows", "run", "tray-invoice-reminder"], env=down,
                       cwd=self.cwd, capture_output=True, timeout=120)
        runs = self.json_of("sluice runs list --status failed --limit 1 --json")
        if not runs:
            raise RuntimeError("no failed run to show: tray-invoice-reminder did not fail "
                               "with its mail server down")
        return runs[0]["id"]

    def event(self):
        evs = self.json_of("sluice events list --limit 1 --json")
        if not evs:
            raise RuntimeError("the inbox is empty")
        return evs[0]["id"]

    PLACEHOLDERS = [
        (r"sk_test_\.\.\.", lambda s: "sk_test_readme"),
        (r"whsec_\.\.\.", lambda s: "whsec_test_secret"),
        (r"\bcus_123\b", customer),
        (r"\bprice_123\b", price),
        (r"\bin_123\b", draft_invoice),
        (r"\brun_3f2a\.\.\.", failed_run),
        (r"\bevt_1NG8[A-Za-z0-9.]*", event),
    ]

    def substitute(self, cmd):
        for pat, fn in self.PLACEHOLDERS:
            if re.search(pat, cmd):
                if pat not in self.values:
                    self.values[pat] = fn(self)
                cmd = re.sub(pat, self.values[pat], cmd)
        cmd = cmd.replace("127.0.0.1:12111", f"127.0.0.1:{self.emu_port}")
        return cmd.replace("127.0.0.1:8080", f"127.0.0.1:{self.serve_port}")

    def server(self, cmd):
        """A line that starts sluice serve or sluice emulate: (argv string, port) or None."""
        m = re.match(r"^sluice (serve|emulate)\b", cmd)
        if not m:
            return None
        cmd = cmd.split(" #")[0].rstrip()
        m2 = re.search(r"--listen 127\.0\.0\.1:(\d+)", cmd)
        if m2:
            return cmd, int(m2.group(1))
        port = self.serve_port if m.group(1) == "serve" else free_port()
        bg = cmd.endswith("&")
        cmd = cmd.rstrip("& ")
        return f"{cmd} --listen 127.0.0.1:{port}" + (" &" if bg else ""), port


def run_block(s, line, body, report):
    background = []
    s.values = {}
    try:
        for cmd in commands(body):
            where = f"README.md:{line}: {cmd}"
            skip = next((why for pat, why in SKIPS if re.search(pat, cmd)), None)
            if skip:
                report.skipped.append(f"{where}\n    not run: {skip}")
                continue
            want = 0
            m = re.search(r"\bexit (\d+)", comment_of(cmd))
            if m:
                want = int(m.group(1))
            try:
                run = s.substitute(cmd)
            except (RuntimeError, ValueError) as e:
                report.fail(where, f"could not make its placeholders: {e}")
                continue
            if run.startswith("export "):
                for a in shlex.split(run[7:].split(" #")[0]):
                    k, _, v = a.partition("=")
                    s.env[k] = v.replace("$PWD", s.cwd)
                report.ok(where)
                continue
            srv = s.server(run)
            if srv:
                argv, port = srv
                text = argv
                bg = text.endswith("&")
                try:
                    p = s.start(["bash", "-c", "exec " + text.rstrip("& ")], port)
                except RuntimeError as e:
                    report.fail(where, str(e))
                    continue
                if bg:
                    background.append(p)
                    report.ok(where + "  (runs in the background for this block)")
                    continue
                rc = s.stop(p, signal.SIGINT)
                if rc == 0:
                    report.ok(where + "  (answered, then Ctrl-C: exit 0)")
                else:
                    report.fail(where, f"exit {rc} after Ctrl-C")
                continue
            helper = None
            if f"127.0.0.1:{s.serve_port}" in run and not background:
                # It posts to a sluice serve, as the line's comment says: one runs for it.
                helper = s.start(["sluice", "serve", "--listen", f"127.0.0.1:{s.serve_port}"],
                                 s.serve_port)
            try:
                r = s.sh(run)
            finally:
                if helper:
                    s.stop(helper)
            if r.returncode == want:
                report.ok(where + ("  (with a sluice serve running)" if helper else ""))
            else:
                report.fail(where, f"exit {r.returncode}, not {want}\n    ran: {run}\n"
                            f"    stderr: {r.stderr.strip()[:800]}\n    stdout: {r.stdout.strip()[:400]}")
    finally:
        for p in background:
            s.stop(p)


def run_transcript(s, line, body, report):
    s.values = {}
    i = 0
    while i < len(body):
        cmd = body[i][2:]
        j = i + 1
        while j < len(body) and not body[j].startswith("$ "):
            j += 1
        shown = body[i + 1:j]
        where = f"README.md:{line + i}: $ {cmd}"
        r = s.sh(s.substitute(cmd))
        got = normalize(r.stdout + r.stderr)
        want = normalize("\n".join(shown))
        if got == want:
            report.ok(where)
        else:
            report.fail(where, "prints\n      " + "\n      ".join(got) +
                        "\n    where the README shows\n      " + "\n      ".join(want))
        i = j


class Report:
    def __init__(self):
        self.passed, self.failed, self.skipped = 0, [], []

    def ok(self, where):
        self.passed += 1
        print("ok   " + where)

    def fail(self, where, why):
        self.failed.append(where)
        print("FAIL " + where + "\n    " + why)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    python = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--python" else sys.executable
    s = Session(sys.argv[1], python)
    report = Report()
    try:
        for line, kind, body in blocks(sys.argv[2]):
            (run_block if kind == "sh" else run_transcript)(s, line, body, report)
    finally:
        s.close()
    for why in report.skipped:
        print("skip " + why)
    print(f"{report.passed} commands ran as shown, {len(report.failed)} failed, "
          f"{len(report.skipped)} not run (reasons above)")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
