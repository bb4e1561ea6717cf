// Gradient-penalty kernels on the GPU (twins of native/cpu/gp.cc, docs/design.md §5).
// gp_norm_v: per sample i, ‖g_i‖ over its d values and v_i = 2λ(‖g_i‖ − 1) g_i / (n‖g_i‖) (0 where ‖g_i‖ = 0), in one
// fused kernel: one block per sample reduces Σg² in double (as the CPU), then the same block
// rescales its row into v (the row is still in L2 from the first read). The per-sample (‖g_i‖ − 1)² come back to the host
// (n doubles) and GP = λ mean (‖g_i‖ − 1)² is summed there in double, in sample order. gp_norm_v_to does that sum
// on the device instead (one thread, same order, so the same double), writing GP as a float without a sync.
#include <vector>

#include "cuda/common.cuh"

namespace mrigan::cuda {

__global__ void gp_norm_v_kernel(const float* __restrict__ g, float* __restrict__ v, float* __restrict__ norms,
                                 double* __restrict__ pen, int64_t n, int64_t d, float lambda) {
  __shared__ double red[32];
  int64_t i = blockIdx.x;
  const float* row = g + i * d;
  double s = 0;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += (double)row[j] * (double)row[j];
  double tot = block_sum(s, red);
  double nrm = sqrt(tot);
  float coef = nrm > 0 ? (float)(2.0 * lambda * (nrm - 1.0) / ((double)n * nrm)) : 0.f;
  float* out = v + i * d;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) out[j] = coef * row[j];
  if (threadIdx.x == 0) {
    norms[i] = (float)nrm;
    pen[i] = (nrm - 1.0) * (nrm - 1.0);
  }
}

// One thread: Σ pen[i] in sample order, as the host loop of gp_norm_v (n is a batch size).
__global__ void gp_sum_kernel(const double* __restrict__ pen, int64_t n, float lambda, float* __restrict__ gp) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += pen[i];
  *gp = (float)((double)lambda * s / (double)n);
}

void gp_norm_v_to(const float* g, float* v, float* norms, float* gp, int64_t n, int64_t d, float lambda) {
  use_device_of(gp);
  if (n <= 0) {
    fill(gp, 1, 0.f);
    return;
  }
  Scratch pen(2 * (size_t)n, current_device());
  double* dp = reinterpret_cast<double*>(pen.p);
  launch("gp_norm_v", gp_norm_v_kernel, (unsigned)n, 256, 0, g, v, norms, dp, n, d, lambda);
  launch("gp_sum", gp_sum_kernel, 1, 1, 0, (const double*)dp, n, lambda, gp);
}

double gp_norm_v(const float* g, float* v, float* norms, int64_t n, int64_t d, float lambda) {
  if (n <= 0) return 0.0;
  use_device_of(v);
  Scratch pen(2 * (size_t)n, current_device());
  double* dp = reinterpret_cast<double*>(pen.p);
  launch("gp_norm_v", gp_norm_v_kernel, (unsigned)n, 256, 0, g, v, norms, dp, n, d, lambda);
  std::vector<double> h((size_t)n);
  to_host(h.data(), dp, (size_t)n * sizeof(double));
  double s = 0;
  for (double x : h) s += x;
  return (double)lambda * s / (double)n;
}

}  // namespace mrigan::cuda
