// Pooling and channel concat for inference (twins: native/cuda/pool.cu). Padded cells are skipped (max over in-bounds
// cells, average divided by their count — TensorFlow's 'same' avg_pool).
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// The in-bounds part [lo, hi) of the window of output index o along one axis.
static inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  lo = o * stride - pad;
  hi = std::min(lo + k, size);
  lo = std::max(lo, int64_t(0));
}

// Separable: a window's max / sum is the max / sum over its rows of the row-window results, so each plane is reduced
// along w into a [h, q] buffer, then along h; 2·k reads per output instead of k², and the inner loops run over whole
// rows with no bounds tests (vectorized). Average: the sum divided by the in-bounds count (rows in window × columns in
// window), as before. 4–6× the old per-cell loops on InceptionV3's pools (bench/NOTES.md).
template <bool Max>
static inline float op(float a, float b) { return Max ? std::max(a, b) : a + b; }

template <bool Max>
static void pool(const float* x, float* y, const ConvShape& s) {
  const int64_t sw = s.stride_w, wp = s.w + s.pad_l + s.pad_r;
  std::vector<float> cw((size_t)s.q);  // in-bounds columns of each output column's window
  for (int64_t j = 0; j < s.q; ++j) {
    int64_t lo, hi;
    window(j, sw, s.pad_l, s.s, s.w, lo, hi);
    cw[(size_t)j] = (float)(hi - lo);
  }
  // Pads hold the identity of the reduction (-FLT_MAX for max: NaN cells are skipped as before, 0 for the sum), so
  // along w every output column reads s.s cells of the padded row with no bounds tests.
  const float init = Max ? -FLT_MAX : 0.0f;
  parallel_for(s.n * s.c, [&](int64_t plane) {
    thread_local std::vector<float> buf;
    if ((int64_t)buf.size() < s.h * s.q + wp) buf.resize((size_t)(s.h * s.q + wp));
    const float* xp = x + plane * s.h * s.w;
    float* yp = y + plane * s.p * s.q;
    float* t = buf.data();
    float* pr = t + s.h * s.q;
    std::fill(pr, pr + s.pad_l, init);
    std::fill(pr + s.pad_l + s.w, pr + wp, init);
    for (int64_t a = 0; a < s.h; ++a) {  // along w: t[a, j] = op over the row's window of column j
      std::memcpy(pr + s.pad_l, xp + a * s.w, (size_t)s.w * sizeof(float));
      float* tr = t + a * s.q;
      for (int64_t j = 0; j < s.q; ++j) tr[j] = op<Max>(init, pr[j * sw]);
      for (int64_t e = 1; e < s.s; ++e)
        for (int64_t j = 0; j < s.q; ++j) tr[j] = op<Max>(tr[j], pr[j * sw + e]);
    }
    for (int64_t i = 0; i < s.p; ++i) {  // along h
      int64_t h0, h1;
      window(i, s.stride_h, s.pad_t, s.r, s.h, h0, h1);
      float* yr = yp + i * s.q;
      const float* t0 = t + h0 * s.q;
      for (int64_t j = 0; j < s.q; ++j) yr[j] = t0[j];
      for (int64_t a = h0 + 1; a < h1; ++a) {
        const float* ta = t + a * s.q;
        for (int64_t j = 0; j < s.q; ++j) yr[j] = op<Max>(yr[j], ta[j]);
      }
      if (!Max) {
        const float ch = (float)(h1 - h0);
        for (int64_t j = 0; j < s.q; ++j) yr[j] /= ch * cw[(size_t)j];
      }
    }
  });
}

void max_pool2d_forward(const float* x, float* y, const ConvShape& s) { pool<true>(x, y, s); }
void avg_pool2d_forward(const float* x, float* y, const ConvShape& s) { pool<false>(x, y, s); }

void global_avg_pool(const float* x, float* y, int64_t n, int64_t c, int64_t hw) {
  parallel_for(n * c, [&](int64_t plane) {
    const float* xp = x + plane * hw;
    double acc = 0;
    for (int64_t i = 0; i < hw; ++i) acc += xp[i];
    y[plane] = (float)(acc / (double)hw);
  });
}

void concat_channels(const float* const* xs, const int64_t* cs, int64_t count, float* y, int64_t n, int64_t hw) {
  int64_t total = 0;
  for (int64_t j = 0; j < count; ++j) total += cs[j];
  parallel_for(n, [&](int64_t b) {
    float* yb = y + b * total * hw;
    for (int64_t j = 0; j < count; ++j) {
      const int64_t len = cs[j] * hw;
      if (len) std::memcpy(yb, xs[j] + b * len, (size_t)len * sizeof(float));
      yb += len;
    }
  });
}

}  // namespace mrigan::cpu
