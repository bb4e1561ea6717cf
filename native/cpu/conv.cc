// Conv2d, PyTorch semantics: x [n, c, h, w], weight OIHW [k, c, r, s], y [n, k, p, q],
//   y[b, o, oh, ow] = bias[o] + Σ_{ci, i, j} w[o, ci, i, j] · x[b, ci, oh·sh − pt + i, ow·sw − pl + j]  (0 outside x),
// with asymmetric padding [pt, pb, pl, pr] and p = (h + pt + pb − r) / sh + 1.
//
// As GEMMs over the column matrix of im2col.h (crs = c·r·s rows, one column per output pixel of the batch):
//   forward          y     = W[k, crs] · col                      per column tile, + bias
//   backward-data    dx    = col2im(Wᵀ[crs, k] · dy)              dx overwritten
//   backward-weight  dW   += dy[k, cols] · colᵀ[cols, crs]        summed over the batch
// Parallel layout (measured, bench/NOTES.md): work is split over OpenMP threads and each thread calls a
// single-threaded GEMM on a column tile that fits its scratch budget (about L2):
//   forward          column tiles (any pixels of any samples) are independent;
//   backward-data    threads own input channels (col2im of different channels never overlaps), or samples when
//                    there are fewer channels than threads;
//   backward-weight  threads own rows of dW (c·r·s ranges), or, when dW is small, chunks of the batch with
//                    private partial sums added at the end.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm.h"
#include "cpu/im2col.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// Tuning (gemm.h ConvTuning): the column-tile budget in floats per thread (the im2col buffer, sized for L2), and
// the size below which a conv runs on one thread. Tests shrink both to reach every path with small shapes.
static ConvTuning g_tuning = {int64_t(1) << 18, int64_t(1) << 19};
ConvTuning conv_tuning() { return g_tuning; }
void conv_set_tuning(const ConvTuning& t) { g_tuning = t; }

enum Slot { kCol = 0, kTmp = 1 };

// Threads for a conv of this size: below ~1 MFLOP (serial_macs) a parallel region costs more than it saves.
static int64_t threads_for(const ConvShape& s) {
  const double macs = (double)s.n * s.k * s.c * s.r * s.s * s.p * s.q;
  return macs < (double)g_tuning.serial_macs ? 1 : num_threads();
}
template <typename F>
static void for_items(int64_t count, int64_t threads, F&& f) {
  if (threads > 1) parallel_for(count, f);
  else for (int64_t i = 0; i < count; ++i) f(i);
}

// Tiles of `cols` columns covering [0, total): at most budget / rows columns each, and, when there is enough
// work, a multiple of `parts` tiles so that every thread gets the same number.
struct Tiles {
  int64_t width, count;
};
static Tiles make_tiles(int64_t total, int64_t rows, int64_t parts) {
  int64_t width = std::max<int64_t>(1, g_tuning.tile_floats / std::max<int64_t>(rows, 1));
  int64_t count = (total + width - 1) / width;
  if (parts > 1) count = std::min(total, (count + parts - 1) / parts * parts);
  width = (total + count - 1) / count;
  return {width, (total + width - 1) / width};
}

// Pointer and leading dimension of the [k, cols] block of dy for columns [j0, j1): dy itself when the tile lies
// inside one sample, else gathered into scratch slot kTmp.
static const float* dy_tile(const float* dy, const ConvShape& s, int64_t j0, int64_t j1, int64_t* ld) {
  const int64_t pq = s.p * s.q, b0 = j0 / pq;
  if ((j1 - 1) / pq == b0) {
    *ld = pq;
    return dy + b0 * s.k * pq + (j0 - b0 * pq);
  }
  const int64_t cols = j1 - j0;
  float* t = scratch(kTmp, s.k * cols);
  for (int64_t j = j0; j < j1;) {  // one segment per sample
    const int64_t b = j / pq, pix = j - b * pq, len = std::min(pq - pix, j1 - j);
    for (int64_t o = 0; o < s.k; ++o)
      std::memcpy(t + o * cols + (j - j0), dy + (b * s.k + o) * pq + pix, (size_t)len * sizeof(float));
    j += len;
  }
  *ld = cols;
  return t;
}

void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s) {
  const int64_t crs = s.c * s.r * s.s, pq = s.p * s.q, total = s.n * pq;
  if (total == 0 || s.k == 0) return;
  // 1×1, stride 1, no padding: the column matrix of a sample is x itself.
  const bool identity = s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_t == 0 && s.pad_b == 0 &&
                        s.pad_l == 0 && s.pad_r == 0;
  const int64_t T = threads_for(s);
  const Tiles t = make_tiles(total, crs, T);
  SerialBlas serial;
  for_items(t.count, T, [&](int64_t ti) {
    thread_local std::vector<Run> runs;
    const int64_t j0 = ti * t.width, j1 = std::min(total, j0 + t.width), cols = j1 - j0;
    const int64_t b0 = j0 / pq, pix0 = j0 - b0 * pq;
    const bool one = (j1 - 1) / pq == b0;
    make_runs(s, j0, j1, runs);
    const float* col;
    int64_t ldcol;
    if (identity && one) {
      col = x + b0 * crs * pq + pix0;
      ldcol = pq;
    } else {
      float* c = scratch(kCol, crs * cols);
      im2col_tile(x, s, runs, 0, crs, c, cols);
      col = c;
      ldcol = cols;
    }
    if (one) {  // straight into y
      float* out = y + b0 * s.k * pq + pix0;
      sgemm(false, false, s.k, cols, crs, 1.0f, w, crs, col, ldcol, 0.0f, out, pq);
      if (bias)
        for (int64_t o = 0; o < s.k; ++o)
          for (int64_t j = 0; j < cols; ++j) out[o * pq + j] += bias[o];
      return;
    }
    float* tmp = scratch(kTmp, s.k * cols);
    sgemm(false, false, s.k, cols, crs, 1.0f, w, crs, col, ldcol, 0.0f, tmp, cols);
    for (int64_t j = j0; j < j1;) {  // scatter per sample segment, adding the bias
      const int64_t b = j / pq, pix = j - b * pq, len = std::min(pq - pix, j1 - j);
      for (int64_t o = 0; o < s.k; ++o) {
        const float* src = tmp + o * cols + (j - j0);
        float* dst = y + (b * s.k + o) * pq + pix;
        const float bo = bias ? bias[o] : 0.0f;
        for (int64_t e = 0; e < len; ++e) dst[e] = src[e] + bo;
      }
      j += len;
    }
  });
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  const int64_t rs = s.r * s.s, crs = s.c * rs, pq = s.p * s.q, total = s.n * pq;
  const int64_t chw = s.c * s.h * s.w;
  parallel_chunks(s.n * chw, 1 << 16, [&](int64_t lo, int64_t hi) {
    std::memset(dx + lo, 0, (size_t)(hi - lo) * sizeof(float));
  });
  if (total == 0 || crs == 0) return;
  const int64_t T = threads_for(s);
  // Channels [c0, c1), columns [j0, j1): col = Wᵀ[rows of those channels] · dy, then col2im into dx.
  auto work = [&](int64_t c0, int64_t c1, int64_t j0, int64_t j1) {
    thread_local std::vector<Run> runs;
    const int64_t rows = (c1 - c0) * rs;
    const Tiles t = make_tiles(j1 - j0, rows, 1);
    for (int64_t ti = 0; ti < t.count; ++ti) {
      const int64_t a = j0 + ti * t.width, z = std::min(j1, a + t.width), cols = z - a;
      int64_t ld;
      const float* d = dy_tile(dy, s, a, z, &ld);
      float* col = scratch(kCol, rows * cols);
      sgemm(true, false, rows, cols, s.k, 1.0f, w + c0 * rs, crs, d, ld, 0.0f, col, cols);
      make_runs(s, a, z, runs);
      col2im_tile(col, s, runs, c0, c1, dx, cols);
    }
  };
  SerialBlas serial;
  if (s.c >= T || s.n < T) {
    const int64_t g = std::min(T, s.c);
    for_items(g, T, [&](int64_t i) { work(s.c * i / g, s.c * (i + 1) / g, 0, total); });
  } else {
    for_items(s.n, T, [&](int64_t b) { work(0, s.c, b * pq, (b + 1) * pq); });
  }
}

void conv2d_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  const int64_t crs = s.c * s.r * s.s, pq = s.p * s.q, total = s.n * pq;
  if (total == 0 || crs == 0 || s.k == 0) return;
  const int64_t T = threads_for(s);
  SerialBlas serial;
  if (T > 1 && s.k * crs <= (int64_t(1) << 16) && total >= 2 * T) {
    // Small dW: threads take chunks of the batch's columns and sum into private partials. The partial is kept
    // as [crs, k] when k > crs so the GEMM's N (the register tile's width) is the larger side.
    const bool trans = s.k > crs;
    std::vector<float> parts((size_t)(T * s.k * crs), 0.0f);
    parallel_for(T, [&](int64_t i) {
      thread_local std::vector<Run> runs;
      const int64_t j0 = total * i / T, j1 = total * (i + 1) / T;
      float* part = parts.data() + i * s.k * crs;
      const Tiles t = make_tiles(j1 - j0, crs, 1);
      for (int64_t ti = 0; ti < t.count; ++ti) {
        const int64_t a = j0 + ti * t.width, z = std::min(j1, a + t.width), cols = z - a;
        int64_t ld;
        const float* d = dy_tile(dy, s, a, z, &ld);
        float* col = scratch(kCol, crs * cols);
        make_runs(s, a, z, runs);
        im2col_tile(x, s, runs, 0, crs, col, cols);
        if (trans) sgemm(false, true, crs, s.k, cols, 1.0f, col, cols, d, ld, 1.0f, part, s.k);
        else sgemm(false, true, s.k, crs, cols, 1.0f, d, ld, col, cols, 1.0f, part, crs);
      }
    });
    parallel_for(s.k, [&](int64_t o) {
      for (int64_t r = 0; r < crs; ++r) {
        float acc = 0.0f;
        for (int64_t i = 0; i < T; ++i) acc += parts[i * s.k * crs + (trans ? r * s.k + o : o * crs + r)];
        dw[o * crs + r] += acc;
      }
    });
    return;
  }
  // Threads own rows [r0, r1) of the column matrix = columns of dW; each walks the whole batch.
  const int64_t g = std::min(T, crs);
  for_items(g, T, [&](int64_t i) {
    thread_local std::vector<Run> runs;
    const int64_t r0 = crs * i / g, r1 = crs * (i + 1) / g, rows = r1 - r0;
    const Tiles t = make_tiles(total, rows, 1);
    for (int64_t ti = 0; ti < t.count; ++ti) {
      const int64_t a = ti * t.width, z = std::min(total, a + t.width), cols = z - a;
      int64_t ld;
      const float* d = dy_tile(dy, s, a, z, &ld);
      float* col = scratch(kCol, rows * cols);
      make_runs(s, a, z, runs);
      im2col_tile(x, s, runs, r0, r1, col, cols);
      sgemm(false, true, s.k, rows, cols, 1.0f, d, ld, col, cols, 1.0f, dw + r0, crs);
    }
  });
}

}  // namespace mrigan::cpu
