// Philox draws on the GPU (twins of native/cpu/rng.cc), bit-identical to the CPU: core/philox.h is shared
// host/device code. One thread per counter block (four consecutive elements); the normal draw uses the same
// double-precision Box–Muller as the CPU, so values agree after rounding to float (CUDA's double log/sin/cos
// are within 1–2 ulp of glibc's, far below float resolution).
#include "core/philox.h"
#include "cuda/common.cuh"

namespace mrigan::cuda {

static constexpr unsigned kThreads = 256;

template <bool Normal>
__global__ void rand_kernel(float* __restrict__ y, size_t n, uint64_t seed, uint32_t stream, uint64_t offset) {
  size_t nb = (n + 3) / 4;
  for (size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x; b < nb; b += (size_t)gridDim.x * blockDim.x) {
    if (Normal) {
      for (int l = 0; l < 4 && 4 * b + l < n; ++l) y[4 * b + l] = philox_normal(seed, stream, offset, 4 * b + l);
    } else {
      Philox4 r = philox_block(seed, stream, offset + b);
      for (int l = 0; l < 4 && 4 * b + l < n; ++l) y[4 * b + l] = philox_u01(r.v[l]);
    }
  }
}

void rand_uniform(float* y, size_t n, uint64_t seed, uint32_t stream, uint64_t offset) {
  if (!n) return;
  use_device_of(y);
  launch("rand_uniform", rand_kernel<false>, grid_for((n + 3) / 4, kThreads), kThreads, 0, y, n, seed, stream, offset);
}
void rand_normal(float* y, size_t n, uint64_t seed, uint32_t stream, uint64_t offset) {
  if (!n) return;
  use_device_of(y);
  launch("rand_normal", rand_kernel<true>, grid_for((n + 3) / 4, kThreads), kThreads, 0, y, n, seed, stream, offset);
}

}  // namespace mrigan::cuda
