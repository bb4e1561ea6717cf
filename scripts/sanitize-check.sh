#!/usr/bin/env bash
# CI: the addon built with ASan + UBSan (CPU only, its own build folder) under the native-heavy tests: every op's
# CPU kernel against its reference, the N-API boundary (bad arguments to every export), safetensors and a tiny
# training run. A sanitizer report aborts the process, so the test fails. Node itself is not instrumented, hence
# LD_PRELOAD of the runtimes and detect_leaks=0 (V8 keeps memory until exit).
#   scripts/sanitize-check.sh            build + tests (about 5 min on 2 cores)
#   SKIP_BUILD=1 scripts/sanitize-check.sh   reuse $MRIGAN_BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
export MRIGAN_BUILD_DIR="${MRIGAN_BUILD_DIR:-build-asan}"
addon="$MRIGAN_BUILD_DIR/Release/mrigan.node"
if [ -z "${SKIP_BUILD:-}" ]; then
  MRIGAN_SANITIZE=1 MRIGAN_NO_CUDA=1 node scripts/build-native.js --force
fi
# build-native.js falls back to node-gyp (no sanitizers, ./build) when cmake fails: refuse anything but an ASan build.
# (grep reads all of ldd's output: with -q it may exit first, and pipefail then fails the check on ldd's SIGPIPE.)
if ! ldd "$addon" 2>/dev/null | grep libasan >/dev/null; then
  echo "sanitize-check: $addon is missing or not linked against libasan (did the cmake-js build fail?)" >&2
  exit 1
fi
npx tsc -p tsconfig.json
asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
tests=(engine/tensor engine/ops/elementwise engine/ops/act engine/ops/dense engine/ops/conv engine/ops/conv_direct
  engine/ops/conv_direct_wgrad engine/ops/conv_wino engine/ops/norm engine/ops/loss engine/ops/adam engine/ops/rng engine/ops/gp engine/ops/rop
  engine/ops/scalars engine/ops/gemm napi/boundary nn/safetensors nn/layers nn/sync_norm metrics/blas64)
files=()
for t in "${tests[@]}"; do files+=("dist/test/$t.test.js"); done
echo "sanitize-check: ${#files[@]} test files against $addon"
LD_PRELOAD="$asan $ubsan" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0:allocator_may_return_null=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1" \
MRIGAN_ADDON="$addon" MRIGAN_DEVICE=cpu MRIGAN_THREADS="${MRIGAN_THREADS:-2}" \
  npx mocha --no-config --reporter dot --timeout 600000 "${files[@]}"
echo "sanitize-check: passed"
