#!/usr/bin/env python3
"""A loopback SMTP server for sluice's tests: accepts mail and appends one JSON line per message
to a file, with the envelope, the raw bytes and what Python's `email` package makes of them, so a
test written in C can compare what a mail reader sees with what it sent.

    smtp_sink.py PORT OUT.jsonl [--reject] [--auth USER:PASSWORD]

PORT 0 picks a free port. The port in use is the first line on stdout. --reject answers RCPT
with 550 for addresses containing "reject"; --auth requires AUTH PLAIN (over plain text, as
the sink has no TLS) with these credentials before MAIL. Stops on SIGTERM or SIGINT.
"""
import argparse
import email
import email.policy
import json
import logging
import signal
import socket
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    # The Controller checks that its server came up by connecting to the port it was given, so
    # it cannot be handed 0: find a free one first (the gap before it binds is harmless here).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def addresses(header):
    if header is None:
        return None
    return [{"name": a.display_name, "addr": a.addr_spec} for a in header.addresses]


def leaf(part):
    body = part.get_payload(decode=True)
    charset = part.get_content_charset()
    return {
        "content_type": part.get_content_type(),
        "charset": charset,
        "cte": part.get("Content-Transfer-Encoding"),
        # Strictly decoded: a body in another charset than it claims shows up as an error.
        "body": body.decode(charset or "ascii") if body is not None else None,
    }


def describe(raw):
    """What a reader makes of the message, plus the wire-format facts a test asserts on."""
    lines = raw.split(b"\r\n")
    out = {
        "raw": raw.decode("utf-8", errors="replace"),
        "ascii": all(b < 0x80 for b in raw),
        # Every line ends in CRLF: no bare LF, no lone CR left once split on CRLF.
        "crlf": raw.endswith(b"\r\n") and not any(b"\n" in ln or b"\r" in ln for ln in lines),
        "max_line": max(len(ln) for ln in lines),
    }
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    date = msg["Date"]
    out["headers"] = {
        "subject": str(msg["Subject"]) if msg["Subject"] is not None else None,
        "from": addresses(msg["From"]),
        "to": addresses(msg["To"]),
        "reply_to": addresses(msg["Reply-To"]),
        "message_id": str(msg["Message-ID"]) if msg["Message-ID"] is not None else None,
        "mime_version": str(msg["MIME-Version"]) if msg["MIME-Version"] is not None else None,
        "date_epoch": int(date.datetime.timestamp()) if date and date.datetime else None,
        "date_utc": bool(date and date.datetime and date.datetime.utcoffset().total_seconds() == 0),
        "count": {k.lower(): len(msg.get_all(k)) for k in set(msg.keys())},
    }
    out["content_type"] = msg.get_content_type()
    out["boundary"] = msg.get_boundary()
    out["parts"] = [leaf(p) for p in msg.walk() if not p.is_multipart()]
    defects = list(msg.defects)
    for p in msg.walk():
        defects += p.defects
        for v in p.values():
            defects += getattr(v, "defects", ())
    out["defects"] = sorted({type(d).__name__ for d in defects})
    return out


class Handler:
    def __init__(self, out_path, reject):
        self.out_path = out_path
        self.reject = reject
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and "reject" in address:
            return f"550 5.1.1 <{address}>: Recipient address rejected: no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}
        auth = getattr(session, "auth_data", None)
        record["auth_user"] = auth.login.decode() if isinstance(auth, LoginPassword) else None
        try:
            record.update(describe(envelope.original_content))
        except Exception as e:  # the message still counts, with what went wrong
            record["error"] = f"{type(e).__name__}: {e}"
        with self.lock, open(self.out_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 2.0.0 Ok: queued"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--reject", action="store_true")
    ap.add_argument("--auth", metavar="USER:PASSWORD")
    args = ap.parse_args()

    kwargs = {}
    if args.auth:
        user, _, password = args.auth.partition(":")
        want = LoginPassword(user.encode(), password.encode())

        def authenticator(server, session, envelope, mechanism, auth_data):
            # handled=False: aiosmtpd then answers 535 itself rather than leaving the client
            # waiting.
            return AuthResult(success=auth_data == want, handled=False, auth_data=auth_data)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=False,
                      auth_exclude_mechanism=["LOGIN"])
    # Quiet about AUTH without TLS: that is the point here.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    port = args.port or free_port()
    # A fixed EHLO name spares a reverse lookup of the host's name at every start.
    controller = Controller(Handler(args.out, args.reject), hostname="127.0.0.1", port=port,
                            server_hostname="sink.test", **kwargs)
    controller.start()
    print(port, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1):
        pass
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
