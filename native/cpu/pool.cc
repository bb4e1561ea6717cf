// Pooling and channel concat for inference (twins: native/cuda/pool.cu). Plain loops: one output cell reads its
// window directly; padded cells are skipped (max over in-bounds cells, average divided by their count — TensorFlow's
// 'same' avg_pool). Windows are clipped once per output row/column instead of testing every cell.
#include <algorithm>
#include <cfloat>
#include <cstring>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// The in-bounds part [lo, hi) of the window of output index o along one axis.
static inline void window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  lo = o * stride - pad;
  hi = std::min(lo + k, size);
  lo = std::max(lo, int64_t(0));
}

template <bool Max>
static void pool(const float* x, float* y, const ConvShape& s) {
  parallel_for(s.n * s.c, [&](int64_t plane) {
    const float* xp = x + plane * s.h * s.w;
    float* yp = y + plane * s.p * s.q;
    for (int64_t i = 0; i < s.p; ++i) {
      int64_t h0, h1;
      window(i, s.stride_h, s.pad_t, s.r, s.h, h0, h1);
      for (int64_t j = 0; j < s.q; ++j) {
        int64_t w0, w1;
        window(j, s.stride_w, s.pad_l, s.s, s.w, w0, w1);
        float m = -FLT_MAX;
        float acc = 0.f;
        for (int64_t a = h0; a < h1; ++a)
          for (int64_t b = w0; b < w1; ++b) {
            float v = xp[a * s.w + b];
            if (Max) m = std::max(m, v);
            else acc += v;
          }
        yp[i * s.q + j] = Max ? m : acc / (float)((h1 - h0) * (w1 - w0));
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
