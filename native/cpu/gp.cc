// Gradient penalty pieces (docs/design.md §5). g [n, d] holds ∇x D(x̂_i) per sample:
//   norms[i] = ‖g_i‖ (float64 sum of squares),  GP = λ/n · Σ_i (‖g_i‖ − 1)²,
//   v_i = 2λ(‖g_i‖ − 1)/(n‖g_i‖) · g_i, and v_i = 0 where ‖g_i‖ = 0 (the direction is undefined there).
// Each sample is cut into chunks so that a batch of one or two large images still uses every thread: pass 1 sums
// squares per (sample, chunk), pass 2 scales.
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

double gp_norm_v(const float* g, float* v, float* norms, int64_t n, int64_t d, float lambda) {
  const int64_t kChunk = 1 << 14, per = (d + kChunk - 1) / kChunk, items = n * per;
  std::vector<double> part((size_t)items, 0.0);
  double* P = part.data();
  parallel_for(items, [=](int64_t it) {
    int64_t i = it / per, lo = (it % per) * kChunk, hi = lo + kChunk < d ? lo + kChunk : d;
    const float* gi = g + i * d;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = lo; j < hi; ++j) s += (double)gi[j] * (double)gi[j];
    P[it] = s;
  });
  std::vector<float> coef((size_t)n);
  const double lam = lambda;
  double gp = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double sq = 0.0;
    for (int64_t k = 0; k < per; ++k) sq += part[(size_t)(i * per + k)];
    double norm = std::sqrt(sq);
    norms[i] = (float)norm;
    gp += (norm - 1.0) * (norm - 1.0);
    coef[(size_t)i] = norm > 0.0 ? (float)(2.0 * lam * (norm - 1.0) / ((double)n * norm)) : 0.0f;
  }
  const float* C = coef.data();
  parallel_for(items, [=](int64_t it) {
    int64_t i = it / per, lo = (it % per) * kChunk, hi = lo + kChunk < d ? lo + kChunk : d;
    const float k = C[i];
    const float* gi = g + i * d;
    float* vi = v + i * d;
    for (int64_t j = lo; j < hi; ++j) vi[j] = k * gi[j];
  });
  return lam * gp / (double)n;
}

void gp_norm_v_to(const float* g, float* v, float* norms, float* gp, int64_t n, int64_t d, float lambda) {
  gp[0] = (float)gp_norm_v(g, v, norms, n, d, lambda);
}

}  // namespace mrigan::cpu
