// Conv2d, PyTorch semantics: x [n, c, h, w], weight OIHW [k, c, r, s], y [n, k, p, q],
//   y[b, o, oh, ow] = bias[o] + Σ_{ci, i, j} w[o, ci, i, j] · x[b, ci, oh·sh − pt + i, ow·sw − pl + j]  (0 outside x),
// with asymmetric padding [pt, pb, pl, pr] and p = (h + pt + pb − r) / sh + 1.
//
// Implicit GEMM over the column matrix of im2col.h (crs = c·r·s rows, one column per output pixel of the batch),
// on the register-tile kernel of gemm_kernel.h; the column matrix is packed straight from x, never stored whole:
//   forward          y    = W[k, crs] · col             W packed once per call; col packed per KC slice from x
//   backward-data    dx   = col2im(Wᵀ[crs, k] · dy)     Wᵀ packed once per thread; dy packed per panel; each
//                                                        register tile is scattered into dx as it is stored
//   backward-weight  dW  += dy[k, cols] · colᵀ           both sides packed per slice (dy rows and x rows, transposed
//                                                        into strips)
// Special shapes: a kernel covering the whole unpadded image (1×1 output) is a dense layer; dW with few rows and
// filters (first / last layers) is computed as dot products along the pixels.
// Parallel layout (bench/NOTES.md): OpenMP threads, each running the serial GEMM driver on its own piece:
//   forward          column tiles (within one sample when p·q is large, else spanning samples);
//   backward-data    input channels (col2im of different channels never overlaps), or samples when there are
//                    fewer channels than threads;
//   backward-weight  rows of dW (c·r·s ranges), or, when dW is small, chunks of the batch's columns with private
//                    partial sums added at the end (then the GEMM runs transposed if k > c·r·s, so its wide side
//                    is the register tile's).
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "cpu/conv_direct.h"
#include "cpu/conv_wino.h"
#include "cpu/gemm.h"
#include "cpu/gemm_kernel.h"
#include "cpu/im2col.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// Tuning (gemm.h ConvTuning): most columns per tile, and the multiply-adds below which a conv runs on one thread.
// Tests shrink both to reach every path with small shapes.
static ConvTuning g_tuning = {1024, int64_t(1) << 19, kConvAuto, 0};
ConvTuning conv_tuning() { return g_tuning; }
void conv_set_tuning(const ConvTuning& t) { g_tuning = t; }

// Scratch slots (gemm.cc uses 14, 15).
enum Slot { kA = 0, kB = 1, kCol = 2, kTmp = 3, kRow = 4, kW = 5 };

static int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }

// A kernel that covers the whole unpadded image (1×1 output, like DCGAN's first and last layers) is a dense layer:
// the column of sample b is x[b] itself, so the three passes are plain GEMMs over [n, c·h·w].
static bool whole_image(const ConvShape& s) {
  return s.p == 1 && s.q == 1 && s.r == s.h && s.s == s.w && s.pad_t == 0 && s.pad_b == 0 && s.pad_l == 0 && s.pad_r == 0;
}

// Threads for a conv of this size: below ~1 MFLOP a parallel region costs more than it saves.
static int64_t threads_for(const ConvShape& s) {
  const double macs = (double)s.n * s.k * s.c * s.r * s.s * s.p * s.q;
  return macs < (double)g_tuning.serial_macs ? 1 : num_threads();
}
template <typename F>
static void for_items(int64_t count, int64_t threads, F&& f) {
  if (threads > 1 && count > 1) parallel_for(count, f);
  else for (int64_t i = 0; i < count; ++i) f(i);
}

// Tiles of at most `width` columns covering [0, total); when there is enough work, a multiple of `parts` tiles
// so that every thread gets the same number.
struct Tiles {
  int64_t width, count;
};
static Tiles make_tiles(int64_t total, int64_t width, int64_t parts) {
  width = std::max<int64_t>(1, width);
  int64_t count = (total + width - 1) / width;
  if (parts > 1) count = std::min(total, round_up(count, parts));
  width = (total + count - 1) / count;
  return {width, (total + width - 1) / width};
}

// Packs op(A) [m, k] whole, slice by slice (kslice deep, as the GEMM will walk it): slice pc starts at
// pc·round_up(m, MR), block ic within it at ic·kc.
static void pack_a_whole(bool ta, const float* a, int64_t lda, int64_t m, int64_t k, float* dst, int64_t threads,
                         int64_t kslice = KC) {
  const int64_t mp = round_up(m, MR);
  for_items((k + kslice - 1) / kslice, threads, [&](int64_t sl) {
    const int64_t pc = sl * kslice;
    pack_a(ta, a, lda, 0, m, pc, std::min(kslice, k - pc), dst + pc * mp);
  });
}
static const float* packed_block(const float* ap, int64_t m, int64_t ic, int64_t pc, int64_t kc) {
  return ap + pc * round_up(m, MR) + ic * kc;
}

// Column-matrix rows [p0, p0 + kc) × columns [j0, j0 + nc) as B strips.
static void pack_col(const float* x, const ConvShape& s, const RowInfo* rows, int64_t p0, int64_t kc, int64_t j0,
                     int64_t nc, float* dst) {
  // The panel's runs, cut at strip boundaries, with offsets mapped into the strip layout (strip st at st·NR·kc), so
  // one pass per row fills that row of every strip.
  thread_local std::vector<Run> runs, cut;
  make_runs(s, j0, j0 + nc, runs);
  cut.clear();
  for (const Run& u : runs)
    for (int64_t t = 0; t < u.len;) {
      const int64_t col = u.off + t, in = col % NR, len = std::min(u.len - t, NR - in);
      cut.push_back({u.b, u.oh, u.ow + t, len, (col / NR) * NR * kc + in});
      t += len;
    }
  for (int64_t p = 0; p < kc; ++p) im2col_row(x, s, rows[p0 + p], cut, dst + p * NR);
  const int64_t last = (nc - 1) / NR, nr = nc - last * NR;  // zero the columns past the end of the last strip
  if (nr < NR)
    for (int64_t p = 0; p < kc; ++p) std::fill(dst + last * NR * kc + p * NR + nr, dst + last * NR * kc + (p + 1) * NR, 0.0f);
}

// dy rows (filters) [p0, p0 + kc) over the columns of `runs` (one strip of nr ≤ NR columns) as a B strip.
static void pack_dy_strip(const float* dy, const ConvShape& s, int64_t p0, int64_t kc, const std::vector<Run>& runs,
                          int64_t nr, float* d) {
  const int64_t pq = s.p * s.q;
  for (int64_t p = 0; p < kc; ++p) {
    float* o = d + p * NR;
    for (const Run& u : runs)
      std::memcpy(o + u.off, dy + (u.b * s.k + p0 + p) * pq + u.oh * s.q + u.ow, (size_t)u.len * sizeof(float));
    std::fill(o + nr, o + NR, 0.0f);
  }
}

// Backward-weight packs one operand element e (a dy filter row or a column-matrix row) at a time over the columns
// of `runs`: dst[t·es] for column t, es = MR or NR (the strip width), i.e. transposed into the strip.
static void put_dy_row(const float* dy, const ConvShape& s, int64_t o, const std::vector<Run>& runs, float* dst, int64_t es) {
  const int64_t pq = s.p * s.q;
  for (const Run& u : runs) {
    const float* src = dy + (u.b * s.k + o) * pq + u.oh * s.q + u.ow;
    float* d = dst + u.off * es;
    for (int64_t t = 0; t < u.len; ++t) d[t * es] = src[t];
  }
}
static void put_col_row(const float* x, const ConvShape& s, const RowInfo& row, const std::vector<Run>& runs, int64_t cols,
                        float* dst, int64_t es) {
  float* tmp = scratch(kRow, cols);
  im2col_row(x, s, row, runs, tmp);
  for (int64_t t = 0; t < cols; ++t) dst[t * es] = tmp[t];
}
static void zero_strided(float* dst, int64_t cols, int64_t es) {
  for (int64_t t = 0; t < cols; ++t) dst[t * es] = 0.0f;
}

// In-register transpose of VL vectors of VL floats: log2(VL) rounds, round b exchanging bit b of the row index with
// bit b of the lane index (two-source shuffles of row pairs r, r | 2^b with constant masks; fully unrolled so the
// VL rows stay in registers).
typedef int vi_lane __attribute__((vector_size(VL * sizeof(int))));
template <int B, bool HI>
constexpr int transpose_lane(int c) {  // lane c of row r (HI: of row r | 2^B) takes this lane of (row r, row r | 2^B)
  const bool set = (c >> B) & 1;
  return HI ? (set ? VL + c : (c | (1 << B))) : (set ? VL + (c ^ (1 << B)) : c);
}
template <int B, bool HI, size_t... I>
constexpr vi_lane transpose_mask(std::index_sequence<I...>) {
  return vi_lane{transpose_lane<B, HI>((int)I)...};
}
template <int B>
static inline void transpose_round(vf* v) {
  if constexpr ((1 << B) < VL) {
    constexpr vi_lane lo = transpose_mask<B, false>(std::make_index_sequence<VL>{});
    constexpr vi_lane hi = transpose_mask<B, true>(std::make_index_sequence<VL>{});
#pragma GCC unroll 16
    for (int r = 0; r < VL; ++r)
      if (!((r >> B) & 1)) {
        const vf a = v[r], c = v[r | (1 << B)];
        v[r] = __builtin_shuffle(a, c, lo);
        v[r | (1 << B)] = __builtin_shuffle(a, c, hi);
      }
    transpose_round<B + 1>(v);
  }
}

// dst[p·NR + t] = rows[t·ld + p] for t < NR, p < kc: NR rows of length kc transposed into one B strip (64-byte
// aligned, as scratch and packed strips are).
static void transpose_to_strip(const float* rows, int64_t ld, int64_t kc, float* dst) {
  int64_t p = 0;
  for (; p + VL <= kc; p += VL)
    for (int h = 0; h < NR / VL; ++h) {
      vf v[VL];
      for (int t = 0; t < VL; ++t) v[t] = *(const vfu*)(rows + (h * VL + t) * ld + p);
      transpose_round<0>(v);
      for (int e = 0; e < VL; ++e) *(vf*)(dst + (p + e) * NR + h * VL) = v[e];
    }
  for (; p < kc; ++p)
    for (int t = 0; t < NR; ++t) dst[p * NR + t] = rows[t * ld + p];
}

// ---------------------------------------------------------------- forward
void conv2d_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s) {
  if (conv_wino_forward(x, w, bias, y, s)) return;  // conv_wino.cc, where the knob and shape choose it
  if (conv_direct_forward(x, w, bias, y, s)) return;  // conv_direct.cc, where the knob and shape choose it
  const int64_t crs = s.c * s.r * s.s, pq = s.p * s.q, total = s.n * pq;
  if (total == 0 || s.k == 0) return;
  if (whole_image(s)) {  // y[b, o] = bias[o] + x[b] · w[o]: dot products, threads take ranges of filters
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t o = 0; o < s.k; ++o) y[b * s.k + o] = bias ? bias[o] : 0.0f;
    const int64_t g = std::min(threads_for(s), (s.k + 5) / 6);
    for_items(g, g, [&](int64_t i) {
      const int64_t o0 = s.k * i / g, o1 = s.k * (i + 1) / g;
      dot_gemm(s.n, o1 - o0, crs, x, crs, w + o0 * crs, crs, y + o0, s.k);
    });
    return;
  }
  const int64_t T = threads_for(s);
  std::vector<RowInfo> rows;
  row_table(s, rows);
  float* wp = scratch(kW, round_up(s.k, MR) * crs);  // W [k, crs] packed once, shared by all threads
  pack_a_whole(false, w, crs, s.k, crs, wp, T);
  // Tiles inside one sample when its p·q columns are many (the GEMM writes y directly), else spanning samples.
  const int64_t wmax = g_tuning.tile_cols;
  const bool per_sample = pq >= std::min<int64_t>(256, wmax);
  const Tiles t = per_sample ? make_tiles(pq, wmax, 1) : make_tiles(total, wmax, T);
  const int64_t count = per_sample ? s.n * t.count : t.count;
  for_items(count, T, [&](int64_t it) {
    int64_t j0, j1;
    if (per_sample) {
      const int64_t b = it / t.count, ti = it % t.count;
      j0 = b * pq + ti * t.width;
      j1 = std::min((b + 1) * pq, j0 + t.width);
    } else {
      j0 = it * t.width;
      j1 = std::min(total, j0 + t.width);
    }
    const int64_t cols = j1 - j0, b0 = j0 / pq, pix0 = j0 - b0 * pq;
    const bool one = (j1 - 1) / pq == b0;
    float* bbuf = scratch(kB, round_up(cols, NR) * KC);
    auto pa = [&](int64_t ic, int64_t, int64_t pc, int64_t kc, float*) { return packed_block(wp, s.k, ic, pc, kc); };
    auto pb = [&](int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* buf) {
      pack_col(x, s, rows.data(), pc, kc, j0 + jc, nc, buf);
      return (const float*)buf;
    };
    if (one) {  // straight into y
      float* out = y + b0 * s.k * pq + pix0;
      gemm_serial(s.k, cols, crs, cols, pa, pb, store_into(out, pq, 0.0f), nullptr, bbuf);
      if (bias)
        for (int64_t o = 0; o < s.k; ++o)
          for (int64_t j = 0; j < cols; ++j) out[o * pq + j] += bias[o];
      return;
    }
    float* tmp = scratch(kTmp, s.k * cols);
    gemm_serial(s.k, cols, crs, cols, pa, pb, store_into(tmp, cols, 0.0f), nullptr, bbuf);
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

// ---------------------------------------------------------------- backward-data
// Small outputs with many channels (D6: dy 8×1024×4×4, W 1024×512×4×4): the fused col2im GEMM below packs all of
// Wᵀ (33 MB for D6) per call and reaches ~120 GFLOP/s; one plain GEMM dcol = dyᵀ · W [n·p·q × c·r·s] reads W in
// place, then col2im adds dcol into dx (the output is only n·p·q = 128 columns, so dcol is a few MB). bench/NOTES.md.
static bool small_output(const ConvShape& s) {
  const int64_t cols = s.n * s.p * s.q, crs = s.c * s.r * s.s;  // dcol is cols × crs floats: ≤ 64 MB of scratch
  return s.p * s.q <= 16 && cols > 0 && cols <= 4096 && crs >= 2048 && cols * crs <= (int64_t(1) << 24) && s.k >= 256 &&
         !whole_image(s);
}
static void backward_data_small(const float* dy, const float* w, float* dx, const ConvShape& s) {
  const int64_t pq = s.p * s.q, m = s.n * pq, rs = s.r * s.s, crs = s.c * rs, hw = s.h * s.w;
  float* a = scratch(kTmp, m * s.k);  // dyᵀ: row (b, p, q), column k
  for_items(s.n, num_threads(), [&](int64_t b) {
    for (int64_t o = 0; o < s.k; ++o)
      for (int64_t i = 0; i < pq; ++i) a[(b * pq + i) * s.k + o] = dy[(b * s.k + o) * pq + i];
  });
  float* col = scratch(kCol, m * crs);
  sgemm(false, false, m, crs, s.k, 1.0f, a, s.k, w, crs, 0.0f, col, crs);
  for_items(s.n * s.c, num_threads(), [&](int64_t bc) {
    const int64_t b = bc / s.c, c = bc % s.c;
    float* d = dx + bc * hw;
    std::memset(d, 0, (size_t)hw * sizeof(float));
    for (int64_t oh = 0; oh < s.p; ++oh)
      for (int64_t ow = 0; ow < s.q; ++ow) {
        const float* src = col + (b * pq + oh * s.q + ow) * crs + c * rs;
        for (int64_t i = 0; i < s.r; ++i) {
          const int64_t ih = oh * s.stride_h - s.pad_t + i;
          if (ih < 0 || ih >= s.h) continue;
          for (int64_t j = 0; j < s.s; ++j) {
            const int64_t iw = ow * s.stride_w - s.pad_l + j;
            if (iw >= 0 && iw < s.w) d[ih * s.w + iw] += src[i * s.s + j];
          }
        }
      }
  });
}

void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  // Measured: at batch 8 the GEMM beats even the direct kernel on 4×4 images (E3 12.5 vs 14 ms); at batch 64 the
  // direct kernel wins where it applies (E3 84 vs 101 ms), and the GEMM still beats the fused path where it does not
  // (D6: 89 vs 129 ms).
  const bool small = g_tuning.kernel != kConvDirect && small_output(s);
  // (stride 1 only: at stride 2, D6 / G2, the direct kernel is faster, see conv_direct.cc)
  if (small && s.stride_h == 1 && s.stride_w == 1 && s.n * s.p * s.q <= 512) return backward_data_small(dy, w, dx, s);
  if (conv_wino_backward_data(dy, w, dx, s)) return;
  if (conv_direct_backward_data(dy, w, dx, s)) return;
  if (small) return backward_data_small(dy, w, dx, s);
  const int64_t rs = s.r * s.s, crs = s.c * rs, pq = s.p * s.q, total = s.n * pq;
  const int64_t hw = s.h * s.w;
  if (total == 0) return;
  if (s.k == 0) {
    std::memset(dx, 0, (size_t)(s.n * s.c * hw) * sizeof(float));
    return;
  }
  if (whole_image(s)) {  // dx[b] = dy[b, :] · W
    sgemm(false, false, s.n, crs, s.k, 1.0f, dy, s.k, w, crs, 0.0f, dx, crs);
    return;
  }
  const int64_t T = threads_for(s);
  std::vector<RowInfo> rows;
  row_table(s, rows);
  // Channels [c0, c1), columns [j0, j1): Wᵀ[rows of those channels] · dy, each register tile scattered back into
  // dx as it leaves the kernel (col2im fused into the GEMM's store, every KC slice adding its part). dx rows are
  // zeroed just before the first panel that reaches them (panels walk each sample's output rows in order), so
  // they are still in cache when the scatter adds to them; rows no panel reaches are zeroed at the end.
  auto work = [&](int64_t c0, int64_t c1, int64_t j0, int64_t j1) {
    thread_local std::vector<std::vector<Run>> strip_runs;  // runs of each NR-column strip of the current panel
    const int64_t m = (c1 - c0) * rs, r0 = c0 * rs;
    const int64_t b_lo = j0 / pq, b_hi = (j1 - 1) / pq;
    std::vector<int64_t> zeroed((size_t)(b_hi - b_lo + 1), 0);  // dx rows [0, zeroed) of sample b are zero
    auto zero_rows = [&](int64_t b, int64_t upto) {
      int64_t& z = zeroed[(size_t)(b - b_lo)];
      if (upto <= z) return;
      for (int64_t ci = c0; ci < c1; ++ci)
        std::memset(dx + (b * s.c + ci) * hw + z * s.w, 0, (size_t)((upto - z) * s.w) * sizeof(float));
      z = upto;
    };
    // The whole reduction (k ≤ 1024 filters) in one slice, so each tile is scattered into dx once.
    const int64_t kc_max = std::max(KC, std::min<int64_t>(s.k, 1024));
    float* wt = scratch(kW, round_up(m, MR) * s.k);  // Wᵀ rows of this channel range, packed once
    pack_a_whole(true, w + r0, crs, m, s.k, wt, 1, kc_max);
    const int64_t panel = std::max<int64_t>(NR, g_tuning.tile_cols);
    float* bbuf = scratch(kB, round_up(std::min(panel, j1 - j0), NR) * kc_max);
    int64_t panel_at = -1;
    auto pa = [&](int64_t ic, int64_t, int64_t pc, int64_t kc, float*) { return packed_block(wt, m, ic, pc, kc); };
    auto pb = [&](int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* buf) {
      const int64_t ns = (nc + NR - 1) / NR;
      if (panel_at != jc) {
        if ((int64_t)strip_runs.size() < ns) strip_runs.resize(ns);
        for (int64_t st = 0; st < ns; ++st) {
          const int64_t a = j0 + jc + st * NR;
          make_runs(s, a, a + std::min<int64_t>(NR, nc - st * NR), strip_runs[st]);
        }
        panel_at = jc;
        const int64_t a0 = j0 + jc, a1 = a0 + nc;
        for (int64_t b = b_lo; b < a0 / pq; ++b) zero_rows(b, s.h);  // samples already passed
        for (int64_t b = a0 / pq; b <= (a1 - 1) / pq; ++b) {
          const int64_t oh_last = (std::min(a1, (b + 1) * pq) - 1 - b * pq) / s.q;
          zero_rows(b, std::clamp<int64_t>(oh_last * s.stride_h - s.pad_t + s.r, 0, s.h));
        }
      }
      for (int64_t st = 0; st < ns; ++st)
        pack_dy_strip(dy, s, pc, kc, strip_runs[st], std::min<int64_t>(NR, nc - st * NR), buf + st * NR * kc);
      return (const float*)buf;
    };
    auto store = [&](int64_t i0, int64_t jt, int mr, int, vf acc[MR][2], bool) {
      alignas(64) float t[MR][NR];
      std::memcpy(t, acc, sizeof(t));
      const std::vector<Run>& runs = strip_runs[(jt - panel_at) / NR];
      for (int i = 0; i < mr; ++i) col2im_row(t[i], s, rows[r0 + i0 + i], runs, dx);
    };
    gemm_serial(m, j1 - j0, s.k, panel, pa, pb, store, nullptr, bbuf, kc_max);
    for (int64_t b = b_lo; b <= b_hi; ++b) zero_rows(b, s.h);
  };
  if (s.c >= T || s.n < T) {
    const int64_t g = std::min(T, s.c);
    for_items(g, T, [&](int64_t i) { work(s.c * i / g, s.c * (i + 1) / g, 0, total); });
  } else {
    for_items(s.n, T, [&](int64_t b) { work(0, s.c, b * pq, (b + 1) * pq); });
  }
}

// ---------------------------------------------------------------- backward-weight
// dW[:, r0:r1] (+)= dy[:, j0:j1] · col[r0:r1, j0:j1]ᵀ into c (ldc), or, transposed, cᵀ = col · dyᵀ.
static void weight_grad(const float* dy, const float* x, const ConvShape& s, const RowInfo* rows, int64_t r0, int64_t r1,
                        int64_t j0, int64_t j1, bool trans, float* c, int64_t ldc) {
  thread_local std::vector<Run> runs;
  const int64_t nrows = r1 - r0, cols = j1 - j0;
  int64_t runs_at = -1;  // runs describe columns [j0 + runs_at, + KC)
  auto runs_for = [&](int64_t pc, int64_t kc) {
    if (runs_at != pc) make_runs(s, j0 + pc, j0 + pc + kc, runs);
    runs_at = pc;
  };
  // Strips of `es` elements: dy filters [e0, e0 + ne) or column-matrix rows r0 + [e0, e0 + ne), over kc columns.
  // B strips (es = NR) are built as NR contiguous rows in scratch, then transposed a VL×VL block at a time; A
  // strips (es = MR) are written element by element.
  auto dy_strips = [&](int64_t e0, int64_t ne, int64_t es, int64_t pc, int64_t kc, float* dst) {
    runs_for(pc, kc);
    float* tmp = es == NR ? scratch(kTmp, NR * kc) : nullptr;
    for (int64_t st = 0; st < ne; st += es) {
      for (int64_t e = 0; e < es; ++e) {
        float* d = tmp ? tmp + e * kc : dst + st * kc + e;
        const int64_t es1 = tmp ? 1 : es;
        if (st + e < ne) put_dy_row(dy, s, e0 + st + e, runs, d, es1);
        else zero_strided(d, kc, es1);
      }
      if (tmp) transpose_to_strip(tmp, kc, kc, dst + st * kc);
    }
    return (const float*)dst;
  };
  auto col_strips = [&](int64_t e0, int64_t ne, int64_t es, int64_t pc, int64_t kc, float* dst) {
    runs_for(pc, kc);
    float* tmp = es == NR ? scratch(kTmp, NR * kc) : nullptr;
    for (int64_t st = 0; st < ne; st += es) {
      for (int64_t e = 0; e < es; ++e) {
        if (tmp) {
          if (st + e < ne) im2col_row(x, s, rows[r0 + e0 + st + e], runs, tmp + e * kc);
          else std::fill(tmp + e * kc, tmp + (e + 1) * kc, 0.0f);
          continue;
        }
        float* d = dst + st * kc + e;
        if (st + e < ne) put_col_row(x, s, rows[r0 + e0 + st + e], runs, kc, d, es);
        else zero_strided(d, kc, es);
      }
      if (tmp) transpose_to_strip(tmp, kc, kc, dst + st * kc);
    }
    return (const float*)dst;
  };
  constexpr int64_t kPanel = 1024;  // columns of C per B panel
  float* abuf = scratch(kA, MC * KC);
  float* bbuf = scratch(kB, kPanel * KC);
  if (!trans) {
    gemm_serial(s.k, nrows, cols, kPanel,
                [&](int64_t ic, int64_t mc, int64_t pc, int64_t kc, float* buf) { return dy_strips(ic, mc, MR, pc, kc, buf); },
                [&](int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* buf) { return col_strips(jc, nc, NR, pc, kc, buf); },
                store_into(c, ldc, 1.0f), abuf, bbuf);
  } else {
    gemm_serial(nrows, s.k, cols, kPanel,
                [&](int64_t ic, int64_t mc, int64_t pc, int64_t kc, float* buf) { return col_strips(ic, mc, MR, pc, kc, buf); },
                [&](int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* buf) { return dy_strips(jc, nc, NR, pc, kc, buf); },
                store_into(c, ldc, 1.0f), abuf, bbuf);
  }
}

// dW (+)= dy · colᵀ for few rows (c·r·s ≤ kDotRows) over columns [j0, j1), chunk by chunk inside one sample: both
// dy and the column matrix are contiguous along the columns, so dot_gemm needs no transposes.
constexpr int64_t kDotRows = 64, kDotChunk = 4096;
static void weight_grad_dot(const float* dy, const float* x, const ConvShape& s, const RowInfo* rows, int64_t j0,
                            int64_t j1, float* c) {
  thread_local std::vector<Run> runs;
  const int64_t crs = s.c * s.r * s.s, pq = s.p * s.q;
  for (int64_t a = j0; a < j1;) {
    const int64_t b = a / pq, len = std::min({j1 - a, (b + 1) * pq - a, kDotChunk});
    make_runs(s, a, a + len, runs);
    float* col = scratch(kCol, crs * len);
    for (int64_t r = 0; r < crs; ++r) im2col_row(x, s, rows[r], runs, col + r * len);
    dot_gemm(s.k, crs, len, dy + b * s.k * pq + (a - b * pq), pq, col, len, c, crs);
    a += len;
  }
}

void conv2d_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  if (conv_wino_backward_weight(dy, x, dw, s)) return;    // conv_wino.cc
  if (conv_direct_backward_weight(dy, x, dw, s)) return;  // conv_direct_wgrad.cc
  const int64_t crs = s.c * s.r * s.s, pq = s.p * s.q, total = s.n * pq;
  if (total == 0 || crs == 0 || s.k == 0) return;
  if (whole_image(s)) {  // dW += dyᵀ · x over [n, k] and [n, c·h·w]
    sgemm(true, false, s.k, crs, s.n, 1.0f, dy, s.k, x, crs, 1.0f, dw, crs);
    return;
  }
  const int64_t T = threads_for(s);
  std::vector<RowInfo> rows;
  row_table(s, rows);
  if (crs <= kDotRows && s.k <= kDotRows) {
    // Few rows and filters (first / last layers of image size): dot products over the batch, threads take chunks
    // of it with private partials.
    if (T == 1) { weight_grad_dot(dy, x, s, rows.data(), 0, total, dw); return; }
    std::vector<float> parts((size_t)(T * s.k * crs), 0.0f);
    for_items(T, T, [&](int64_t i) {
      weight_grad_dot(dy, x, s, rows.data(), total * i / T, total * (i + 1) / T, parts.data() + i * s.k * crs);
    });
    for (int64_t e = 0; e < s.k * crs; ++e) {
      float acc = 0.0f;
      for (int64_t i = 0; i < T; ++i) acc += parts[i * s.k * crs + e];
      dw[e] += acc;
    }
    return;
  }
  if (T > 1 && s.k * crs <= (int64_t(1) << 16) && total >= 2 * T) {
    // Small dW: threads take chunks of the batch's columns and sum into private partials, [crs, k] when k > crs.
    const bool trans = s.k > crs;
    std::vector<float> parts((size_t)(T * s.k * crs), 0.0f);
    for_items(T, T, [&](int64_t i) {
      float* part = parts.data() + i * s.k * crs;
      weight_grad(dy, x, s, rows.data(), 0, crs, total * i / T, total * (i + 1) / T, trans, part, trans ? s.k : crs);
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
    const int64_t r0 = crs * i / g, r1 = crs * (i + 1) / g;
    weight_grad(dy, x, s, rows.data(), r0, r1, 0, total, false, dw + r0, crs);
  });
}

}  // namespace mrigan::cpu
