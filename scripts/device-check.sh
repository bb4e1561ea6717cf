#!/usr/bin/env bash
# scripts/device-check.sh — everything the lent GPU machine has to tell us, in one command of ≤ 7 minutes:
#   1. GPU-vs-CPU parity tests, with MRIGAN_CUDA_DEBUG=1 (synchronise + check after every launch, so a failing kernel
#      names itself): the op files test/engine/ops/*.test.js (each op's CPU cases and its `[cuda:N]` parity cases:
#      every op, every conv kernel, fused epilogues), test/engine/cuda/*.test.js (runtime, allocator, full-size conv
#      rows, fused Sequential), test/train/gpu*.test.js (GP gradient, training losses, whole DCGAN-256 /
#      WGAN-GP-256 iterations) and test/dist/nccl.test.js (the NCCL path as a 1-rank world: training through NCCL =
#      training without it);
#   2. PyTorch + cuDNN timings on the same card (bench/reference/gpu_ops.py): every DCGAN-256 conv layer shape in
#      forward / backward-data / backward-weight and whole training iterations, fp32 and TF32, batches 8 and 64;
#   3. InceptionV3 feature extraction (FID features), mrigan vs PyTorch + cuDNN on the same card
#      (bench/fid-inception-gpu.js: batch 64 at 299², fp32, torchvision's inception_v3 with the same weights);
#      then the DCGAN timings of mrigan (bench/gpu.js), which prints the comparison table;
#   4. if time is left, compute-sanitizer memcheck over a few conv kernels.
# Full logs go to $OUT (the device tool returns that folder); the short table is printed last.
#
# Here (no GPU), in this order:
#   scripts/device-check.sh --prepare    build the device addon (build-device/: CUDA sm_90, portable x86-64-v3, no
#                                        OpenBLAS and no MPI, which the GPU machine lacks), compile the TypeScript,
#                                        copy the runtime node_modules closure (mocha, chai, pngjs, cli-progress,
#                                        nifti-reader-js: ~9 MiB) and libgomp to .device/, run ../shared/device/pack.sh
#                                        (node ≈ 23 MiB) and print the carry size (limit 64 MiB)
#   scripts/device-check.sh --dry-run    the whole script with the GPU parts skipped (tests skip and say why,
#                                        PyTorch/mrigan timings skip), to check the plumbing before spending device time
# There, one call of the device tool (shared/device/README.md):
#   run(command="bash .device/run.sh bash scripts/device-check.sh",
#       carry=[".device", "build-device/Release", "dist"], timeout_s=500)
# Then append $OUT/gpu-table.md (card, date, table) and what changed because of it to bench/NOTES.md.
# Time: tests ≤ DC_TESTS (200) s; the timing stages share what is left of DC_TOTAL (420) s (PyTorch ≤ DC_TORCH,
# InceptionV3 ≤ DC_INCEPTION (40), mrigan ≤ DC_MRIGAN), each stopping new rows at its budget and keeping the rest;
# memcheck only if ≥ 40 s remain.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=run
case "${1:-}" in
  --prepare) mode=prepare ;;
  --dry-run) mode=dry ;;
  "") ;;
  *) echo "usage: scripts/device-check.sh [--prepare | --dry-run]" >&2; exit 2 ;;
esac
BUILD=build-device

# ------------------------------------------------------------------------------------------------ prepare (here)
if [ "$mode" = prepare ]; then
  set -e
  command -v nvcc >/dev/null || { echo "nvcc not found: the device addon needs CUDA" >&2; exit 1; }
  echo "== building $BUILD (CUDA sm_90, portable, no OpenBLAS, no MPI)"
  node_modules/.bin/cmake-js compile -O "$BUILD" --CDCMAKE_CUDA_ARCHITECTURES=90 --CDMRIGAN_NATIVE=OFF \
    --CDCMAKE_DISABLE_FIND_PACKAGE_MPI=ON --CDOPENBLAS_LIB=OFF \
    > /tmp/device-build.log 2>&1 || { tail -30 /tmp/device-build.log; exit 1; }
  LD_BIND_NOW=1 node -e "const m=require('./$BUILD/Release/mrigan.node'); const i=m.info();
    if (!i.cuda || i.blas !== 'builtin' || i.mpi) { console.error('unexpected build', i); process.exit(1) }
    console.log('addon loads, all symbols bound:', JSON.stringify(i))"
  echo "   needs: $(ldd "$BUILD/Release/mrigan.node" | awk '{print $1}' | grep -v linux-vdso | tr '\n' ' ')"
  echo "== compiling TypeScript"
  npx tsc -p tsconfig.json
  echo "== .device/node_modules: runtime closure of mocha chai pngjs cli-progress nifti-reader-js"
  mkdir -p .device
  rm -rf .device/node_modules .device/lib
  mkdir -p .device/node_modules .device/lib
  node -e '
    const fs = require("fs"), path = require("path"), root = process.cwd(), seen = new Set();
    function resolve(name, dir) {
      for (let d = dir; ; ) {
        const p = path.join(d, "node_modules", name);
        if (fs.existsSync(path.join(p, "package.json"))) return p;
        if (d === root || d === path.dirname(d)) return null;
        d = path.dirname(d);
        if (path.basename(d) === "node_modules") d = path.dirname(d);
      }
    }
    function visit(dir) {
      if (seen.has(dir)) return;
      seen.add(dir);
      const pj = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
      for (const dep of Object.keys({ ...(pj.dependencies || {}), ...(pj.optionalDependencies || {}) })) {
        const p = resolve(dep, dir);
        if (p) visit(p);
      }
    }
    for (const r of ["mocha", "chai", "pngjs", "cli-progress", "nifti-reader-js"]) visit(resolve(r, root));
    for (const d of seen) {
      const rel = path.relative(path.join(root, "node_modules"), d);
      fs.cpSync(d, path.join(root, ".device/node_modules", rel), { recursive: true });
    }
    console.log("   " + seen.size + " packages");'
  for lib in libgomp.so.1; do
    p=$(ldd "$BUILD/Release/mrigan.node" | awk -v l="$lib" '$1 == l {print $3}')
    [ -n "$p" ] && cp -L "$p" .device/lib/ && echo "   fallback copy of $lib (used only if the GPU machine lacks it)"
  done
  echo "== packing node (../shared/device/pack.sh)"
  ../shared/device/pack.sh "$BUILD/Release" dist
  echo "   tracked files: $(git ls-files | xargs du -cb 2>/dev/null | tail -1 | cut -f1) bytes"
  echo
  echo 'ready. dry-run here:  scripts/device-check.sh --dry-run'
  echo 'then on the GPU:      run(command="bash .device/run.sh bash scripts/device-check.sh", carry=[".device", "build-device/Release", "dist"], timeout_s=500)'
  exit 0
fi

# ------------------------------------------------------------------------------------------------ run / dry-run
start=$(date +%s)
OUT=${OUT:-/tmp/device-check-out}
mkdir -p "$OUT"
elapsed() { echo $(( $(date +%s) - start )); }
say() { echo "[$(elapsed) s] $*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"

[ -f "$BUILD/Release/mrigan.node" ] || BUILD=build-cuda   # dry-run on a machine that has not run --prepare
export MRIGAN_BUILD_DIR=$BUILD
if [ -d .device/node_modules ]; then export NODE_PATH="$root/.device/node_modules"; MODS=.device/node_modules
else MODS=node_modules; fi
if ldd "$BUILD/Release/mrigan.node" 2>/dev/null | grep -q "not found"; then
  export LD_LIBRARY_PATH="$root/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"   # only what the addon lacks
fi
MOCHA=(node "$MODS/mocha/bin/mocha.js" --no-config --reporter spec --timeout 600000)
PY=python3
$PY -c "import torch" 2>/dev/null || { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null && PY=/usr/bin/python3; }
if [ "$mode" = dry ]; then
  say "DRY RUN: GPU parts skip (tests report why, timings print 'skipped')"
  export CUDA_VISIBLE_DEVICES=""   # PyTorch sees no GPU even on a GPU machine; mrigan's addon has none here
fi

{ nvidia-smi 2>&1 || echo "nvidia-smi: not available"; } > "$OUT/nvidia-smi.txt"
say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none)"
say "node $(node --version); addon $BUILD: $(node -e "const i=require('./$BUILD/Release/mrigan.node').info(); console.log(i.cudaDevices + ' CUDA device(s): ' + i.cudaStatus)" 2>&1)"
say "python $PY: $($PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1 | tail -1)"

# ---- 1. parity tests (the training-iteration parity needs lib/train: present since the training issue landed)
tests=(dist/test/engine/ops/*.test.js dist/test/engine/cuda/*.test.js)
if [ -f dist/lib/train/run.js ]; then
  for f in dist/test/train/gpu*.test.js; do [ -f "$f" ] && tests+=("$f"); done
else
  say "lib/train not built: test/train/gpu*.test.js skipped (they import it)"
fi
# The NCCL path on one GPU (MRIGAN_NCCL_SELF=1, test/dist/nccl.test.js): NCCL from PyTorch's wheel unless set.
if [ -z "${MRIGAN_NCCL_LIB:-}" ]; then
  MRIGAN_NCCL_LIB=$($PY -c "import glob, os, torch; t = os.path.dirname(torch.__file__); c = sorted(glob.glob(os.path.dirname(t) + '/nvidia/nccl/lib/libnccl.so*') + glob.glob(t + '/lib/libnccl*.so*')); print(c[0] if c else '')" 2>/dev/null)
  [ -n "$MRIGAN_NCCL_LIB" ] && export MRIGAN_NCCL_LIB
fi
say "NCCL: ${MRIGAN_NCCL_LIB:-libnccl.so.2 from the loader path}"
[ -f dist/test/dist/nccl.test.js ] && tests+=(dist/test/dist/nccl.test.js)
# GPU memory flat over 1000 training steps (test/soak/gpu_soak.test.js; MRIGAN_SOAK=1 runs it, the CPU soak is not in the list)
[ -f dist/test/soak/gpu_soak.test.js ] && tests+=(dist/test/soak/gpu_soak.test.js)
say "1. parity tests: ${#tests[@]} files under dist/test/engine/{ops,cuda}, dist/test/train/gpu*, dist/test/dist/nccl, dist/test/soak/gpu_soak (limit ${DC_TESTS:-200} s, MRIGAN_CUDA_DEBUG=1)"
MRIGAN_SOAK=1 MRIGAN_CUDA_DEBUG=1 timeout "${DC_TESTS:-200}" "${MOCHA[@]}" "${tests[@]}" > "$OUT/tests.log" 2>&1
rc=$?
say "   exit $rc: $(grep -E '^\s+[0-9]+ (passing|failing|pending)' "$OUT/tests.log" | tr -s ' ' | tr '\n' ';')"
[ $rc -eq 124 ] && say "   TIMED OUT (see tests.log for the last test)"
grep -E "^\s+[0-9]+\) " "$OUT/tests.log" | head -20 | tee -a "$OUT/summary.txt"

# ---- 2. PyTorch + cuDNN peer on the same card
# Budgets: the whole script stays under $TOTAL s; each timing stage stops starting new rows at its budget and keeps
# what it has (timeout is only the backstop).
TOTAL=${DC_TOTAL:-420}
left() { echo $(( TOTAL - $(elapsed) )); }
tb=$(( $(left) / 2 - 10 )); [ $tb -gt "${DC_TORCH:-100}" ] && tb=${DC_TORCH:-100}; [ $tb -lt 10 ] && tb=10
say "2. PyTorch timings (budget $tb s)"
timeout $(( tb + 40 )) $PY bench/reference/gpu_ops.py --budget $tb --out "$OUT/torch.json" > "$OUT/torch.log" 2>&1
rc=$?
say "   exit $rc$([ $rc -eq 124 ] && echo ' (TIMED OUT: torch.json holds the rows done before)')"
tail -3 "$OUT/torch.log" | sed 's/^/   /'

# ---- 3a. InceptionV3 features vs PyTorch + cuDNN (issue 12: ≥ 1.0× img/s). Weights made in memory (no h5wasm there),
# handed to the peer as raw float32; the table goes to $OUT/inception-gpu.md and is printed at the end.
ib=${DC_INCEPTION:-40}
say "3a. InceptionV3 features, batch 64 × 299², vs PyTorch + cuDNN (limit $ib s)"
PYTHON=$PY timeout "$ib" node dist/bench/fid-inception-gpu.js --batch 64 --reps 20 --out "$OUT" > "$OUT/inception-gpu.log" 2>&1
rc=$?
say "   exit $rc$([ $rc -eq 124 ] && echo ' (TIMED OUT)'): $(grep -E '^\| mrigan|skipped' "$OUT/inception-gpu.log" | tr -s ' ' | head -1)"
[ $rc -ne 0 ] && tail -5 "$OUT/inception-gpu.log" | sed 's/^/   /'

# ---- 3. mrigan timings and the table (iteration rows need lib/train, present)
iter_flag=()
[ -f dist/lib/train/run.js ] || { iter_flag=(--no-iter); say "lib/train not built: no iteration rows"; }
mb=$(( $(left) - 45 )); [ $mb -gt "${DC_MRIGAN:-150}" ] && mb=${DC_MRIGAN:-150}; [ $mb -lt 10 ] && mb=10
say "3. mrigan timings (budget $mb s)"
timeout $(( mb + 40 )) node dist/bench/gpu.js --budget $mb --torch "$OUT/torch.json" --out "$OUT" "${iter_flag[@]}" > "$OUT/mrigan-bench.log" 2>&1
rc=$?
say "   exit $rc$([ $rc -eq 124 ] && echo ' (TIMED OUT)')"

# ---- 4. optional: compute-sanitizer memcheck on a few conv kernels, while time remains
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
lf=$(left)
if [ "$mode" = run ] && [ -n "$SAN" ] && [ $lf -gt 40 ]; then
  say "4. compute-sanitizer memcheck, DCGAN-shaped conv kernels (limit $(( lf - 10 )) s)"
  MRIGAN_CUDA_DEBUG=1 timeout $(( lf - 10 )) "$SAN" --tool memcheck --print-limit 20 \
    "${MOCHA[@]}" dist/test/engine/ops/conv.test.js -g "DCGAN.*\\[cuda" > "$OUT/memcheck.log" 2>&1
  say "   exit $?: $(grep -E 'ERROR SUMMARY|passing|failing' "$OUT/memcheck.log" | tr -s ' ' | tr '\n' ';')"
else
  say "4. memcheck skipped ($( [ "$mode" = dry ] && echo dry run || echo "no compute-sanitizer or ${lf} s left"))"
fi

say "done in $(elapsed) s; logs in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
echo
echo "==== tests (last lines of tests.log)"
grep -E "passing|failing|pending|skipped" "$OUT/tests.log" | head -8
echo "==== InceptionV3 features"
if [ -f "$OUT/inception-gpu.md" ]; then cat "$OUT/inception-gpu.md"; else tail -3 "$OUT/inception-gpu.log" 2>/dev/null; fi
echo "==== table"
if [ -f "$OUT/gpu-table.md" ]; then cat "$OUT/gpu-table.md"; else tail -40 "$OUT/mrigan-bench.log"; fi
