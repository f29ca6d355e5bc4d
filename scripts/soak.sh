#!/usr/bin/env bash
# Soak test: `stancewatch run` for N minutes against 1,000 local feeds that misbehave at random
# and an SMTP server that goes away twice, then checks what it did.
#
#   scripts/soak.sh [--minutes N] [--feeds N] [--failing N]      (defaults: 30, 1000, 20)
#
#   STANCEWATCH_BIN=path  the binary to test (default: cargo build --release, target/release/...);
#                         it is copied into the work dir first
#   SOAK_WORK=dir         the work dir (default: a new mktemp dir, removed after a pass unless
#                         SOAK_KEEP=1; kept after a failure)
#
# Starts on 127.0.0.1 only:
#   scripts/soak/feedserver.py  the feeds: new and edited items over time, ETag/Last-Modified, and
#                               per request timeouts, resets, 5xx, 429/503 + Retry-After, truncated,
#                               malformed and oversized bodies; 20 feeds that always fail
#   scripts/soak/smtpd.py       SMTP into a Maildir; stopped at ~1/3 and ~2/3 of the run (60 s each,
#                               10 s for short runs), aligned with a digest period when one is near
#   scripts/soak/monitor.py     the daemon's RSS every 10 s; /healthz and /metrics every 30 s when
#                               the binary has [http] listen
# At the end: SIGTERM, wait for exit 0, `digest --send` and `outbox retry` with SMTP up, `db check`,
# `status --format json` (or `feeds list`), then scripts/soak/check.py prints PASS/FAIL per check
# and the figures. Exit 0 only when every check passed. Python 3 standard library only.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ beside the helpers

MINUTES=30
FEEDS=1000
FAILING=20
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --feeds) FEEDS=$2; shift 2 ;;
    --failing) FAILING=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$MINUTES" in ''|*[!0-9]*) echo "soak.sh: --minutes takes whole minutes" >&2; exit 2 ;; esac
[ "$MINUTES" -ge 1 ] || { echo "soak.sh: --minutes must be at least 1" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/scripts/soak"
command -v python3 >/dev/null || { echo "soak.sh: python3 is needed" >&2; exit 2; }
if ! python3 -c 'import sqlite3, asyncio' 2>/dev/null; then
  echo "soak.sh: installing python3 (Debian) for its sqlite3 module"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi

# ---- the work dir and the binary ----
MADE_WORK=
if [ -n "${SOAK_WORK:-}" ]; then
  W=$SOAK_WORK
  if [ -d "$W" ] && [ -n "$(ls -A "$W")" ] && [ ! -f "$W/.soak-work" ]; then
    echo "soak.sh: $W is not empty and not a soak work dir; choose another SOAK_WORK" >&2
    exit 2
  fi
  mkdir -p "$W"
  find "$W" -mindepth 1 -delete
else
  W=$(mktemp -d "${TMPDIR:-/tmp}/stancewatch-soak.XXXXXX")
  MADE_WORK=1
fi
W=$(cd "$W" && pwd)
touch "$W/.soak-work"
mkdir -p "$W/bin" "$W/data" "$W/mail"

if [ -n "${STANCEWATCH_BIN:-}" ]; then
  SRC_BIN=$STANCEWATCH_BIN
  [ -x "$SRC_BIN" ] || { echo "soak.sh: STANCEWATCH_BIN=$SRC_BIN is not an executable" >&2; exit 2; }
else
  echo "== cargo build --release"
  (cd "$ROOT" && cargo build --release --quiet)
  SRC_BIN="$ROOT/target/release/stancewatch"
fi
cp "$SRC_BIN" "$W/bin/stancewatch"
BIN="$W/bin/stancewatch"
CONF="$W/stancewatch.toml"
sw() { (cd "$W" && "$BIN" --config "$CONF" "$@"); }

DAEMON_PID= MON_PID= FS_PID= SMTP_PID=
cleanup() {
  local pid
  for pid in $DAEMON_PID $MON_PID $SMTP_PID $FS_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in $DAEMON_PID $MON_PID $SMTP_PID $FS_PID; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
now() { date +%s; }
wait_for_file() {  # FILE SECONDS PID
  local i
  for i in $(seq $(($2 * 10))); do
    [ -s "$1" ] && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- the feed server ----
python3 "$HERE/feedserver.py" --dir "$W" --feeds "$FEEDS" --failing "$FAILING" --minutes "$MINUTES" --hang 8 \
  >"$W/feedserver.log" 2>&1 &
FS_PID=$!
wait_for_file "$W/feeds.json" 120 "$FS_PID" || { echo "soak.sh: the feed server did not start" >&2; cat "$W/feedserver.log" >&2; exit 1; }

# ---- the SMTP server (restartable on the same port) ----
SMTP_PORT=0
SMTP_DOWN_AT=
start_smtp() {
  rm -f "$W/smtp.port"
  python3 "$HERE/smtpd.py" --maildir "$W/mail" --port "$SMTP_PORT" --port-file "$W/smtp.port" >>"$W/smtpd.log" 2>&1 &
  SMTP_PID=$!
  wait_for_file "$W/smtp.port" 30 "$SMTP_PID" || { echo "soak.sh: the SMTP server did not start" >&2; cat "$W/smtpd.log" >&2; exit 1; }
  SMTP_PORT=$(cat "$W/smtp.port")
  if [ -n "$SMTP_DOWN_AT" ]; then
    echo "$SMTP_DOWN_AT $(now)" >>"$W/smtp-windows.txt"
    SMTP_DOWN_AT=
  fi
}
stop_smtp() {
  kill -TERM "$SMTP_PID" 2>/dev/null || true
  wait "$SMTP_PID" 2>/dev/null || true
  SMTP_PID=
  SMTP_DOWN_AT=$(now)
}
start_smtp
: >"$W/smtp-windows.txt"

# ---- the config: duration-valued [digest] every and [http] when this binary accepts them ----
NOTES=()
if [ "$MINUTES" -ge 15 ]; then EVERY=5m; PERIOD=300; else EVERY=1m; PERIOD=60; fi
mkconf() {  # EVERY [HTTP_LISTEN]
  python3 "$HERE/mkconfig.py" --feeds-json "$W/feeds.json" --out "$CONF" --db "$W/data/soak.db" \
    --outbox-dir "$W/data/outbox" --smtp-port "$SMTP_PORT" --every "$1" ${2:+--http-listen "$2"}
}
mkconf hourly
sw config check >"$W/config-check.out" 2>&1 || { echo "soak.sh: the soak config is refused:" >&2; cat "$W/config-check.out" >&2; exit 1; }
mkconf "$EVERY"
if ! sw config check >"$W/config-check.out" 2>&1; then
  NOTES+=("[digest] every = \"$EVERY\" refused by this binary; ran with every = \"hourly\"")
  log "note: ${NOTES[-1]}"
  EVERY=hourly
  PERIOD=3600
fi
HTTP_LISTEN=
HTTP_PORT=$(free_port)
mkconf "$EVERY" "127.0.0.1:$HTTP_PORT"
if sw config check >"$W/config-check.out" 2>&1; then
  HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
else
  NOTES+=("[http] listen not accepted by this binary; /healthz and /metrics not scraped")
  log "note: ${NOTES[-1]}"
  mkconf "$EVERY"
  sw config check >"$W/config-check.out" 2>&1
fi

# ---- the plan ----
T=$((MINUTES * 60))
OUTAGE=$((2 * MINUTES)); [ "$OUTAGE" -gt 60 ] && OUTAGE=60; [ "$OUTAGE" -lt 10 ] && OUTAGE=10
START=$(now)
END=$((START + T))
# Outage i starts at ~i/3 of the run, moved a little later when that puts a digest period boundary
# inside it (the digest due then is queued while the server is down and must be retried).
outage_start() {
  local target=$((START + $1 * T / 3)) b
  b=$(( (target + PERIOD - 1) / PERIOD * PERIOD - OUTAGE / 4 ))
  if [ "$b" -ge "$target" ] && [ $((b + OUTAGE)) -le $((START + ($1 * 2 + 1) * T / 6)) ]; then echo "$b"; else echo "$target"; fi
}
DOWN1=$(outage_start 1); UP1=$((DOWN1 + OUTAGE))
DOWN2=$(outage_start 2); UP2=$((DOWN2 + OUTAGE))
log "soak: $MINUTES min, $FEEDS feeds ($FAILING always failing), digest every $EVERY, work dir $W"
log "feeds http://127.0.0.1:$(python3 -c "import json; print(json.load(open('$W/feeds.json'))['port'])")/feeds/, SMTP 127.0.0.1:$SMTP_PORT, http ${HTTP_LISTEN:-off}"
log "SMTP down at +$((DOWN1 - START))s and +$((DOWN2 - START))s for ${OUTAGE}s each"

# ---- the daemon ----
(cd "$W" && exec "$BIN" --config "$CONF" --log-format json run >"$W/daemon.out" 2>"$W/daemon.log") &
DAEMON_PID=$!
python3 "$HERE/monitor.py" --pid "$DAEMON_PID" --rss-csv "$W/rss.csv" \
  ${HTTP_LISTEN:+--http "$HTTP_LISTEN" --http-log "$W/http.jsonl"} >"$W/monitor.log" 2>&1 &
MON_PID=$!

progress() {
  python3 - "$W" "$1" <<'PY' || true
import csv, os, sqlite3, sys
w, el = sys.argv[1], int(sys.argv[2])
try:
    rows = list(csv.reader(open(os.path.join(w, "rss.csv"))))[1:]
    rss = f"{int(rows[-1][2]) / 1024:.0f} MB" if rows else "?"
    db = sqlite3.connect(f"file:{os.path.join(w, 'data', 'soak.db')}?mode=ro", uri=True, timeout=2)
    q = lambda s: db.execute(s).fetchone()[0]
    pending = q("SELECT count(*) FROM outbox WHERE status = 'pending'")
    mails = len(os.listdir(os.path.join(w, "mail", "new")))
    print(f"[+{el // 60:02d}:{el % 60:02d}] rss {rss}, {q('SELECT count(*) FROM poll_runs')} cycles, "
          f"{q('SELECT count(*) FROM stories')} stories, {q('SELECT count(*) FROM digests')} digests, "
          f"{pending} mails pending, {mails} received", flush=True)
except Exception as e:
    print(f"[+{el // 60:02d}:{el % 60:02d}] (progress unavailable: {e})", flush=True)
PY
}

NEXT_PROGRESS=$((START + 60))
while [ "$(now)" -lt "$END" ]; do
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    log "the daemon exited before the end of the soak"
    touch "$W/daemon.died-early"
    break
  fi
  t=$(now)
  if [ -n "$SMTP_PID" ] && { { [ "$t" -ge "$DOWN1" ] && [ "$t" -lt "$UP1" ]; } || { [ "$t" -ge "$DOWN2" ] && [ "$t" -lt "$UP2" ]; }; }; then
    log "SMTP server stopped"
    stop_smtp
  elif [ -z "$SMTP_PID" ] && ! { { [ "$t" -ge "$DOWN1" ] && [ "$t" -lt "$UP1" ]; } || { [ "$t" -ge "$DOWN2" ] && [ "$t" -lt "$UP2" ]; }; }; then
    start_smtp
    log "SMTP server started again"
  fi
  if [ "$t" -ge "$NEXT_PROGRESS" ]; then
    progress $((t - START))
    NEXT_PROGRESS=$((NEXT_PROGRESS + 60))
  fi
  sleep 1
done

# ---- stop: SIGTERM, a clean exit expected ----
SIGTERM_AT=$(now)
rc=0
if kill -0 "$DAEMON_PID" 2>/dev/null; then
  log "SIGTERM to the daemon"
  kill -TERM "$DAEMON_PID"
  for _ in $(seq 1200); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    log "the daemon did not stop within 120 s of SIGTERM; killing it"
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    rc=timeout
  else
    wait "$DAEMON_PID" || rc=$?
  fi
else
  wait "$DAEMON_PID" || rc=$?
fi
echo "$rc" >"$W/daemon.exit"
STOPPED_AT=$(now)
DAEMON_PID=
log "daemon exit status: $rc (stopped $((STOPPED_AT - SIGTERM_AT)) s after SIGTERM)"
kill -TERM "$MON_PID" 2>/dev/null || true
wait "$MON_PID" 2>/dev/null || true
MON_PID=

# ---- deliver what is left, then look ----
if [ -z "$SMTP_PID" ]; then
  start_smtp
  log "SMTP server started again"
fi
set +e
sw digest --send >"$W/final-digest.out" 2>&1; echo $? >"$W/final-digest.exit"
sw outbox retry >"$W/outbox-retry.out" 2>&1; echo $? >"$W/outbox-retry.exit"
sw outbox list --format json >"$W/outbox.json" 2>/dev/null
sw db check >"$W/dbcheck.out" 2>&1; echo $? >"$W/dbcheck.exit"
if "$BIN" status --help >/dev/null 2>&1; then
  echo status >"$W/status.source"
  sw status --format json >"$W/status.json" 2>"$W/status.err"
else
  echo "feeds list" >"$W/status.source"
  NOTES+=("\`stancewatch status\` not in this binary; problem feeds read from \`feeds list --format json\`")
  sw feeds list --format json >"$W/status.json" 2>"$W/status.err"
fi
set -e
log "digest --send: exit $(cat "$W/final-digest.exit"); outbox retry: exit $(cat "$W/outbox-retry.exit")"

kill -TERM "$FS_PID" 2>/dev/null || true; wait "$FS_PID" 2>/dev/null || true; FS_PID=
kill -TERM "$SMTP_PID" 2>/dev/null || true; wait "$SMTP_PID" 2>/dev/null || true; SMTP_PID=

python3 - "$W/settings.json" "$MINUTES" "$EVERY" "${HTTP_LISTEN:+1}" "$START" "$SIGTERM_AT" "${NOTES[@]+"${NOTES[@]}"}" <<'PY'
import json, sys
out, minutes, every, http, start, sigterm, *notes = sys.argv[1:]
json.dump({"minutes": int(minutes), "every": every, "http": bool(http), "daemon_started_at": int(start),
           "sigterm_at": int(sigterm), "ran_seconds": int(sigterm) - int(start), "notes": notes},
          open(out, "w"), indent=1)
PY

set +e
python3 "$HERE/check.py" "$W"
verdict=$?
set -e
if [ "$verdict" -eq 0 ] && [ -n "$MADE_WORK" ] && [ -z "${SOAK_KEEP:-}" ]; then
  rm -rf "$W"
else
  echo "work dir kept: $W"
fi
exit "$verdict"
