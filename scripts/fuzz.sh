#!/usr/bin/env bash
# Coverage-guided fuzzing of the whole feed input path (fuzz target `feed_pipeline`: response
# body → charset detection and feed parsing → identity → dedup signature and clustering → stance
# classification; see fuzz/pipeline.rs).
#
#   scripts/fuzz.sh [--minutes N]     fuzz for N minutes (default 10), one libFuzzer process
#   scripts/fuzz.sh --replay          run every corpus file once: the "no input panics" check
#
# Installs cargo-fuzz if it is missing (the nightly toolchain is used as `cargo +nightly`).
# Seeds fuzz/corpus/feed_pipeline/ from every file under ../shared/feeds/ (skipped, with a
# message, when ../shared is absent) and from tests/fuzz_regressions/; the corpus stays out of
# git. At the end prints executions, exec/s, corpus size, coverage (libFuzzer's cov/ft) and the
# crashes in fuzz/artifacts/feed_pipeline/, and exits non-zero if there is any crash (a crash,
# timeout, out-of-memory or leak artifact). Reproduce one with
# `cargo +nightly fuzz run feed_pipeline fuzz/artifacts/feed_pipeline/<file>` and minimise it
# with `cargo +nightly fuzz tmin feed_pipeline <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=feed_pipeline
MINUTES=10
REPLAY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes)
      [ $# -ge 2 ] || { echo "--minutes needs a number" >&2; exit 2; }
      MINUTES=$2
      shift 2
      ;;
    --minutes=*) MINUTES=${1#--minutes=}; shift ;;
    --replay) REPLAY=1; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$MINUTES" in
  '' | *[!0-9]* | 0) echo "--minutes wants a whole number of minutes above 0, not '$MINUTES'" >&2; exit 2 ;;
esac

CORPUS=fuzz/corpus/$TARGET
ARTIFACTS=fuzz/artifacts/$TARGET
mkdir -p "$CORPUS" "$ARTIFACTS" fuzz/target
LOG=fuzz/target/$TARGET.log

# Tools.
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "installing the nightly toolchain..."
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz..."
  cargo install cargo-fuzz --locked
fi

# Seeds: one corpus file per shared feed, named after its path (copied once).
seed_from() { # DIR PREFIX
  local dir=$1 prefix=$2 n=0 f name
  while IFS= read -r -d '' f; do
    name=$prefix$(printf '%s' "${f#"$dir"/}" | tr '/ ' '__')
    if [ ! -e "$CORPUS/$name" ]; then
      install -m 0644 "$f" "$CORPUS/$name"
      n=$((n + 1))
    fi
  done < <(find "$dir" -type f -print0)
  echo "seeds from $dir: $n new"
}
if [ -d ../shared/feeds ]; then
  seed_from ../shared/feeds seed-
else
  echo "NOTE: ../shared/feeds is absent: no shared seeds; fuzzing starts from the existing corpus"
fi
seed_from tests/fuzz_regressions regression-

echo "building the fuzz target (the first build takes several minutes)..."
cargo +nightly fuzz build "$TARGET"

MARK=$(mktemp)
trap 'rm -f "$MARK"' EXIT
STARTED=$SECONDS
COMMON=(-rss_limit_mb=2048 -timeout=30 -print_final_stats=1)
set +e
if [ "$REPLAY" = 1 ]; then
  echo "replaying $(find "$CORPUS" -type f | wc -l) corpus files (log: $LOG)..."
  # No length limit below the largest feed: every file runs whole.
  cargo +nightly fuzz run "$TARGET" "$CORPUS" -- -runs=0 -max_len=8388608 "${COMMON[@]}" 2>&1 | tee "$LOG"
else
  echo "fuzzing $TARGET for $MINUTES minutes, one process (log: $LOG)..."
  cargo +nightly fuzz run "$TARGET" "$CORPUS" -- \
    -max_total_time=$((MINUTES * 60)) -max_len=262144 "${COMMON[@]}" 2>&1 | tee "$LOG"
fi
STATUS=${PIPESTATUS[0]}
set -e

# Figures from libFuzzer's last status line ("#N DONE cov: C ft: F corp: K/S ... exec/s: E")
# and its final stats.
last_status=$(grep -E '^#[0-9]+' "$LOG" | grep 'cov:' | tail -n 1 || true)
field() { printf '%s\n' "$last_status" | grep -oE "$1: [^ ]+" | head -n 1 | cut -d' ' -f2; }
final_stat() { grep -E "^stat::$1:" "$LOG" | tail -n 1 | awk '{print $2}'; }
crashes=()
while IFS= read -r -d '' f; do crashes+=("$f"); done < <(
  find "$ARTIFACTS" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -print0
)
new_crashes=$(find "$ARTIFACTS" -type f -newer "$MARK" ! -name 'slow-unit-*' | wc -l)
slow_units=$(find "$ARTIFACTS" -type f -name 'slow-unit-*' | wc -l)

echo
echo "== $TARGET: $([ "$REPLAY" = 1 ] && echo replay || echo "fuzz run of $MINUTES min") =="
fuzz_secs=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$LOG" | tail -n 1 | awk '{print $5}' || true)
echo "time:            ${fuzz_secs:-?} s in libFuzzer, $((SECONDS - STARTED)) s in all (after the build)"
echo "executions:      $(final_stat number_of_executed_units || true)"
echo "exec/s:          $(final_stat average_exec_per_sec || true)"
echo "new units:       $(final_stat new_units_added || true)"
echo "peak RSS:        $(final_stat peak_rss_mb || true) MB"
echo "corpus:          $(find "$CORPUS" -type f | wc -l) files in $CORPUS; libFuzzer's corp: $(field corp)"
echo "coverage:        cov: $(field cov)  ft: $(field ft)"
echo "slow units:      $slow_units (slow-unit-* in $ARTIFACTS; not failures)"
echo "crashes:         ${#crashes[@]} in $ARTIFACTS ($new_crashes from this run)"
for f in "${crashes[@]}"; do echo "  $f"; done
if [ "${#crashes[@]}" -gt 0 ] || [ "$STATUS" -ne 0 ]; then
  echo "FAILED: libFuzzer exit status $STATUS; see $LOG" >&2
  exit 1
fi
echo "no crashes"
