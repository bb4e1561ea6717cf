// Adam over every parameter tensor in one call, torch.optim.Adam (foreach = False) step by step, in float32:
//   g = grad + wd·p;  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
//   p −= (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps),   t = step >= 1.
// The bias corrections are computed in float64 like PyTorch's Python scalars. All tensors are cut into chunks of
// ~32K elements and the chunks of all tensors run as one parallel loop, so many small tensors (BN) and a few
// large ones (conv weights) balance across threads.
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// One contiguous piece of one tensor (vectorises: the build uses -fno-math-errno, so sqrtf has no errno branch).
// WD = false skips the decay term, as PyTorch does for weight_decay = 0 (0·p would turn an inf parameter into NaN).
template <bool WD>
static void adam_piece(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                       int64_t lo, int64_t hi, float b1, float c1, float b2, float c2, float step_size, float bc2_sqrt,
                       float eps, float wd) {
  for (int64_t i = lo; i < hi; ++i) {
    float gi = WD ? g[i] + wd * p[i] : g[i];
    float mi = b1 * m[i] + c1 * gi;
    float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
  }
}

void adam_step(float* const* params, const float* const* grads, float* const* m, float* const* v, const int64_t* sizes,
               int64_t count, float lr, double beta1, double beta2, float eps, float weight_decay, int64_t step) {
  const std::vector<Piece> pieces = tensor_pieces(sizes, count, 1 << 15);

  const double bc1 = 1.0 - std::pow(beta1, (double)step), bc2 = 1.0 - std::pow(beta2, (double)step);
  // 1 − β in double, then rounded, as PyTorch passes Python floats (1 − 0.999f would be 1.3e-5 off).
  const float b1 = (float)beta1, c1 = (float)(1.0 - beta1), b2 = (float)beta2, c2 = (float)(1.0 - beta2);
  const float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)std::sqrt(bc2);
  const Piece* pc = pieces.data();
  parallel_for((int64_t)pieces.size(), [=](int64_t k) {
    const Piece q = pc[k];
    if (weight_decay != 0.0f)
      adam_piece<true>(params[q.t], grads[q.t], m[q.t], v[q.t], q.lo, q.hi, b1, c1, b2, c2, step_size, bc2_sqrt, eps,
                       weight_decay);
    else
      adam_piece<false>(params[q.t], grads[q.t], m[q.t], v[q.t], q.lo, q.hi, b1, c1, b2, c2, step_size, bc2_sqrt, eps,
                        0.0f);
  });
}

}  // namespace mrigan::cpu
