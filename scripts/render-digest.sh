#!/usr/bin/env bash
# Render a digest to PNG with headless Chromium, to look at it as a mail client would.
#
#   scripts/render-digest.sh [OUT_DIR]      (default: target/digest-render)
#
# Builds stancewatch, imports labelled news from ../shared/corpus/dev.jsonl (or a few built-in
# items when it is absent) into a scratch database, composes the digest's HTML with
# `digest --dry-run --html`, and screenshots it. Installs Debian's chromium if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/digest-render}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")

if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --release --quiet
BIN=target/release/stancewatch
DB="$OUT/render.db"
rm -f "$DB" "$DB"-wal "$DB"-shm

ITEMS="$OUT/items.jsonl"
if [ -f ../shared/corpus/dev.jsonl ]; then
  python3 -c '
import json, sys
for line in open("../shared/corpus/dev.jsonl"):
    d = json.loads(line)
    print(json.dumps({k: d[k] for k in ("id", "title", "summary", "url", "published")}))' > "$ITEMS"
else
  cat > "$ITEMS" <<'JSON'
{"id":"1","title":"Meta releases Llama 5 as open weights under a permissive licence","url":"https://one.example/1","published":"2026-11-20"}
{"id":"2","title":"OpenAI keeps its next AI model proprietary and API-only","url":"https://two.example/2","published":"2026-11-21"}
{"id":"3","title":"Mistral AI open-sources a new coding model under Apache 2.0","url":"https://three.example/3","published":"2026-11-22"}
JSON
fi
"$BIN" --db "$DB" import "$ITEMS" --source archive
"$BIN" --db "$DB" digest --dry-run --html --since 2000-01-01 > "$OUT/digest.html"

chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" --hide-scrollbars \
  --window-size=900,2400 --screenshot="$OUT/digest.png" "file://$OUT/digest.html" 2>/dev/null
echo "wrote $OUT/digest.html and $OUT/digest.png"
