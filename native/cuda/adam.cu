// Adam over every parameter tensor in one launch (twin of native/cpu/adam.cc; torch.optim.Adam semantics):
//   g ← g + wd·p;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
//   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε).
// Multi-tensor launch: the tensors' pointers and prefix offsets travel in the kernel's parameter block (up to
// kMaxTensors per launch, ~2.6 KB, inside the classic 4 KB limit; more tensors take more launches). The grid
// covers the concatenation of all tensors in chunks of kChunk elements; a thread walks its elements in order and
// advances its tensor index with a forward scan, so no per-element search. Bias corrections are computed once on
// the host in double.
#include <cmath>

#include "cuda/common.cuh"

namespace mrigan::cuda {

static constexpr int kMaxTensors = 48;
static constexpr unsigned kThreads = 256;
static constexpr int64_t kChunk = 4096;

struct AdamTable {
  float* p[kMaxTensors];
  const float* g[kMaxTensors];
  float* m[kMaxTensors];
  float* v[kMaxTensors];
  int64_t start[kMaxTensors + 1];  // prefix sums of sizes
  int count;
};

__global__ void adam_kernel(AdamTable t, float step_size, float beta1, float c1, float beta2, float c2, float bc2_sqrt, float eps,
                            float wd) {
  int64_t total = t.start[t.count];
  int64_t lo = (int64_t)blockIdx.x * kChunk, hi = lo + kChunk < total ? lo + kChunk : total;
  int k = 0;
  for (int64_t e = lo + threadIdx.x; e < hi; e += blockDim.x) {
    while (e >= t.start[k + 1]) ++k;
    int64_t i = e - t.start[k];
    float p = t.p[k][i], g = t.g[k][i];
    if (wd != 0.f) g = g + wd * p;  // skipped at 0 like PyTorch (0·inf would be NaN)
    float m = beta1 * t.m[k][i] + c1 * g;
    float v = beta2 * t.v[k][i] + c2 * g * g;
    t.m[k][i] = m;
    t.v[k][i] = v;
    t.p[k][i] = p - step_size * (m / (sqrtf(v) / bc2_sqrt + eps));
  }
}

void adam_step(float* const* params, const float* const* grads, float* const* m, float* const* v, const int64_t* sizes,
               int64_t count, float lr, double beta1, double beta2, float eps, float weight_decay, int64_t step) {
  if (count <= 0) return;
  double bc1 = 1.0 - std::pow(beta1, (double)step), bc2 = 1.0 - std::pow(beta2, (double)step);
  float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)std::sqrt(bc2);
  // 1 − β in double, then rounded, as PyTorch does with its Python-float betas (same as the CPU twin).
  float b1 = (float)beta1, c1 = (float)(1.0 - beta1), b2 = (float)beta2, c2 = (float)(1.0 - beta2);
  AdamTable t;
  for_tensor_groups<kMaxTensors>(sizes, count, t.start,
      [&](int c, int64_t j) { t.p[c] = params[j]; t.g[c] = grads[j]; t.m[c] = m[j]; t.v[c] = v[j]; },
      [&](int n) {
        t.count = n;
        use_device_of(t.p[0]);
        int64_t blocks = (t.start[n] + kChunk - 1) / kChunk;
        launch("adam_step", adam_kernel, (unsigned)blocks, kThreads, 0, t, step_size, b1, c1, b2, c2, bc2_sqrt, eps,
               weight_decay);
      });
}

}  // namespace mrigan::cuda
