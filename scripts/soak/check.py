#!/usr/bin/env python3
"""The soak test's verdict: PASS/FAIL per check and a summary of figures, from the work dir.

    check.py WORK

Reads what soak.sh left in WORK (daemon log and exit code, the database, the Maildir, the RSS
CSV, the feed server's counts, the SMTP downtime windows, `db check` and `status` output, the
/healthz scrapes when there were any). Exit 0 when every check passed, 1 otherwise. Standard
library only (sqlite3 module).
"""

import csv
import datetime
import email.parser
import email.policy
import json
import os
import sqlite3
import statistics
import sys
from collections import Counter

W = sys.argv[1]
results = []  # (ok, name, detail)


def check(ok, name, detail=""):
    results.append((bool(ok), name, detail))


def path(*p):
    return os.path.join(W, *p)


def read(name, default=""):
    try:
        with open(path(name), encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return default


def jload(name, default=None):
    try:
        with open(path(name)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


settings = jload("settings.json", {})
feeds_info = jload("feeds.json", {"feeds": []})

# ---- the daemon ran and stopped cleanly ----
exit_text = read("daemon.exit").strip()
early = os.path.exists(path("daemon.died-early"))
check(exit_text == "0" and not early, "daemon exited 0 after SIGTERM and never died on its own",
      f"exit={exit_text or '?'}" + (" (died before SIGTERM)" if early else ""))
log_text = read("daemon.log")
after_text = "".join(read(n) for n in ("final-digest.out", "outbox-retry.out", "dbcheck.out", "status.err"))
panics = [line for line in (log_text + after_text).splitlines() if "panicked" in line]
check(not panics, "no panic in the daemon's log or the final commands", panics[0][:200] if panics else "")

levels = Counter()
poll_lines = 0
errors = Counter()
for line in log_text.splitlines():
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    lvl = rec.get("level", "?")
    levels[lvl] += 1
    msg = (rec.get("fields") or {}).get("message") or rec.get("message") or ""
    if msg == "poll cycle done":
        poll_lines += 1
    if lvl in ("ERROR", "WARN"):
        errors[f"{lvl} {msg}"] += 1

# ---- database integrity ----
dbcheck = read("dbcheck.out")
check(read("dbcheck.exit").strip() == "0" and "integrity: ok" in dbcheck, "stancewatch db check: integrity ok",
      " ".join(dbcheck.split())[:200])

# ---- memory ----
rss = []
with open(path("rss.csv")) as fh:
    for row in csv.DictReader(fh):
        rss.append((float(row["elapsed_s"]), int(row["rss_kb"]) / 1024))
peak = max((m for _, m in rss), default=0)
mem = {"samples": len(rss), "peak_mb": peak}
if len(rss) >= 8:
    n = len(rss)
    q = [[m for _, m in rss[i * n // 4:(i + 1) * n // 4]] for i in range(4)]
    med = [statistics.median(x) for x in q]
    half = rss[n // 2:]
    xs = [t / 3600 for t, _ in half]
    ys = [m for _, m in half]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    mem.update(q1=med[0], q2=med[1], q3=med[2], q4=med[3], slope_mb_per_h=slope)
    grew = med[3] > med[1] * 1.25 and med[3] - med[1] > 20
    check(not grew, "memory flat: last-quarter median RSS within 25% or 20 MB of the second quarter's",
          f"Q2 {med[1]:.1f} MB, Q4 {med[3]:.1f} MB, peak {peak:.1f} MB, slope {slope:+.1f} MB/h")
else:
    check(False, "memory flat", f"only {len(rss)} RSS samples")

# ---- mail: the database's outbox and digests against what the SMTP server received ----
db = sqlite3.connect(f"file:{path('data', 'soak.db')}?mode=ro", uri=True)
one = lambda sql, *a: db.execute(sql, a).fetchone()[0]  # noqa: E731


def fmt(d):
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"


def norm_id(mid):
    return (mid or "").strip().strip("<>").strip()


received = []  # (file, message-id, subject)
parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
for sub in ("new", "cur"):
    d = path("mail", sub)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), "rb") as fh:
            h = parser.parse(fh)
        received.append((name, norm_id(h.get("Message-ID")), str(h.get("Subject", ""))))
recv_ids = Counter(mid for _, mid, _ in received)
dups = [m for m, c in recv_ids.items() if c > 1]
check(not dups and all(m for _, m, _ in received), "no duplicate (or missing) Message-ID among received mail",
      f"{len(received)} received" + (f"; duplicates: {dups[:3]}" if dups else ""))

outbox = db.execute("SELECT id, kind, digest_id, message_id, status, attempts, last_error FROM outbox").fetchall()
not_sent = [r for r in outbox if r[4] != "sent"]
check(not not_sent, "every outbox message is sent (none pending or refused) after digest --send / outbox retry",
      f"{len(outbox)} messages" + (f"; not sent: {[(r[0], r[4], r[6]) for r in not_sent[:3]]}" if not_sent else ""))
sent_missing = [r[3] for r in outbox if r[4] == "sent" and norm_id(r[3]) not in recv_ids]
check(not sent_missing, "every message marked sent was received by the SMTP server",
      f"missing: {sent_missing[:3]}" if sent_missing else "")
unknown = [m for m in recv_ids if m not in {norm_id(r[3]) for r in outbox}]
check(not unknown, "every received message is in the outbox", f"unknown: {unknown[:3]}" if unknown else "")

digests = db.execute("SELECT id, period, clusters, backfilled FROM digests").fetchall()
undelivered = []
for d_id, period, _, _ in digests:
    rows = [r for r in outbox if r[2] == d_id]
    if not rows or any(r[4] != "sent" or norm_id(r[3]) not in recv_ids for r in rows):
        undelivered.append(period)
check(digests and not undelivered, "every digest was delivered (all its messages sent and received)",
      f"{len(digests)} digests" + (f"; undelivered: {undelivered[:3]}" if undelivered else ""))

# Each relevant cluster: in exactly one digest.
cov = db.execute(
    """SELECT c.cluster_id, count(DISTINCT ds.digest_id)
       FROM (SELECT DISTINCT cluster_id FROM stories WHERE relevant = 1) c
       LEFT JOIN stories s ON s.cluster_id = c.cluster_id
       LEFT JOIN digest_stories ds ON ds.story_id = s.id
       GROUP BY c.cluster_id"""
).fetchall()
missing = [c for c, n in cov if n == 0]
multi = [c for c, n in cov if n > 1]
# A digest lists news and only counts older backfill (all of a cluster's articles from first polls,
# published before the digest's period): a digest is composed only when it has something to list,
# so such clusters stored after the last digest wait, uncounted, for the next one.
period_s = {"hourly": 3600, "daily": 86400, "weekly": 604800}.get(settings.get("every"))
if period_s is None:
    ev = settings.get("every", "1h")
    period_s = int(ev[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(ev[-1], 60)
cutoff = settings.get("sigterm_at", 0) - period_s
count_only = []
for c in missing:
    backfill, first = db.execute(
        "SELECT min(backfill), min(published_at) FROM stories WHERE cluster_id = ? AND relevant = 1", (c,)).fetchone()
    first_t = datetime.datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp() if first else 0
    if backfill == 1 and first_t < cutoff:
        count_only.append(c)
missing = [c for c in missing if c not in count_only]
check(cov and not missing, "no relevant story cluster is missing from every digest",
      f"{len(cov)} relevant clusters" + (f"; missing: {missing[:5]}" if missing else "")
      + (f"; {len(count_only)} older backfill-only clusters stored after the last digest wait for the next one"
         if count_only else ""))
detail = ""
if multi:
    c = multi[0]
    rows = db.execute(
        """SELECT s.id, ds.digest_id, s.fetched_at, substr(s.title, 1, 60) FROM stories s
           LEFT JOIN digest_stories ds ON ds.story_id = s.id WHERE s.cluster_id = ? ORDER BY s.id""", (c,)).fetchall()
    detail = f"{len(multi)} clusters in 2+ digests, e.g. cluster {c}: {rows[:4]}"
check(not multi, "no relevant story cluster is in two digests", detail)

# ---- problem feeds ----
failing = {f["url"]: f["always_fails"] for f in feeds_info["feeds"] if f.get("always_fails")}
source = read("status.source").strip()
status = jload("status.json")
listed = {}
if source == "status" and isinstance(status, dict):
    for f in status.get("problem_feeds", []):
        listed[f.get("url")] = f.get("health")
    good = {"backing_off", "failing", "gone"}
elif isinstance(status, (list, dict)):
    rows = status if isinstance(status, list) else status.get("feeds", [])
    for f in rows:
        if f.get("health") not in ("ok", "new"):
            listed[f.get("url")] = f.get("health")
    good = {"backing off", "backing_off", "failing", "gone"}
# A feed the daemon never got to (a slow first cycle in a short run) cannot be known to fail.
polled = {u for (u,) in db.execute("SELECT url FROM feeds WHERE last_polled_at IS NOT NULL")}
never = [u for u in failing if u not in polled]
not_listed = [u for u in failing if u in polled and listed.get(u) not in good]
check(failing and len(never) < len(failing) and not not_listed,
      f"every always-failing feed is listed as a problem by `{source or 'status'}`",
      f"{len(failing)} always failing, {len(listed)} listed" + (f"; {len(never)} never polled" if never else "")
      + (f"; not listed: {[(u, listed.get(u)) for u in not_listed[:3]]}" if not_listed else ""))

# ---- /healthz ----
http_note = "not scraped ([http] not available)"
if settings.get("http"):
    scrapes = [json.loads(x) for x in read("http.jsonl").splitlines() if x.strip()]
    first_ok = next((i for i, s in enumerate(scrapes) if s.get("healthz_status") == 200), None)
    stop_at = settings.get("sigterm_at", 1e18)
    bad = []
    if first_ok is not None:
        bad = [s for s in scrapes[first_ok:] if s["t"] < stop_at - 1 and s.get("daemon_alive")
               and s.get("healthz_status") != 200]
    check(first_ok is not None and not bad, "/healthz answered 200 at every scrape while the daemon ran",
          f"{len(scrapes)} scrapes" + (f"; failures: {[(s['elapsed_s'], s['healthz_status'], s['healthz_body'][:80]) for s in bad[:3]]}" if bad else "")
          + ("; never answered" if first_ok is None else ""))
    metrics_ok = sum(1 for s in scrapes if s.get("metrics_status") == 200)
    http_note = f"{len(scrapes)} scrapes, /healthz 200 at {sum(1 for s in scrapes if s.get('healthz_status') == 200)}, " \
                f"/metrics 200 at {metrics_ok}"
    last = next((s["metrics"] for s in reversed(scrapes) if s.get("metrics")), None)
    if last:
        def pick(name):
            return {k[len(name):].strip("{}").split("=")[-1].strip('"') or "total": int(v)
                    for k, v in last.items() if k.startswith(name + "{") or k == name}
        polls = pick("stancewatch_polls_total")
        fails = {k: v for k, v in pick("stancewatch_poll_failures_total").items() if v}
        mail = pick("stancewatch_mail_total")
        http_note += (f"\n                   last /metrics (at +{next(s['elapsed_s'] for s in reversed(scrapes) if s.get('metrics')):.0f} s): "
                      f"polls {fmt(polls)}; failures {fmt(fails)}; mail {fmt(mail)}")

# ---- the soak did real work ----
stories = one("SELECT count(*) FROM stories")
run_digests = one("SELECT count(*) FROM digests WHERE period NOT LIKE 'manual:%'")
cycles = one("SELECT count(*) FROM poll_runs")
check(stories > 0 and cov and cycles > 0 and run_digests > 0,
      "the daemon polled, stored stories and queued digests by itself",
      f"{cycles} cycles, {stories} stories, {run_digests} scheduled digests")

# ---- figures ----
fs = jload("feedserver-stats.json", {})
pr = db.execute("SELECT count(*), sum(feeds), sum(ok), sum(not_modified), sum(failed), sum(new_stories), "
                "sum(updated) FROM poll_runs").fetchone()
pr = [x or 0 for x in pr]
windows = [line.split() for line in read("smtp-windows.txt").splitlines() if line.strip()]
t0 = settings.get("daemon_started_at", 0)


def mmss(t):
    s = int(float(t) - t0)
    return f"{s // 60}:{s % 60:02d}"


retried = sum(1 for r in outbox if r[5] > 1)
alerts = sum(1 for r in outbox if r[1] == "alert")
faults = {k[6:]: v for k, v in sorted(fs.items()) if k.startswith("fault:")}
print()
print("== soak summary")
print(f"minutes            {settings.get('minutes')} (daemon ran {settings.get('ran_seconds', 0) / 60:.1f} min; "
      f"digest every {settings.get('every')}; {len(feeds_info['feeds'])} feeds, {len(failing)} always failing)")
print(f"polls              {pr[0]} cycles ({poll_lines} 'poll cycle done' log lines), {pr[1]} feed polls: "
      f"{pr[2]} ok, {pr[3]} not modified, {pr[4]} failed; {pr[5]} new stories, {pr[6]} updates")
print(f"stories stored     {stories} ({one('SELECT count(*) FROM stories WHERE backfill = 1')} backfill, "
      f"{one('SELECT count(*) FROM stories WHERE update_count > 0')} updated, "
      f"{one('SELECT count(DISTINCT cluster_id) FROM stories')} clusters)")
print(f"relevant clusters  {len(cov)} ({one('SELECT count(*) FROM stories WHERE relevant = 1')} relevant stories; "
      f"{feeds_info.get('relevant_items')} relevant items generated, not all published yet)")
print(f"digests delivered  {len(digests) - len(undelivered)} of {len(digests)} ({run_digests} by the daemon, "
      f"{len(digests) - run_digests} by digest --send); "
      f"{one('SELECT coalesce(sum(clusters), 0) FROM digests')} clusters listed, "
      f"{one('SELECT coalesce(sum(backfilled), 0) FROM digests')} backfilled counted")
print(f"mails received     {len(received)} ({len(outbox)} in outbox: {alerts} alerts; {retried} needed more than one attempt)")
print(f"requests served    {fs.get('requests', 0)}: {fs.get('ok_200', 0)} x 200, {fs.get('ok_304', 0)} x 304, "
      f"{fs.get('slow_ok', 0)} slow")
print(f"faults injected    {sum(faults.values())}: " + ", ".join(f"{k} {v}" for k, v in faults.items()))
print(f"                   (huge: {fs.get('huge_content_length', 0)} with length, {fs.get('huge_chunked', 0)} chunked, "
      f"{fs.get('huge_gzip', 0)} gzip; Retry-After: {fs.get('retry_after_seconds', 0)} seconds, "
      f"{fs.get('retry_after_date', 0)} dates)")
print("SMTP down          " + (", ".join(f"{mmss(a)}-{mmss(b)} ({float(b) - float(a):.0f} s)" for a, b in windows)
                               or "never"))
if "q1" in mem:
    print(f"peak RSS           {mem['peak_mb']:.1f} MB ({mem['samples']} samples every 10 s)")
    print(f"RSS trend          medians by quarter {mem['q1']:.1f} / {mem['q2']:.1f} / {mem['q3']:.1f} / "
          f"{mem['q4']:.1f} MB; second-half slope {mem['slope_mb_per_h']:+.1f} MB/h")
else:
    print(f"peak RSS           {peak:.1f} MB")
print(f"log lines          " + ", ".join(f"{k} {v}" for k, v in sorted(levels.items())))
for k, v in errors.most_common(6):
    print(f"                   {v:5d} x {k[:100]}")
print(f"/healthz,/metrics  {http_note}")
for note in settings.get("notes", []):
    print(f"note               {note}")
print()
for ok, name, detail in results:
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  [{detail}]" if detail else ""))
failed = sum(1 for ok, _, _ in results if not ok)
print(f"== soak {'FAILED' if failed else 'PASSED'}: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
