#!/usr/bin/env bash
# Times the web view's pages on a database (a benchmark, not a test): `stancewatch serve` on
# 127.0.0.1, each page fetched once on a freshly started server (cold: nothing kept in memory;
# histories come from the summaries the last timeline refresh saved) and then five times more
# (warm: median), as curl's total time.
#
#   scripts/web-bench.sh DB [BIN=target/release/stancewatch] [PORT=18095]
#
# Environment: WEB_BENCH_WORDS, the words searched on /stories (default "glacier Zuckerberg":
# scale.sh's common word and one that never occurs).
set -euo pipefail
DB=${1:?usage: web-bench.sh DB [BIN] [PORT]}
BIN=$(realpath "${2:-target/release/stancewatch}")
PORT=${3:-18095}
[ -x "$BIN" ] || { echo "no binary at $BIN: build with cargo build --release" >&2; exit 2; }
PID=
stop() { [ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=; }; }
trap stop EXIT
start() {
  "$BIN" --db "$DB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "web-bench.sh: the server did not start" >&2; exit 1
}
fetch() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$PORT$1"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }

pages=("/" "/org/meta" "/changes" "/stories" "/stories?relevant=1" "/api/stances")
for w in ${WEB_BENCH_WORDS:-glacier Zuckerberg}; do pages+=("/stories?q=$w"); done
printf '%-34s %10s %10s %6s\n' page cold_ms warm_ms status
for p in "${pages[@]}"; do
  start
  read -r code cold < <(fetch "$p")
  warm=$(for _ in 1 2 3 4 5; do fetch "$p" | cut -d' ' -f2; done | sort -n | sed -n 3p)
  stop
  printf '%-34s %10s %10s %6s\n' "$p" "$(ms "$cold")" "$(ms "$warm")" "$code"
done
