#!/usr/bin/env python3
"""Soak-test feed server: N feeds on 127.0.0.1 with faults injected at random per request.

    feedserver.py --dir WORK [--feeds 1000] [--failing 20] [--minutes 30] [--hang 8] [--seed 1]

Serves /feeds/NNNN.xml (RSS 2.0 or Atom) and /feeds/NNNN.json (JSON Feed) from the generated
world (world.py): items appear over time and some are edited. ETag / Last-Modified and
conditional requests (304) on most feeds. Per request, healthy feeds answer normally most of the
time and otherwise with one fault picked at random:

  timeout      hang longer than the client's timeout (before the headers or mid-body)
  reset        TCP reset (before any byte or after part of the headers)
  http_5xx     500 / 502 / 504
  rate_limited 429 (or 503) with Retry-After in seconds or as an HTTP date
  truncated    the document cut short (honest Content-Length, or a longer one and a close)
  malformed    broken XML, an HTML error page, or bytes that are not text
  huge         3-4 MiB (Content-Length, chunked stream, or gzip that inflates past the cap)
  slow_ok      a correct answer, slowly (1-3 s; counted as success)

A fixed set of feeds always fails (always_500, always_reset, always_404, always_malformed).

Writes WORK/feeds.json (every feed's URL and name, the always-failing ones) once listening, and
WORK/feedserver-stats.json (requests and faults by kind) every 5 s and on SIGTERM. 127.0.0.1
only; standard library only.
"""

import argparse
import email.utils
import gzip
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world as worldmod  # noqa: E402

FAULTS = [  # (kind, weight); the rest of the probability is a normal answer
    ("timeout", 0.02),
    ("reset", 0.03),
    ("http_5xx", 0.04),
    ("rate_limited", 0.03),
    ("truncated", 0.03),
    ("malformed", 0.035),
    ("huge", 0.02),
    ("slow_ok", 0.03),
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "soak-feeds/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError):
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    # ---- helpers ----

    def send(self, status, body=b"", headers=(), close=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def reset(self, partial=b""):
        try:
            if partial:
                self.wfile.write(partial)
                self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    # ---- requests ----

    def do_GET(self):
        srv = self.server
        stats = srv.stats
        stats.add("requests")
        path = self.path.split("?", 1)[0]
        try:
            f = int(path.rsplit("/", 1)[-1].split(".", 1)[0])
            if not path.startswith("/feeds/") or not 0 <= f < srv.world.n_feeds:
                raise ValueError
        except ValueError:
            stats.add("not_found")
            self.send(404, b"not found\n", [("Content-Type", "text/plain")])
            return
        feed = srv.world.feeds[f]
        rng = random.Random()
        if feed.always_fails:
            stats.add("fault:" + feed.always_fails)
            self.always(feed.always_fails, rng)
            return
        kind = None
        r = rng.random()
        for k, w in FAULTS:
            if r < w:
                kind = k
                break
            r -= w
        now = time.time()
        etag, last, shown = srv.world.state(f, now)
        if kind and kind != "slow_ok":
            stats.add("fault:" + kind)
            getattr(self, "fault_" + kind)(f, shown, rng)
            return
        if kind == "slow_ok":
            stats.add("slow_ok")
            time.sleep(rng.uniform(1, 3))
        headers = [("Content-Type", content_type(feed.fmt))]
        if feed.validators:
            headers += [("ETag", etag), ("Last-Modified", email.utils.formatdate(last, usegmt=True))]
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            fresh = False
            if inm is not None:
                fresh = etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
            elif ims is not None:
                try:
                    fresh = last <= email.utils.parsedate_to_datetime(ims).timestamp()
                except (TypeError, ValueError):
                    fresh = False
            if fresh:
                stats.add("ok_304")
                self.send_response(304)
                for k, v in headers[1:]:
                    self.send_header(k, v)
                self.end_headers()
                return
        body = srv.world.render(f, srv.base_url, shown)
        stats.add("ok_200")
        self.send(200, body, headers)

    def always(self, kind, rng):
        if kind == "always_500":
            self.send(500, b"internal error\n", [("Content-Type", "text/plain")], close=True)
        elif kind == "always_404":
            self.send(404, b"no such feed\n", [("Content-Type", "text/plain")], close=True)
        elif kind == "always_reset":
            self.reset()
        else:
            self.send(200, b"<?xml version='1.0'?><rss><channel><title>x</title><item><title>a &",
                      [("Content-Type", "application/rss+xml")], close=True)

    def fault_timeout(self, f, shown, rng):
        hang = self.server.hang
        if rng.random() < 0.5:
            time.sleep(hang)  # nothing at all
            self.close_connection = True
            return
        body = self.server.world.render(f, self.server.base_url, shown)
        self.send_response(200)
        self.send_header("Content-Type", content_type(self.server.world.feeds[f].fmt))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 3])
        self.wfile.flush()
        time.sleep(hang)  # headers and a third of the body, then silence
        self.close_connection = True

    def fault_reset(self, f, shown, rng):
        if rng.random() < 0.5:
            self.reset()
        else:
            self.reset(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Len")

    def fault_http_5xx(self, f, shown, rng):
        status = rng.choice([500, 502, 504])
        self.send(status, f"error {status}\n".encode(), [("Content-Type", "text/plain")], close=True)

    def fault_rate_limited(self, f, shown, rng):
        status = 429 if rng.random() < 0.8 else 503
        if rng.random() < 0.6:
            after = str(rng.randint(10, 120))
            self.server.stats.add("retry_after_seconds")
        else:
            after = email.utils.formatdate(time.time() + rng.randint(30, 150), usegmt=True)
            self.server.stats.add("retry_after_date")
        self.send(status, b"slow down\n", [("Content-Type", "text/plain"), ("Retry-After", after)], close=True)

    def fault_truncated(self, f, shown, rng):
        body = self.server.world.render(f, self.server.base_url, shown)
        cut = body[: int(len(body) * rng.uniform(0.1, 0.9))]
        ctype = content_type(self.server.world.feeds[f].fmt)
        if rng.random() < 0.5:
            self.send(200, cut, [("Content-Type", ctype)], close=True)  # honest length, cut document
        else:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))  # promises more than comes
            self.end_headers()
            self.wfile.write(cut)
            self.wfile.flush()
            self.close_connection = True

    def fault_malformed(self, f, shown, rng):
        body = self.server.world.render(f, self.server.base_url, shown)
        v = rng.randrange(4)
        if v == 0:  # a broken element in the middle
            mid = body.find(b"<item>", len(body) // 3)
            mid = mid if mid > 0 else len(body) // 2
            body = body[:mid] + b"<item><title>Broken & unescaped <b>markup</titl></item>" + body[mid:]
        elif v == 1:  # an HTML error page with status 200
            body = b"<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Oops</h1><p>Try later.</body></html>"
        elif v == 2:  # bytes that are not text
            body = bytes(rng.randrange(256) for _ in range(4096))
        else:  # two root elements and an undeclared entity
            body = body + b"<rss><channel>&nbsp;&bogus;</channel></rss>"
        self.send(200, body, [("Content-Type", "application/rss+xml")], close=True)

    def fault_huge(self, f, shown, rng):
        size = rng.randint(3 << 20, 4 << 20)
        pad = " padding" * (size // 8)
        body = self.server.world.render(f, self.server.base_url, shown[:1] or shown, pad=pad)
        ctype = content_type(self.server.world.feeds[f].fmt)
        v = rng.randrange(3)
        if v == 0:
            self.server.stats.add("huge_content_length")
            self.send(200, body, [("Content-Type", ctype)], close=True)
        elif v == 1:
            self.server.stats.add("huge_chunked")
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for i in range(0, len(body), 65536):
                chunk = body[i:i + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.server.stats.add("huge_gzip")
            self.send(200, gzip.compress(body, 6), [("Content-Type", ctype), ("Content-Encoding", "gzip")],
                      close=True)


def content_type(fmt):
    return {"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}[fmt]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--failing", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--hang", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()

    world = worldmod.World(a.seed, a.feeds, a.failing, time.time(), a.minutes)
    srv = Server(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    srv.world, srv.hang, srv.stats = world, a.hang, Stats()
    srv.base_url = f"http://127.0.0.1:{port}"
    feeds = []
    for fd in world.feeds:
        ext = "json" if fd.fmt == "json" else "xml"
        feeds.append({"url": f"{srv.base_url}/feeds/{fd.index:04d}.{ext}", "name": worldmod.feed_name(fd.index),
                      "format": fd.fmt, "always_fails": fd.always_fails})
    info = {"port": port, "feeds": feeds, "items": world.total_items, "relevant_items": world.relevant_items}
    tmp = os.path.join(a.dir, "feeds.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(info, fh, indent=1)
    os.replace(tmp, os.path.join(a.dir, "feeds.json"))

    stats_path = os.path.join(a.dir, "feedserver-stats.json")

    def write_stats():
        tmp = stats_path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(srv.stats.snapshot(), fh, indent=1, sort_keys=True)
        os.replace(tmp, stats_path)

    stop = threading.Event()

    def on_term(*_):
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    while not stop.wait(5):
        write_stats()
    srv.shutdown()
    write_stats()


if __name__ == "__main__":
    main()
