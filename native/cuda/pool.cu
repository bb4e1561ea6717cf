// Pooling and channel concat on the GPU (twins of native/cpu/pool.cc, same semantics: padded cells are not part of a
// window — max over the in-bounds cells, average divided by their count). Inference only, memory-bound:
// pools use one thread per output cell; global_avg_pool one warp per (sample, channel) plane summing in double;
// concat_channels one copy kernel per input tensor writing its channel slice of every sample.
#include <cfloat>

#include "cuda/common.cuh"

namespace mrigan::cuda {

static constexpr unsigned kThreads = 256;

template <bool Max>
__global__ void pool_kernel(const float* x, float* y, ConvShape s, size_t total) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const int64_t q = (int64_t)(i % s.q), p = (int64_t)((i / s.q) % s.p), plane = (int64_t)(i / (s.q * s.p));
    int64_t h0 = p * s.stride_h - s.pad_t, w0 = q * s.stride_w - s.pad_l;
    const int64_t h1 = h0 + s.r < s.h ? h0 + s.r : s.h, w1 = w0 + s.s < s.w ? w0 + s.s : s.w;
    if (h0 < 0) h0 = 0;
    if (w0 < 0) w0 = 0;
    const float* xp = x + plane * s.h * s.w;
    float m = -FLT_MAX, acc = 0.f;
    for (int64_t a = h0; a < h1; ++a)
      for (int64_t b = w0; b < w1; ++b) {
        float v = xp[a * s.w + b];
        if (Max) m = fmaxf(m, v);
        else acc += v;
      }
    y[i] = Max ? m : acc / (float)((h1 - h0) * (w1 - w0));
  }
}

template <bool Max>
static void pool(const char* name, const float* x, float* y, const ConvShape& s) {
  const size_t total = (size_t)(s.n * s.c * s.p * s.q);
  if (!total) return;
  use_device_of(x);
  launch(name, pool_kernel<Max>, grid_for(total, kThreads), kThreads, 0, x, y, s, total);
}

void max_pool2d_forward(const float* x, float* y, const ConvShape& s) { pool<true>("max_pool2d_forward", x, y, s); }
void avg_pool2d_forward(const float* x, float* y, const ConvShape& s) { pool<false>("avg_pool2d_forward", x, y, s); }

__global__ void global_avg_pool_kernel(const float* x, float* y, int64_t planes, int64_t hw) {
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
  for (int64_t plane = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32; plane < planes; plane += warps) {
    const float* xp = x + plane * hw;
    double acc = 0;
    for (int64_t i = threadIdx.x % 32; i < hw; i += 32) acc += xp[i];
    acc = warp_sum(acc);
    if (threadIdx.x % 32 == 0) y[plane] = (float)(acc / (double)hw);
  }
}
void global_avg_pool(const float* x, float* y, int64_t n, int64_t c, int64_t hw) {
  const int64_t planes = n * c;
  if (planes <= 0) return;
  use_device_of(x);
  launch("global_avg_pool", global_avg_pool_kernel, grid_for((size_t)planes, kThreads / 32), kThreads, 0, x, y,
         planes, hw);
}

// y[b, off + i] = x[b, i] for i < len (len = ci·hw floats per sample, stride = Σc·hw).
__global__ void concat_copy_kernel(const float* x, float* y, int64_t n, int64_t len, int64_t off, int64_t stride) {
  const size_t total = (size_t)(n * len);
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const int64_t b = (int64_t)(i / len), k = (int64_t)(i % len);
    y[b * stride + off + k] = x[i];
  }
}
void concat_channels(const float* const* xs, const int64_t* cs, int64_t count, float* y, int64_t n, int64_t hw) {
  int64_t total = 0;
  for (int64_t j = 0; j < count; ++j) total += cs[j];
  if (n <= 0 || total * hw == 0) return;
  use_device_of(y);
  int64_t off = 0;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t len = cs[j] * hw;
    if (len)
      launch("concat_channels", concat_copy_kernel, grid_for((size_t)(n * len), kThreads), kThreads, 0, xs[j], y, n,
             len, off, total * hw);
    off += len;
  }
}

}  // namespace mrigan::cuda
