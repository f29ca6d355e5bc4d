#!/usr/bin/env python3
"""Watch the daemon during the soak: RSS every 10 s to a CSV, and optionally /healthz and
/metrics every 30 s to a JSON Lines log.

    monitor.py --pid PID --rss-csv FILE [--every 10] [--http 127.0.0.1:PORT --http-log FILE [--http-every 30]]

Stops when the process is gone or on SIGTERM. Standard library only.
"""

import argparse
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")[:500]
    except Exception as e:  # refused, timeout, reset
        return None, f"{type(e).__name__}: {e}"


def parse_metrics(text):
    """Prometheus text format → {series: value} (comments skipped)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(" ", 1)
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--rss-csv", required=True)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--http")
    ap.add_argument("--http-log")
    ap.add_argument("--http-every", type=float, default=30)
    a = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t0 = time.time()
    next_rss = next_http = t0
    with open(a.rss_csv, "w", buffering=1) as csv:
        csv.write("elapsed_s,unix_time,rss_kb\n")
        log = open(a.http_log, "w", buffering=1) if a.http and a.http_log else None
        while not stop.is_set():
            now = time.time()
            if now >= next_rss:
                kb = rss_kb(a.pid)
                if kb is None:
                    break
                csv.write(f"{now - t0:.1f},{now:.1f},{kb}\n")
                next_rss += a.every
            if log and now >= next_http:
                hs, hb = get(f"http://{a.http}/healthz")
                ms, mb = get(f"http://{a.http}/metrics")
                alive = os.path.exists(f"/proc/{a.pid}")
                rec = {"t": round(now, 1), "elapsed_s": round(now - t0, 1), "daemon_alive": alive,
                       "healthz_status": hs, "healthz_body": hb[:300], "metrics_status": ms}
                if ms == 200:
                    rec["metrics"] = parse_metrics(mb)
                    with open(a.http_log + ".last-metrics.txt", "w") as fh:
                        fh.write(mb)
                else:
                    rec["metrics_body"] = mb[:300]
                log.write(json.dumps(rec) + "\n")
                next_http += a.http_every
            stop.wait(max(0.05, min(next_rss, next_http if log else next_rss) - time.time()))
        if log:
            log.close()


if __name__ == "__main__":
    main()
