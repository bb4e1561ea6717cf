// Internal header of the CUDA backend: error checks, the process stream, kernel launches, scratch memory and the
// small device helpers every kernel file uses (warp/block reductions, fast integer division, aligned vector
// access). With MRIGAN_CUDA_EMU the same code compiles as C++ against the emulator (native/cuda/emu).
#pragma once
#ifdef MRIGAN_CUDA_EMU
#include "cuda/emu/emu.h"
#else
#include <cuda_runtime.h>
#endif
#include <cstddef>
#include <cstdint>

#include "core/device.h"
#include "core/error.h"
#include "cuda/api.h"
#include "cuda/ops.h"

namespace mrigan::cuda {

// ---- errors and launches ----
[[noreturn]] void fail(cudaError_t e, const char* what, const char* file, int line);
inline void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess) fail(e, what, file, line);
}
#define CUDA_CHECK(x) ::mrigan::cuda::check((x), #x, __FILE__, __LINE__)

bool debug();                       // MRIGAN_CUDA_DEBUG=1: synchronise and check after every launch
cudaStream_t stream();              // the process's stream on the current device
void use_device_of(const void* p);  // makes the device that owns p current (allocator lookup)
void after_launch(const char* name);

// launch("name", kernel, grid, block, smem, args...): one place for <<<>>> so every launch is checked.
template <typename... P, typename... A>
inline void launch(const char* name, void (*k)(P...), dim3 grid, dim3 block, size_t smem, A... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel argument count");
#ifdef MRIGAN_CUDA_EMU
  (void)smem;
  emu::launch(grid, block, [&] { k(static_cast<P>(args)...); });
#else
  k<<<grid, block, smem, stream()>>>(static_cast<P>(args)...);
#endif
  after_launch(name);
}

// Blocks for a grid-stride loop over n items.
inline unsigned grid_for(size_t n, unsigned threads, unsigned cap = 8192) {
  size_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : b > cap ? cap : b);
}

// Multi-tensor launches (adam, first_non_finite): the tensors' pointers travel in a kernel-parameter table of at most
// Max slots, so the nonempty tensors of sizes[0, count) go in groups. slot(c, j) puts tensor j in slot c; start[] gets
// the prefix offsets of the group (start[n] = its element count); launch(n) runs a group of n tensors.
template <int Max, class Slot, class Launch>
void for_tensor_groups(const int64_t* sizes, int64_t count, int64_t (&start)[Max + 1], Slot&& slot, Launch&& launch) {
  for (int64_t j = 0; j < count;) {
    int n = 0;
    start[0] = 0;
    for (; j < count && n < Max; ++j) {
      if (sizes[j] <= 0) continue;
      slot(n, j);
      start[n + 1] = start[n] + sizes[j];
      ++n;
    }
    if (n) launch(n);
  }
}

// Device scratch from the caching allocator, freed (back to the cache) at scope exit. Stream order makes reuse
// by the next op safe without a sync.
struct Scratch {
  float* p = nullptr;
  int dev = 0;
  Scratch(size_t floats, int device) : dev(device) { p = (float*)cuda_alloc((floats ? floats : 1) * sizeof(float), dev); }
  ~Scratch() { cuda_free(p, dev); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};
int current_device();
int sm_count();      // multiprocessors of the current device
int cc_major();      // compute capability (major) of the current device

// Reads n values back to the host (synchronises the stream).
void to_host(void* dst, const void* src, size_t bytes);

// ---- device helpers ----
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Sum over the block (blockDim.x a multiple of 32, ≤ 1024); every thread gets the total. Uses 32 slots of smem.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* smem32) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // smem32 may still be read by a previous call
  if (lane == 0) smem32[warp] = v;
  __syncthreads();
  T t = lane < nw ? smem32[lane] : T(0);
  return warp_sum(t);
}

__device__ __forceinline__ float4 ld4(const float* p) {
#ifdef MRIGAN_CUDA_EMU
  emu::check_align(p, 16, "float4 load");
#endif
  return *reinterpret_cast<const float4*>(p);
}
__device__ __forceinline__ void st4(float* p, float4 v) {
#ifdef MRIGAN_CUDA_EMU
  emu::check_align(p, 16, "float4 store");
#endif
  *reinterpret_cast<float4*>(p) = v;
}
inline bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

// Division by a run-time constant d ≥ 1 for 0 ≤ n < 2^31 with one multiply-high (Granlund–Montgomery):
// q = (umulhi(n, mul) + n) >> shift, where shift = ceil(log2 d) and mul = floor(2^32 (2^shift − d) / d) + 1.
struct FastDiv {
  uint32_t d = 1, mul = 0, shift = 0;
  FastDiv() = default;
  explicit FastDiv(uint32_t div) : d(div) {
    while ((1ull << shift) < d) ++shift;
    mul = (uint32_t)(((1ull << 32) * ((1ull << shift) - d)) / d + 1);
  }
  __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#if defined(__CUDA_ARCH__) || defined(MRIGAN_CUDA_EMU)
    uint32_t hi = __umulhi(n, mul);
#else
    uint32_t hi = (uint32_t)(((uint64_t)n * mul) >> 32);
#endif
    return (uint32_t)(((uint64_t)hi + n) >> shift);
  }
  __host__ __device__ __forceinline__ void divmod(uint32_t n, uint32_t& q, uint32_t& r) const {
    q = div(n);
    r = n - q * d;
  }
};

}  // namespace mrigan::cuda
