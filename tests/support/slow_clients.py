#!/usr/bin/env python3
"""Slow clients against an HTTP server, for tests/e2e/serve_slow.sh.

  slow_clients.py HOST PORT SECONDS --trickle N [--trickle-from ADDR]
                  [--upload M] [--upload-from ADDR] [--upload-length BYTES]

Opens N connections from ADDR that send the start of a webhook request and then one byte of
a never-ending header every 0.5 s, and M connections that send a whole request head
declaring BYTES of body, then 2 KiB of it every 0.2 s. Runs SECONDS, then prints one JSON
object: for each kind, how many were opened, and after how many seconds the server closed
each (null: still open at the end).
"""
import argparse
import json
import selectors
import socket
import time


def open_from(src, host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.setblocking(False)
    s.connect_ex((host, port))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('host')
    ap.add_argument('port', type=int)
    ap.add_argument('seconds', type=float)
    ap.add_argument('--trickle', type=int, default=0)
    ap.add_argument('--trickle-from', default='127.0.0.1')
    ap.add_argument('--upload', type=int, default=0)
    ap.add_argument('--upload-from', default='127.0.0.1')
    ap.add_argument('--upload-length', type=int, default=1 << 20)
    a = ap.parse_args()

    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    conns = []  # [kind, socket, opened_at, closed_after, next_send, step]
    for kind, n, src in (('trickle', a.trickle, a.trickle_from), ('upload', a.upload, a.upload_from)):
        for _ in range(n):
            s = open_from(src, a.host, a.port)
            c = [kind, s, time.monotonic(), None, time.monotonic() + 0.05, 0]
            conns.append(c)
            sel.register(s, selectors.EVENT_READ, c)

    def closed(c):
        if c[3] is None:
            c[3] = round(time.monotonic() - c[2], 2)
            try:
                sel.unregister(c[1])
            except (KeyError, ValueError):
                pass
            c[1].close()

    head = ('POST /hooks/shop HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
            'Stripe-Signature: t=1,v1=00\r\nContent-Length: %d\r\n\r\n' % a.upload_length).encode()
    while time.monotonic() - t0 < a.seconds:
        now = time.monotonic()
        for c in conns:
            if c[3] is not None or now < c[4]:
                continue
            try:
                if c[0] == 'trickle':
                    data = b'POST /hooks/shop HTTP/1.1\r\nHost: x\r\nX-Slow: ' if c[5] == 0 else b'a'
                    c[4] = now + 0.5
                else:
                    data = head if c[5] == 0 else b'x' * 2048
                    c[4] = now + 0.2
                c[1].send(data)
                c[5] += 1
            except BlockingIOError:
                pass
            except OSError:
                closed(c)
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                if not c[1].recv(4096):
                    closed(c)
            except BlockingIOError:
                pass
            except OSError:
                closed(c)
    out = {}
    for kind in ('trickle', 'upload'):
        mine = [c for c in conns if c[0] == kind]
        out[kind] = {'opened': len(mine), 'closed_after': [c[3] for c in mine]}
    for c in conns:
        if c[3] is None:
            c[1].close()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
