// Mean BCE-with-logits over n elements (PyTorch BCEWithLogitsLoss, reduction 'mean'), in float64 per element:
//   ℓ_i = max(x, 0) − x·t + log1p(e^{−|x|})   (never exponentiates a positive number, so no overflow),
//   grad_i = (σ(x) − t)/n with σ(x) = 1/(1 + e^{−|x|}) for x >= 0 and e^{−|x|}/(1 + e^{−|x|}) otherwise.
// Returns Σℓ_i/n. n is a batch of logits (small), but the loop is chunked so a large n still runs in parallel.
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

double bce_with_logits(const float* logits, const float* targets, float* grad, size_t n) {
  const int64_t kChunk = 1 << 13, nc = ((int64_t)n + kChunk - 1) / kChunk;
  const double inv_n = 1.0 / (double)n;
  std::vector<double> part((size_t)nc, 0.0);
  double* P = part.data();
  parallel_for(nc, [=](int64_t c) {
    size_t lo = (size_t)(c * kChunk), hi = lo + kChunk < n ? lo + kChunk : n;
    double s = 0.0;
    for (size_t i = lo; i < hi; ++i) {
      double x = logits[i], t = targets[i], e = std::exp(-std::fabs(x));
      s += (x > 0.0 ? x : 0.0) - x * t + std::log1p(e);
      double sig = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      grad[i] = (float)((sig - t) * inv_n);
    }
    P[c] = s;
  });
  double s = 0.0;
  for (double p : part) s += p;
  return s * inv_n;
}

void bce_with_logits_to(const float* logits, const float* targets, float* grad, float* loss, size_t n) {
  loss[0] = (float)bce_with_logits(logits, targets, grad, n);
}

}  // namespace mrigan::cpu
