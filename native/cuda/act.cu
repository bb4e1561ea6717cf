// Activations and dropout on the GPU (twins of native/cpu/act.cc). Elementwise, memory-bound: one grid-stride
// loop of 256 threads per op. tanh/sigmoid backward use the forward output y (σ' = 1 − y², y(1 − y)).
// Dropout draws Philox exactly like the CPU (core/philox.h): element i takes lane i % 4 of counter block
// offset + i / 4, so each thread computes one Philox block and handles its four elements; a CPU run and a GPU
// run with the same (seed, stream, offset) drop the same elements.
#include "core/philox.h"
#include "cuda/common.cuh"

namespace mrigan::cuda {

static constexpr unsigned kThreads = 256;

template <typename F>
__global__ void act_kernel(size_t n, F f) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) f(i);
}
template <typename F>
static void run(const char* name, const void* anchor, size_t n, F f) {
  if (!n) return;
  use_device_of(anchor);
  launch(name, act_kernel<F>, grid_for(n, kThreads), kThreads, 0, n, f);
}

struct LeakyFwd {
  const float* x; float* y; float slope;
  __device__ void operator()(size_t i) const { float v = x[i]; y[i] = v > 0.f ? v : v * slope; }
};
struct LeakyBwd {
  const float* dy; const float* x; float* dx; float slope;
  __device__ void operator()(size_t i) const { dx[i] = x[i] > 0.f ? dy[i] : dy[i] * slope; }
};
struct TanhFwd {
  const float* x; float* y;
  __device__ void operator()(size_t i) const { y[i] = tanhf(x[i]); }
};
struct TanhBwd {
  const float* dy; const float* y; float* dx;
  __device__ void operator()(size_t i) const { float t = y[i]; dx[i] = dy[i] * (1.f - t * t); }
};
struct SigmoidFwd {
  const float* x; float* y;
  // Stable for large |x|: exp of a non-positive argument only.
  __device__ void operator()(size_t i) const {
    float v = x[i];
    if (v >= 0.f) y[i] = 1.f / (1.f + expf(-v));
    else { float e = expf(v); y[i] = e / (1.f + e); }
  }
};
struct SigmoidBwd {
  const float* dy; const float* y; float* dx;
  __device__ void operator()(size_t i) const { float s = y[i]; dx[i] = dy[i] * s * (1.f - s); }
};

void leaky_relu_forward(const float* x, float* y, size_t n, float slope) { run("leaky_relu_forward", y, n, LeakyFwd{x, y, slope}); }
void leaky_relu_backward(const float* dy, const float* x, float* dx, size_t n, float slope) {
  run("leaky_relu_backward", dx, n, LeakyBwd{dy, x, dx, slope});
}
void tanh_forward(const float* x, float* y, size_t n) { run("tanh_forward", y, n, TanhFwd{x, y}); }
void tanh_backward(const float* dy, const float* y, float* dx, size_t n) { run("tanh_backward", dx, n, TanhBwd{dy, y, dx}); }
void sigmoid_forward(const float* x, float* y, size_t n) { run("sigmoid_forward", y, n, SigmoidFwd{x, y}); }
void sigmoid_backward(const float* dy, const float* y, float* dx, size_t n) { run("sigmoid_backward", dx, n, SigmoidBwd{dy, y, dx}); }

// One thread per Philox block of four elements.
__global__ void dropout_kernel(const float* __restrict__ x, float* __restrict__ y, float* __restrict__ mask, size_t n,
                               float p, float keep_scale, uint64_t seed, uint32_t stream, uint64_t offset) {
  size_t nb = (n + 3) / 4;
  for (size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x; b < nb; b += (size_t)gridDim.x * blockDim.x) {
    Philox4 r = philox_block(seed, stream, offset + b);
    for (int l = 0; l < 4; ++l) {
      size_t i = 4 * b + l;
      if (i >= n) break;
      float m = philox_u01(r.v[l]) >= p ? keep_scale : 0.f;
      mask[i] = m;
      y[i] = x[i] * m;
    }
  }
}
void dropout_forward(const float* x, float* y, float* mask, size_t n, float p, uint64_t seed, uint32_t stream,
                     uint64_t offset) {
  if (!n) return;
  use_device_of(y);
  float keep_scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  launch("dropout_forward", dropout_kernel, grid_for((n + 3) / 4, kThreads), kThreads, 0, x, y, mask, n, p, keep_scale,
         seed, stream, offset);
}

}  // namespace mrigan::cuda
