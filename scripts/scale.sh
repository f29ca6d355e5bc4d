#!/usr/bin/env bash
# How stancewatch scales: a poll cycle over many feeds, and queries over a large database.
#
#   scripts/scale.sh [--feeds N] [--items N] [--stories N] [--chunk N] [--import-budget SECONDS]
#                    [--skip-feeds] [--skip-db] [--reuse-db]
#
#   --feeds N          feeds for the poll measurement (default 10000)
#   --items N          items per feed (default 20)
#   --stories N        stories for the database measurement (default 1000000)
#   --chunk N          items per `import` call (default 100000)
#   --import-budget S  stop importing further chunks once the import has taken S seconds
#                      (default 1800); the figures then say how many stories were stored
#   --skip-feeds       skip part 1 (the poll cycle)
#   --skip-db          skip part 2 (the large database)
#   --reuse-db         part 2 times the queries on the database a previous run left in the work
#                      directory (after `db migrate`, untimed) instead of building it again
#
# Environment: STANCEWATCH_BIN (a built binary; otherwise `cargo build --release` is run),
# SCALE_WORK (work directory, kept afterwards; default /tmp/stancewatch-scale), SCALE_PORT
# (nginx port on 127.0.0.1, default 18090), SCALE_SEARCH (words for `stories --search`,
# default "glacier Zuckerberg": one common in the generated text, one that never occurs),
# SCALE_QUERY_TIMEOUT (seconds one query run may take before it is stopped, default 900; a query
# whose first run takes over 60 s is not repeated).
#
# Part 1 serves N generated RSS feeds (../shared/bench/gen_feeds.py) from nginx on 127.0.0.1 with
# ETag and Last-Modified, then times `poll --all` on a fresh database (wall seconds and peak RSS
# from /usr/bin/time -v, stories stored) and a second `poll --all`, the steady state in which
# every response must be 304 Not Modified (checked from the poll summary).
# Part 2 generates synthetic archived news as JSON Lines (scripts/scale/gen_import.py: ~10% about
# AI organisations' open or closed releases, published 2019-2026, in published order), imports it
# chunk by chunk into a fresh database (items/s), reports its size and story count, then times
# stories / stories --entity / stories --search (the SCALE_SEARCH words, and a rare word picked from
# the full-text index's vocabulary) / history / stances / changes / status (when the
# binary has it), three runs each (median wall), and writes the row counts the query times
# depend on (scripts/scale/explain.sql) to the work directory.
# Every measurement records /proc/loadavg before and after, since other jobs may share the machine.
# The binary is copied into the work directory first, so rebuilds of target/ do not disturb a run.
#
# Takes about 30 minutes on 2 shared cores with the defaults (load ~3), longer on a busier machine:
# part 1 ~6 minutes (generating the feeds ~1 minute the first time; the first poll ~1 minute of
# fetching and storing plus ~4 minutes of timeline refresh; the second ~3 s); part 2 ~22 minutes
# (generating the archive ~2 minutes the first time, importing 1,000,000 stories ~4 minutes,
# queries the rest, most of it `stories --entity` running into SCALE_QUERY_TIMEOUT and
# `stories --search` for a word that never occurs, ~3 minutes). Needs ~3 GB of disk in the work
# directory.
#
# Installs nginx, GNU time and sqlite3 from Debian when missing. Talks to 127.0.0.1 only; stops
# what it started (nginx) on exit.
set -euo pipefail

FEEDS=10000 ITEMS=20 STORIES=1000000 CHUNK=100000 BUDGET=1800 SKIP_FEEDS= SKIP_DB= REUSE_DB=
while [ $# -gt 0 ]; do
  case "$1" in
    --feeds) FEEDS=$2; shift 2 ;;
    --items) ITEMS=$2; shift 2 ;;
    --stories) STORIES=$2; shift 2 ;;
    --chunk) CHUNK=$2; shift 2 ;;
    --import-budget) BUDGET=$2; shift 2 ;;
    --skip-feeds) SKIP_FEEDS=1; shift ;;
    --skip-db) SKIP_DB=1; shift ;;
    --reuse-db) REUSE_DB=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=$(cd "$ROOT/../shared" 2>/dev/null && pwd || true)
W=${SCALE_WORK:-/tmp/stancewatch-scale}
PORT=${SCALE_PORT:-18090}
SEARCH_WORDS=${SCALE_SEARCH:-glacier Zuckerberg}
QUERY_TIMEOUT=${SCALE_QUERY_TIMEOUT:-900}
mkdir -p "$W/logs"
W=$(realpath "$W")
FIG="$W/figures.txt"
: >"$FIG"

need_apt=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian packages)..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The binary under test, copied so that concurrent rebuilds of target/ cannot swap it mid-run.
if [ -n "${STANCEWATCH_BIN:-}" ]; then
  SRC_BIN=$(realpath "$STANCEWATCH_BIN")
else
  (cd "$ROOT" && cargo build --release --quiet)
  SRC_BIN="$ROOT/target/release/stancewatch"
fi
[ -x "$SRC_BIN" ] || { echo "scale.sh: no binary at $SRC_BIN" >&2; exit 2; }
mkdir -p "$W/bin"
cp "$SRC_BIN" "$W/bin/stancewatch.new" && mv "$W/bin/stancewatch.new" "$W/bin/stancewatch"
SW="$W/bin/stancewatch"
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')

NGINX_PID=
cleanup() {
  if [ -n "$NGINX_PID" ]; then
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fig() { printf '%s\n' "$*" | tee -a "$FIG"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# measure NAME CMD...: runs CMD under /usr/bin/time -v (stdout to logs/NAME.out, stderr and the
# time report to logs/NAME.err); sets WALL (seconds), RSS_MB (peak), LOAD0 and LOAD1.
measure() {
  local name=$1; shift
  LOAD0=$(load)
  local rc=0
  /usr/bin/time -v -o "$W/logs/$name.time" "$@" >"$W/logs/$name.out" 2>"$W/logs/$name.err" || rc=$?
  LOAD1=$(load)
  [ $rc -eq 0 ] || { echo "scale.sh: $name failed (exit $rc), see $W/logs/$name.err" >&2; tail -n 5 "$W/logs/$name.err" >&2; return $rc; }
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$W/logs/$name.time")
  RSS_MB=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$W/logs/$name.time")
}

# --- Part 1: one poll cycle over many feeds, then the steady state (all 304) -------------------
poll_part() {
  local www="$W/feeds/www" stamp="$W/feeds/stamp" want="$FEEDS x $ITEMS"
  [ -n "$SHARED" ] && [ -f "$SHARED/bench/gen_feeds.py" ] || { echo "scale.sh: ../shared/bench/gen_feeds.py not found" >&2; exit 2; }
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "generating $FEEDS feeds x $ITEMS items..."
    rm -rf "$W/feeds"; mkdir -p "$www"
    python3 "$SHARED/bench/gen_feeds.py" "$www" "$FEEDS" "$ITEMS" "http://127.0.0.1:$PORT" >/dev/null
    echo "$want" >"$stamp"
  fi
  chmod -R a+rX "$W/feeds"

  if (: </dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
    echo "scale.sh: 127.0.0.1:$PORT is in use; set SCALE_PORT" >&2; exit 1
  fi
  local user=; [ "$(id -u)" = 0 ] && user="user root;"  # workers must read $W wherever it is
  cat >"$W/nginx.conf" <<EOF
$user
worker_processes 2;
pid $W/nginx.pid;
error_log $W/logs/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  types { application/rss+xml xml; }
  server { listen 127.0.0.1:$PORT; root $www; etag on; if_modified_since exact; }
}
EOF
  "$(command -v nginx || echo /usr/sbin/nginx)" -c "$W/nginx.conf" -p "$W" -g 'daemon off;' &
  NGINX_PID=$!
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/feed00000.xml" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/feed00000.xml" || { echo "scale.sh: nginx did not start" >&2; exit 1; }

  # [poll] concurrency stays at its default (32 feeds at once). per_host is raised from 2 to the
  # same 32: every generated feed is on 127.0.0.1, so with the default per-host cap the whole
  # cycle would run two requests at a time and measure the politeness limit, not the program.
  # Real subscriptions spread over many hosts, where the global limit is the one that binds.
  {
    printf '[storage]\ndatabase = "%s/feeds.db"\n\n' "$W"
    printf '[poll]\nconcurrency = 32\nper_host = 32\n\n'
    printf '[email]\ntransport = "file"\noutbox_dir = "%s/outbox"\n\n' "$W"
    for ((i = 0; i < FEEDS; i++)); do printf '[[feed]]\nurl = "http://127.0.0.1:%s/feed%05d.xml"\n' "$PORT" "$i"; done
  } >"$W/feeds.toml"
  rm -f "$W/feeds.db" "$W/feeds.db-wal" "$W/feeds.db-shm"

  echo "poll 1: $FEEDS feeds on a fresh database..."
  measure poll1 "$SW" --config "$W/feeds.toml" poll --all
  local w1=$WALL r1=$RSS_MB l10=$LOAD0 l11=$LOAD1
  local sum1; sum1=$(grep -m1 '^polled' "$W/logs/poll1.out" || true)
  local stored; stored=$(sqlite3 "$W/feeds.db" 'SELECT count(*) FROM stories')
  # poll_runs spans fetching, parsing, classifying, clustering and storing; the rest of the wall
  # time is start-up (config sync) and the timeline refresh after the cycle.
  local cycle; cycle=$(sqlite3 "$W/feeds.db" \
    "SELECT CAST(round((julianday(finished_at) - julianday(started_at)) * 86400) AS INTEGER) FROM poll_runs ORDER BY id DESC LIMIT 1")
  echo "poll 2: steady state..."
  measure poll2 "$SW" --config "$W/feeds.toml" poll --all
  local w2=$WALL r2=$RSS_MB l20=$LOAD0 l21=$LOAD1
  local sum2; sum2=$(grep -m1 '^polled' "$W/logs/poll2.out" || true)
  local nm; nm=$(sed -n 's/.* \([0-9]*\) not modified.*/\1/p' <<<"$sum2")
  local verdict="NOT all 304"
  [ "$nm" = "$FEEDS" ] && verdict="all $FEEDS not modified"

  fig "## poll cycle: $FEEDS feeds x $ITEMS items, nginx on 127.0.0.1, concurrency 32, per_host 32"
  fig "first  poll --all (fresh db): wall ${w1} s, peak RSS ${r1} MB, stories stored ${stored} (expected $((FEEDS * ITEMS)))  load ${l10} -> ${l11}"
  fig "  fetch+parse+classify+cluster+store (poll_runs): ${cycle} s; start-up and timeline refresh: $(awk -v w="$w1" -v c="$cycle" 'BEGIN { printf "%.0f", w - c }') s"
  fig "  summary: ${sum1}"
  fig "second poll --all (steady)  : wall ${w2} s, peak RSS ${r2} MB, ${verdict}  load ${l20} -> ${l21}"
  fig "  summary: ${sum2}"
  cleanup; NGINX_PID=
}

# --- Part 2: a large database and the queries over it ---------------------------------------
db_part() {
  local dir="$W/import" stamp="$W/import/stamp" want="$STORIES items, chunks of $CHUNK, seed 7"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "generating $STORIES items..."
    rm -rf "$dir"; mkdir -p "$dir"
    python3 "$HERE/scale/gen_import.py" "$dir" "$STORIES" "$CHUNK" 7 >"$W/logs/gen_import.out"
    echo "$want" >"$stamp"
  fi
  local db="$W/big.db"
  if [ -n "$REUSE_DB" ]; then
    [ -f "$db" ] || { echo "scale.sh: --reuse-db: no database at $db" >&2; exit 2; }
    "$SW" --db "$db" db migrate >"$W/logs/migrate.out" 2>&1
    fig "## database: reused $db (built by an earlier run; migrated by this binary)"
    db_stats "$db"
    queries "$db"
    return
  fi
  rm -f "$db" "$db-wal" "$db-shm"

  local total_wall=0 items=0 peak=0 chunks=0 la0 la1 lines
  la0=$(load)
  : >"$W/logs/import-chunks.txt"
  for f in "$dir"/chunk-*.jsonl; do
    if awk -v t="$total_wall" -v b="$BUDGET" 'BEGIN { exit !(t >= b) }'; then
      echo "import budget of ${BUDGET} s reached; stopping after $chunks chunks"; break
    fi
    lines=$(wc -l <"$f")
    measure "import-$(basename "$f" .jsonl)" "$SW" --db "$db" import --source archive "$f"
    total_wall=$(awk -v a="$total_wall" -v b="$WALL" 'BEGIN { printf "%.2f", a + b }')
    items=$((items + lines)); chunks=$((chunks + 1))
    peak=$(awk -v a="$peak" -v b="$RSS_MB" 'BEGIN { print (b > a ? b : a) }')
    printf '%s: %d items in %s s (%.0f items/s), peak RSS %s MB, load %s -> %s\n' "$(basename "$f")" "$lines" \
      "$WALL" "$(awk -v n="$lines" -v s="$WALL" 'BEGIN { print n / (s > 0 ? s : 0.01) }')" "$RSS_MB" "$LOAD0" "$LOAD1" \
      | tee -a "$W/logs/import-chunks.txt"
  done
  la1=$(load)
  fig "## database: $items items imported in $chunks chunks of $CHUNK"
  fig "import: ${total_wall} s total, $(awk -v n="$items" -v s="$total_wall" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 0.01) }') items/s, peak RSS ${peak} MB  load ${la0} -> ${la1}"
  fig "  first chunk: $(head -n 1 "$W/logs/import-chunks.txt")"
  fig "  last chunk : $(tail -n 1 "$W/logs/import-chunks.txt")"
  db_stats "$db"
  queries "$db"
}

db_stats() {
  local db=$1 count mb clusters relevant changes
  sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  count=$(sqlite3 "$db" 'SELECT count(*) FROM stories')
  clusters=$(sqlite3 "$db" 'SELECT count(DISTINCT cluster_id) FROM stories')
  relevant=$(sqlite3 "$db" 'SELECT count(*) FROM stories WHERE relevant = 1')
  changes=$(sqlite3 "$db" "SELECT count(*) FROM change_events WHERE withdrawn_at IS NULL")
  mb=$(awk -v b="$(stat -c %s "$db")" 'BEGIN { printf "%.0f", b / 1048576 }')

  fig "db: ${count} stories, ${clusters} clusters, ${relevant} relevant, ${changes} change events, ${mb} MB"
  # The full-text index's share of the file (dbstat: pages of the story_search shadow tables).
  local fts
  fts=$(sqlite3 "$db" "SELECT printf('%.0f', sum(pgsize) / 1048576.0) FROM dbstat WHERE name LIKE 'story_search%'" 2>/dev/null || true)
  [ -n "$fts" ] && fig "  of which the full-text index (story_search): ${fts} MB"

}

# Queries: three runs each, median wall time; > 1 s is marked slow.
queries() {
  local db=$1
  local queries=("stories --limit 50" "stories --entity meta --limit 50")
  local word
  for word in $SEARCH_WORDS; do queries+=("stories --search $word --limit 50"); done
  # A rare word: the case the full-text index (story_search) is for. The least frequent word
  # (letters only, in at least 3 stories) of the index's own vocabulary, picked untimed; the
  # generator's vocabulary is small, so it is in ~0.07% of the stories.
  local rare
  rare=$(sqlite3 "$db" "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, story_search, row);
    SELECT term || ' ' || doc FROM temp.vocab WHERE doc >= 3 AND length(term) >= 4
      AND term NOT GLOB '*[^a-z]*' ORDER BY doc, term LIMIT 1" 2>/dev/null || true)
  if [ -n "$rare" ]; then
    fig "rare word for the full-text search: ${rare% *} (in ${rare#* } stories)"
    queries+=("stories --search ${rare% *} --limit 50" "stories --all --search ${rare% *} --limit 50")
  else
    fig "(no rare word found: no story_search index in this database?)"
  fi
  queries+=("history meta" "stances" "changes")
  if "$SW" status --help >/dev/null 2>&1; then queries+=("status"); else fig "(no status command in this binary)"; fi
  fig "query (median of 3 wall s; the runs; peak RSS MB; load before -> after)"
  local q i walls rss name med slow rc
  for q in "${queries[@]}"; do
    walls=() rss=0 name=$(tr ' ' '_' <<<"q-$q")
    local q0 q1
    q0=$(load)
    for i in 1 2 3; do
      rc=0
      # shellcheck disable=SC2086  # the query's words are its arguments
      measure "$name.$i" timeout "$QUERY_TIMEOUT" "$SW" --db "$db" $q || rc=$?
      if [ $rc -eq 124 ]; then
        fig "$(printf '  %-44s > %s s (stopped after %s s; not repeated)  load %s -> %s  SLOW' "$q" "$QUERY_TIMEOUT" "$QUERY_TIMEOUT" "$q0" "$(load)")"
        continue 2
      elif [ $rc -ne 0 ]; then
        fig "  $q: failed (see $W/logs/$name.$i.err)"; continue 2
      fi
      walls+=("$WALL")
      rss=$(awk -v a="$rss" -v b="$RSS_MB" 'BEGIN { print (b > a ? b : a) }')
      awk -v w="$WALL" 'BEGIN { exit !(w > 60) }' && break  # too slow to repeat
    done
    q1=$(load)
    med=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(((${#walls[@]} + 1) / 2))p")
    slow=; awk -v m="$med" 'BEGIN { exit !(m > 1) }' && slow="  SLOW"
    fig "$(printf '  %-44s %7s s  (%s)  %6s MB  load %s -> %s%s' "$q" "$med" "${walls[*]}" "$rss" "$q0" "$q1" "$slow")"
  done

  sqlite3 "$db" <"$HERE/scale/explain.sql" >"$W/explain.txt" 2>&1 || true
  fig "row counts: $W/explain.txt"
}

fig "# stancewatch scale run $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $REV, $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
fig "binary: $SRC_BIN (copied to $SW); work dir: $W"
[ -n "$SKIP_FEEDS" ] || poll_part
[ -n "$SKIP_DB" ] || db_part
echo
echo "===== figures ($FIG) ====="
cat "$FIG"
