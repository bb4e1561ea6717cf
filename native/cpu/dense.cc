// Dense (PyTorch Linear): x [n, in], w [out, in], y [n, out] = x · wᵀ + b, and the general gemm op.
// All three are single GEMM calls (gemm.h picks OpenBLAS or the builtin GEMM, threaded over the whole problem):
//   forward          y   = x · wᵀ (+ b, pre-filled so the GEMM accumulates onto it); with very few outputs,
//                    serial dot products of rows instead (a GEMM would pad them to a full register tile)
//   backward-data    dx  = dy · w
//   backward-weight  dw += dyᵀ · x
#include <algorithm>

#include "core/parallel.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

void dense_forward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in, int64_t out) {
  if (b) parallel_for(n, [&](int64_t i) { std::copy(b, b + out, y + i * out); });
  if (out < NR / 2 && in >= 4 * VL) {  // a few outputs (a critic's score): dot products of rows, no packing
    if (!b) std::fill(y, y + n * out, 0.0f);
    dot_gemm(n, out, in, x, in, w, in, y, out);
    return;
  }
  sgemm(false, true, n, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

void dense_backward_data(const float* dy, const float* w, float* dx, int64_t n, int64_t in, int64_t out) {
  sgemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

void dense_backward_weight(const float* dy, const float* x, float* dw, int64_t n, int64_t in, int64_t out) {
  sgemm(true, false, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace mrigan::cpu
