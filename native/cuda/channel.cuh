// Per-channel reductions over x viewed as [n, c, hw] (BatchNorm and its second-order passes), deterministic and
// two-level:
//   1. channel_partial: grid (c, S); block (ch, s) covers the s-th slice of the channel's N = n·hw elements, every
//      thread accumulates NS float sums of f(ch, offset), the block adds them in double → part[ch][s][NS];
//   2. channel_final: one thread per channel adds its S partials in order and hands the NS double sums to g(ch, sums)
//      (statistics, running averages, coefficients of the elementwise pass).
// Element k of a channel is at ((k / hw)·c + ch)·hw + k % hw: consecutive threads take consecutive k, which are
// contiguous within an image. Requires n·c·hw < 2^31 (checked by channel_check).
#pragma once
#include "cuda/common.cuh"

namespace mrigan::cuda {

struct ChannelView {
  FastDiv hw;
  int64_t c;
  __device__ __forceinline__ int64_t at(int64_t ch, uint32_t k) const {
    uint32_t img, pix;
    hw.divmod(k, img, pix);
    return ((int64_t)img * c + ch) * hw.d + pix;
  }
};

inline void channel_check(const char* op, int64_t n, int64_t c, int64_t hw) {
  MRIGAN_CHECK((uint64_t)n * c * hw < (uint64_t(1) << 31), op, " on the GPU: tensor of ", n * c * hw,
               " elements is over 2^31");
  MRIGAN_CHECK(n * hw > 0, op, ": empty batch");
}

// Slices per channel: about 4096 elements each, at most ~2048 blocks in all.
inline unsigned channel_splits(int64_t N, int64_t c) {
  int64_t s = (N + 4095) / 4096, cap = 2048 / (c > 0 ? c : 1);
  if (cap < 1) cap = 1;
  if (s > cap) s = cap;
  if (s > 65535) s = 65535;
  return (unsigned)(s < 1 ? 1 : s);
}

template <int NS, class F>
__global__ void channel_partial_kernel(ChannelView v, uint32_t N, F f, double* __restrict__ part) {
  __shared__ double red[32];
  int64_t ch = blockIdx.x;
  unsigned S = gridDim.y, s = blockIdx.y;
  uint32_t lo = (uint32_t)((uint64_t)N * s / S), hi = (uint32_t)((uint64_t)N * (s + 1) / S);
  float acc[NS];
  for (int i = 0; i < NS; ++i) acc[i] = 0.f;
  f.begin(ch);
  for (uint32_t k = lo + threadIdx.x; k < hi; k += blockDim.x) f(ch, v.at(ch, k), acc);
  for (int i = 0; i < NS; ++i) {
    double t = block_sum((double)acc[i], red);
    if (threadIdx.x == 0) part[(ch * S + s) * NS + i] = t;
  }
}

template <int NS, class G>
__global__ void channel_final_kernel(const double* __restrict__ part, unsigned S, int64_t c, G g) {
  int64_t ch = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (ch >= c) return;
  double sums[NS];
  for (int i = 0; i < NS; ++i) sums[i] = 0.0;
  for (unsigned s = 0; s < S; ++s)
    for (int i = 0; i < NS; ++i) sums[i] += part[(ch * S + s) * NS + i];
  g(ch, sums);
}

// Runs both levels: f(ch, offset, acc[NS]) accumulates (after f.begin(ch) once per block), g(ch, sums) finishes.
template <int NS, class F, class G>
void channel_reduce(const char* name, int64_t n, int64_t c, int64_t hw, F f, G g) {
  uint32_t N = (uint32_t)(n * hw);
  unsigned S = channel_splits(N, c);
  ChannelView v{FastDiv((uint32_t)hw), c};
  Scratch part((size_t)c * S * NS * 2, current_device());  // doubles
  double* dp = reinterpret_cast<double*>(part.p);
  launch(name, channel_partial_kernel<NS, F>, dim3((unsigned)c, S), 256, 0, v, N, f, dp);
  launch(name, channel_final_kernel<NS, G>, grid_for((size_t)c, 128, 1u << 30), 128, 0, (const double*)dp, S, c, g);
}

// Elementwise pass over the whole [n, c, hw] tensor with the channel of each element: f(i, ch).
template <class F>
__global__ void channel_map_kernel(size_t total, FastDiv hw, FastDiv c, F f) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t q, ch;
    c.divmod(hw.div((uint32_t)i), q, ch);
    f(i, (int64_t)ch);
  }
}
template <class F>
void channel_map(const char* name, int64_t n, int64_t c, int64_t hw, F f) {
  size_t total = (size_t)(n * c * hw);
  if (!total) return;
  launch(name, channel_map_kernel<F>, grid_for(total, 256), 256, 0, total, FastDiv((uint32_t)hw), FastDiv((uint32_t)c), f);
}

}  // namespace mrigan::cuda
