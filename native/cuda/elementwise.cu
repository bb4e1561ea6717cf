// Elementwise ops, the float64 sum and bias add/grad on the GPU (twins of native/cpu/elementwise.cc).
// Memory-bound: grid-stride loops of 256 threads, float4 when every pointer is 16-byte aligned (allocator blocks
// are; offset views may not be) with a scalar tail. sum: each block reduces a slice in double and writes one
// partial; a single block adds the partials in a fixed order (deterministic, no atomics), then one 8-byte copy to
// the host (sum) or a rounded float written in place (sum_to / mean_to: no sync). gather_scalars copies the first
// element of many tensors into one array (a multi-tensor table, like first_non_finite). bias_grad: one block per channel reducing over n × hw in float per thread, double across threads.
#include "cuda/common.cuh"

namespace mrigan::cuda {

static constexpr unsigned kThreads = 256;

template <typename F>
__global__ void map_kernel(size_t n, F f) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) f(i);
}
template <typename F>
static void map(const char* name, size_t n, F f) {
  if (!n) return;
  launch(name, map_kernel<F>, grid_for(n, kThreads), kThreads, 0, n, f);
}

// Element-wise binary op with a float4 body when all three pointers allow it.
template <typename Op>
__global__ void binary4_kernel(const float* a, const float* b, float* y,  // b may alias y (axpy)
                               size_t n4, Op op) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
    float4 u = ld4(a + 4 * i), v = ld4(b + 4 * i), r;
    r.x = op(u.x, v.x);
    r.y = op(u.y, v.y);
    r.z = op(u.z, v.z);
    r.w = op(u.w, v.w);
    st4(y + 4 * i, r);
  }
}
template <typename Op>
__global__ void binary_kernel(const float* a, const float* b, float* y, size_t lo, size_t n, Op op) {
  for (size_t i = lo + blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    y[i] = op(a[i], b[i]);
}
template <typename Op>
static void binary(const char* name, const float* a, const float* b, float* y, size_t n, Op op) {
  if (!n) return;
  use_device_of(y);
  size_t lo = 0;
  if (aligned16(a) && aligned16(b) && aligned16(y) && n >= 4) {
    size_t n4 = n / 4;
    launch(name, binary4_kernel<Op>, grid_for(n4, kThreads), kThreads, 0, a, b, y, n4, op);
    lo = n4 * 4;
  }
  if (lo < n) launch(name, binary_kernel<Op>, grid_for(n - lo, kThreads), kThreads, 0, a, b, y, lo, n, op);
}

struct AddOp { __device__ float operator()(float u, float v) const { return u + v; } };
struct MulOp { __device__ float operator()(float u, float v) const { return u * v; } };
// y = alpha * x + y (axpy) and y = alpha * x (scale) as binary ops of (x, y).
struct AxpyOp { float alpha; __device__ float operator()(float x, float y) const { return alpha * x + y; } };
struct ScaleOp { float alpha; __device__ float operator()(float x, float) const { return alpha * x; } };

void add(const float* a, const float* b, float* y, size_t n) { binary("add", a, b, y, n, AddOp{}); }
void mul(const float* a, const float* b, float* y, size_t n) { binary("mul", a, b, y, n, MulOp{}); }
void axpy(float alpha, const float* x, float* y, size_t n) { binary("axpy", x, y, y, n, AxpyOp{alpha}); }
void scale(const float* x, float* y, size_t n, float alpha) { binary("scale", x, x, y, n, ScaleOp{alpha}); }

struct FillOp {
  float* y;
  float v;
  __device__ void operator()(size_t i) const { y[i] = v; }
};
void fill(float* y, size_t n, float v) {
  use_device_of(y);
  map("fill", n, FillOp{y, v});
}

struct LerpRowsOp {
  const float *a, *b, *t;
  float* y;
  size_t per;
  __device__ void operator()(size_t i) const { y[i] = b[i] + t[i / per] * (a[i] - b[i]); }
};
void lerp_rows(const float* a, const float* b, const float* t, float* y, int64_t n, int64_t per) {
  use_device_of(y);
  map("lerp_rows", (size_t)n * (size_t)per, LerpRowsOp{a, b, t, y, (size_t)per});
}

// ---- sum ----
__global__ void sum_partial_kernel(const float* __restrict__ x, size_t n, double* __restrict__ part) {
  __shared__ double red[32];
  double s = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) s += x[i];
  s = block_sum(s, red);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}
__global__ void sum_final_kernel(const double* __restrict__ part, unsigned np, double* __restrict__ out) {
  __shared__ double red[32];
  double s = 0;
  for (unsigned i = threadIdx.x; i < np; i += blockDim.x) s += part[i];
  s = block_sum(s, red);
  if (threadIdx.x == 0) *out = s;
}
__global__ void sum_final_to_kernel(const double* __restrict__ part, unsigned np, double scale, float* __restrict__ out) {
  __shared__ double red[32];
  double s = 0;
  for (unsigned i = threadIdx.x; i < np; i += blockDim.x) s += part[i];
  s = block_sum(s, red);
  if (threadIdx.x == 0) *out = (float)(s * scale);
}
static void sum_into(const float* x, float* y, size_t n, double scale) {
  use_device_of(y);
  if (!n) {
    fill(y, 1, 0.f);
    return;
  }
  unsigned blocks = grid_for(n, kThreads, 1024);
  Scratch part(2 * blocks, current_device());
  double* dp = reinterpret_cast<double*>(part.p);
  launch("sum_partial", sum_partial_kernel, blocks, kThreads, 0, x, n, dp);
  launch("sum_final_to", sum_final_to_kernel, 1, 1024, 0, (const double*)dp, blocks, scale, y);
}
void sum_to(const float* x, float* y, size_t n) { sum_into(x, y, n, 1.0); }
void mean_to(const float* x, float* y, size_t n) { sum_into(x, y, n, 1.0 / (double)n); }

double sum(const float* x, size_t n) {
  if (!n) return 0.0;
  use_device_of(x);
  unsigned blocks = grid_for(n, kThreads, 1024);
  Scratch part(2 * (blocks + 1), current_device());  // doubles: 2 floats each
  double* dp = reinterpret_cast<double*>(part.p);
  launch("sum_partial", sum_partial_kernel, blocks, kThreads, 0, x, n, dp);
  launch("sum_final", sum_final_kernel, 1, 1024, 0, (const double*)dp, blocks, dp + blocks);
  double r = 0;
  to_host(&r, dp + blocks, sizeof r);
  return r;
}

// ---- first_non_finite: one flag for many tensors (the training loop's gradient check, one sync per model) ----
// Multi-tensor table as in adam.cu: blocks take chunks of the concatenated tensors; a thread that meets a NaN / ±Inf
// lowers the flag to its tensor's index with atomicMin (rare, so no block reduction).
static constexpr int kFiniteTensors = 96;
static constexpr int64_t kFiniteChunk = 8192;
struct FiniteTable {
  const float* x[kFiniteTensors];
  int64_t start[kFiniteTensors + 1];
  int index[kFiniteTensors];  // the caller's tensor index
  int count;
};
static_assert(sizeof(FiniteTable) <= 4000, "kernel parameter block over 4 KB");
__global__ void flag_init_kernel(int* flag) { *flag = 0x7fffffff; }
__global__ void first_non_finite_kernel(FiniteTable t, int* flag) {
  int64_t total = t.start[t.count];
  int64_t lo = (int64_t)blockIdx.x * kFiniteChunk, hi = lo + kFiniteChunk < total ? lo + kFiniteChunk : total;
  int k = 0, found = 0x7fffffff;
  for (int64_t e = lo + threadIdx.x; e < hi; e += blockDim.x) {
    while (e >= t.start[k + 1]) ++k;
    if (!isfinite(t.x[k][e - t.start[k]]) && t.index[k] < found) found = t.index[k];
  }
  if (found != 0x7fffffff) atomicMin(flag, found);
}
int64_t first_non_finite(const float* const* xs, const int64_t* sizes, int64_t count) {
  int64_t j = 0;
  while (j < count && sizes[j] <= 0) ++j;
  if (j == count) return -1;
  use_device_of(xs[j]);
  Scratch flag(1, current_device());
  int* f = reinterpret_cast<int*>(flag.p);
  launch("flag_init", flag_init_kernel, 1, 1, 0, f);
  FiniteTable t;
  for_tensor_groups<kFiniteTensors>(sizes, count, t.start, [&](int c, int64_t i) { t.x[c] = xs[i]; t.index[c] = (int)i; },
      [&](int n) {
        t.count = n;
        int64_t blocks = (t.start[n] + kFiniteChunk - 1) / kFiniteChunk;
        launch("first_non_finite", first_non_finite_kernel, (unsigned)blocks, kThreads, 0, t, f);
      });
  int r = 0;
  to_host(&r, f, sizeof r);
  return r == 0x7fffffff ? -1 : r;
}

// ---- gather_scalars: y[i] = xs[i][0], the pointers in kernel-parameter tables of kGatherTensors ----
static constexpr int kGatherTensors = 448;
struct GatherTable {
  const float* x[kGatherTensors];
  int count;
};
static_assert(sizeof(GatherTable) <= 4000, "kernel parameter block over 4 KB");
__global__ void gather_scalars_kernel(GatherTable t, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < t.count) y[i] = *t.x[i];
}
void gather_scalars(const float* const* xs, float* y, int64_t count) {
  if (count <= 0) return;
  use_device_of(y);
  for (int64_t lo = 0; lo < count; lo += kGatherTensors) {
    GatherTable t;
    t.count = (int)(count - lo < kGatherTensors ? count - lo : kGatherTensors);
    for (int c = 0; c < t.count; ++c) t.x[c] = xs[lo + c];
    launch("gather_scalars", gather_scalars_kernel, grid_for((size_t)t.count, kThreads), kThreads, 0, t, y + lo);
  }
}

// ---- bias ----
struct BiasAddOp {
  float* y;
  const float* b;
  FastDiv hw, c;
  __device__ void operator()(size_t i) const {
    // i < 2^31 is guaranteed by the caller's split (see bias_add)
    uint32_t nc = hw.div((uint32_t)i), q, ch;
    c.divmod(nc, q, ch);
    y[i] += b[ch];
  }
};
__global__ void bias_add_big_kernel(float* y, const float* b, size_t total, int64_t c, int64_t hw) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
    y[i] += b[(i / hw) % c];
}
void bias_add(float* y, const float* b, int64_t n, int64_t c, int64_t hw) {
  size_t total = (size_t)n * c * hw;
  if (!total) return;
  use_device_of(y);
  if (total < (size_t(1) << 31)) map("bias_add", total, BiasAddOp{y, b, FastDiv((uint32_t)hw), FastDiv((uint32_t)c)});
  else launch("bias_add_big", bias_add_big_kernel, grid_for(total, kThreads), kThreads, 0, y, b, total, c, hw);
}

__global__ void bias_grad_kernel(const float* __restrict__ dy, float* __restrict__ db, int64_t n, int64_t c, int64_t hw) {
  __shared__ double red[32];
  int64_t ch = blockIdx.x;
  float s = 0;
  for (int64_t img = 0; img < n; ++img) {
    const float* p = dy + (img * c + ch) * hw;
    for (int64_t j = threadIdx.x; j < hw; j += blockDim.x) s += p[j];
  }
  double t = block_sum((double)s, red);
  if (threadIdx.x == 0) db[ch] += (float)t;
}
// hw small (Dense, 4×4 maps): threads stride over images instead of pixels.
__global__ void bias_grad_small_kernel(const float* __restrict__ dy, float* __restrict__ db, int64_t n, int64_t c, int64_t hw) {
  __shared__ double red[32];
  int64_t ch = blockIdx.x;
  float s = 0;
  for (int64_t k = threadIdx.x; k < n * hw; k += blockDim.x) s += dy[((k / hw) * c + ch) * hw + k % hw];
  double t = block_sum((double)s, red);
  if (threadIdx.x == 0) db[ch] += (float)t;
}
void bias_grad(const float* dy, float* db, int64_t n, int64_t c, int64_t hw) {
  if (!c) return;
  use_device_of(db);
  if (hw >= 256) launch("bias_grad", bias_grad_kernel, (unsigned)c, kThreads, 0, dy, db, n, c, hw);
  else launch("bias_grad_small", bias_grad_small_kernel, (unsigned)c, kThreads, 0, dy, db, n, c, hw);
}

}  // namespace mrigan::cuda
