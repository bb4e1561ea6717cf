// Elementwise ops and bias add/grad. Memory-bound loops: parallel over large blocks, vectorised by the compiler
// (lambdas capture by value so stores through y cannot alias the scalars). Reductions (sum, bias_grad) accumulate
// in float64; `omp simd reduction` lets the compiler vectorise them without -ffast-math.
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

static constexpr int64_t kBlock = kParallelBlock;

template <typename F>
static void blocks(size_t n, F&& f) { parallel_blocks(n, f); }

void fill(float* y, size_t n, float v) {
  blocks(n, [=](size_t lo, size_t hi) { for (size_t i = lo; i < hi; ++i) y[i] = v; });
}
void add(const float* a, const float* b, float* y, size_t n) {
  blocks(n, [=](size_t lo, size_t hi) { for (size_t i = lo; i < hi; ++i) y[i] = a[i] + b[i]; });
}
void mul(const float* a, const float* b, float* y, size_t n) {
  blocks(n, [=](size_t lo, size_t hi) { for (size_t i = lo; i < hi; ++i) y[i] = a[i] * b[i]; });
}
void scale(const float* x, float* y, size_t n, float alpha) {
  blocks(n, [=](size_t lo, size_t hi) { for (size_t i = lo; i < hi; ++i) y[i] = alpha * x[i]; });
}
void axpy(float alpha, const float* x, float* y, size_t n) {
  blocks(n, [=](size_t lo, size_t hi) { for (size_t i = lo; i < hi; ++i) y[i] += alpha * x[i]; });
}

// a − b is rounded once; the multiply-add may be contracted into an FMA (one rounding instead of two) here and on
// the GPU, so the tests allow either.
void lerp_rows(const float* a, const float* b, const float* t, float* y, int64_t n, int64_t per) {
  parallel_for(n, [=](int64_t i) {
    const float ti = t[i];
    const float *ai = a + i * per, *bi = b + i * per;
    float* yi = y + i * per;
    for (int64_t j = 0; j < per; ++j) yi[j] = bi[j] + ti * (ai[j] - bi[j]);
  });
}

double sum(const float* x, size_t n) {
  int64_t nb = ((int64_t)n + kBlock - 1) / kBlock;
  std::vector<double> part((size_t)nb, 0.0);
  double* P = part.data();
  parallel_for(nb, [=](int64_t b) {
    size_t lo = (size_t)b * kBlock, hi = lo + kBlock < n ? lo + kBlock : n;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = lo; i < hi; ++i) s += x[i];
    P[b] = s;
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// Device scalars: the float64 result rounded once into y[0] (on the CPU "the device" is host memory).
void sum_to(const float* x, float* y, size_t n) { y[0] = (float)sum(x, n); }
void mean_to(const float* x, float* y, size_t n) { y[0] = (float)(sum(x, n) / (double)n); }
void gather_scalars(const float* const* xs, float* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = xs[i][0];
}

// Pieces of ≤ kBlock elements over all tensors run as one parallel loop (many small BN tensors, a few big
// weights). x·0 is 0 for finite x and NaN for NaN / ±Inf, so a piece's Σ x·0 is 0 iff it is all finite (vectorises).
int64_t first_non_finite(const float* const* xs, const int64_t* sizes, int64_t count) {
  const std::vector<Piece> pieces = tensor_pieces(sizes, count, kBlock);
  std::vector<unsigned char> bad(pieces.size(), 0);
  const Piece* P = pieces.data();
  unsigned char* B = bad.data();
  parallel_for((int64_t)pieces.size(), [=](int64_t k) {
    const float* x = xs[P[k].t];
    float z = 0.0f;
#pragma omp simd reduction(+ : z)
    for (int64_t i = P[k].lo; i < P[k].hi; ++i) z += x[i] * 0.0f;
    B[k] = !(z == 0.0f);
  });
  for (size_t k = 0; k < pieces.size(); ++k)
    if (bad[k]) return pieces[k].t;
  return -1;
}

void bias_add(float* y, const float* b, int64_t n, int64_t c, int64_t hw) {
  if (hw == 1) {  // [n, c] after a Dense: rows of c, vectorised over channels
    parallel_for(n, [=](int64_t i) {
      float* p = y + i * c;
      for (int64_t ch = 0; ch < c; ++ch) p[ch] += b[ch];
    });
    return;
  }
  parallel_for(n * c, [=](int64_t nc) {
    const float v = b[nc % c];
    float* p = y + nc * hw;
    for (int64_t i = 0; i < hw; ++i) p[i] += v;
  });
}

void bias_grad(const float* dy, float* db, int64_t n, int64_t c, int64_t hw) {
  if (hw == 1) {  // per-channel float64 accumulators over the rows, channel ranges in parallel
    parallel_chunks(c, 64, [=](int64_t c0, int64_t c1) {
      std::vector<double> acc((size_t)(c1 - c0), 0.0);
      double* A = acc.data();
      for (int64_t i = 0; i < n; ++i) {
        const float* p = dy + i * c;
        for (int64_t ch = c0; ch < c1; ++ch) A[ch - c0] += p[ch];
      }
      for (int64_t ch = c0; ch < c1; ++ch) db[ch] += (float)A[ch - c0];
    });
    return;
  }
  parallel_for(c, [=](int64_t ch) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* p = dy + (i * c + ch) * hw;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < hw; ++j) s += p[j];
    }
    db[ch] += (float)s;
  });
}

}  // namespace mrigan::cpu
