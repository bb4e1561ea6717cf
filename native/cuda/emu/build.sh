#!/usr/bin/env bash
# Builds the addon with the CUDA backend running on the CPU emulator (native/cuda/emu), so that the CUDA kernels
# and the GPU-vs-CPU parity tests can run on a machine without a GPU:
#   native/cuda/emu/build.sh                 → build-cuda-emu/Release/mrigan.node ("cuda:0" = the emulator)
#   MRIGAN_EMU_ASAN=1 native/cuda/emu/build.sh → build-cuda-emu-asan/… with AddressSanitizer (out-of-bounds global
#                                               and shared-memory accesses); run node with
#                                               LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0
# Then: npx tsc -p . && MRIGAN_BUILD_DIR=build-cuda-emu npx mocha --no-config dist/test/engine/ops/*.test.js \
#   dist/test/engine/cuda/*.test.js dist/test/train/gpu_iterations.test.js
# The emulator is slow (every GPU thread is a fiber): tests keep shapes small. MRIGAN_EMU_ORDER=reverse runs the
# threads of a block in reverse order between barriers, which exposes a missing __syncthreads().
# Every .cu file is compiled as C++ with MRIGAN_CUDA_EMU; runtime.cu runs unchanged against the emulated runtime API.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
out=build-cuda-emu
flags=(-std=c++17 -O2 -g -fPIC -fopenmp -fno-math-errno -Wall -Wno-unused-parameter -Wno-unknown-pragmas
       -DMRIGAN_CUDA=1 -DMRIGAN_CUDA_EMU=1 -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
       -Inative -I/usr/include/node -Inode_modules/node-addon-api)
if [ "${MRIGAN_EMU_ASAN:-}" = 1 ]; then
  out=build-cuda-emu-asan
  flags+=(-fsanitize=address -fno-omit-frame-pointer -O1)
fi
mkdir -p "$out/obj" "$out/Release"
srcs=(native/core/*.cc native/cpu/*.cc native/addon/*.cc native/cuda/*.cu native/cuda/emu/emu.cc)
[ -n "$(ls native/nccl/*.cc 2>/dev/null)" ] && srcs+=(native/nccl/*.cc)
newest_header=$(ls -t native/*/*.h native/cuda/*.cuh native/cuda/emu/*.h native/core/ops.def 2>/dev/null | head -1)
jobs=()
for s in "${srcs[@]}"; do
  o="$out/obj/$(echo "$s" | tr '/' '_').o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_header" -nt "$o" ]; then jobs+=("$s"); fi
done
compile() {
  local s=$1 o=$2; shift 2
  case "$s" in *.cu) g++ -x c++ "$@" -c "$s" -o "$o" ;; *) g++ "$@" -c "$s" -o "$o" ;; esac
}
export -f compile
if [ ${#jobs[@]} -gt 0 ]; then
  echo "emu build: compiling ${#jobs[@]} files into $out"
  printf '%s\n' "${jobs[@]}" | xargs -P "${MRIGAN_EMU_JOBS:-2}" -I{} bash -c \
    'compile "$1" "$2/obj/$(echo "$1" | tr / _).o" "${@:3}"' _ {} "$out" "${flags[@]}"
fi
objs=()
for s in "${srcs[@]}"; do objs+=("$out/obj/$(echo "$s" | tr '/' '_').o"); done
g++ -shared "${flags[@]}" -o "$out/Release/mrigan.node" "${objs[@]}"
echo "emu build: $out/Release/mrigan.node"
