// Conv2d backward-weight, direct kernel (AVX-512, channel-blocked over output channels):
//   dW[o, ci, i, j] += Σ_{b, oh, ow} dy[b, o, oh, ow] · x[b, ci, oh·sh − pt + i, ow·sw − pl + j]   (0 outside x)
// for any geometry (stride, asymmetric padding, channel counts that are not multiples of 16).
//
// Register tile: NO blocks of 16 output channels × NI input channels for one tap (i, j), NO·NI zmm accumulators
// (4×6, 3×8, 2×12, 1×16: 16-24 of the 32 registers). The reduction runs over output pixels; per pixel it loads NO
// vectors of dy (16 channels each, from a channel-blocked copy) and broadcasts NI scalars of x straight from NCHW
// (the NI channels are NI streams along the row, stride sw), i.e. NO + NI loads per NO·NI FMAs. Taps whose input
// pixel falls outside x are skipped by clipping the row / column ranges per tap, so padding costs nothing.
//
// Blocking: dW is cut into items (a range of output-channel blocks × a range of input channels) whose accumulators,
// laid out [block][ci][tap][16], fit in L2 (≤ 1 MB); an item walks the batch in chunks of ~128 output pixels (rows
// of one image, or whole small images); per chunk and NO blocks it has dy as [pixel][NO][16] in L1 — blocked per
// chunk when one item covers all input channels (each dy element is then blocked once), else blocked once for the
// whole batch ([n][p][q][k/16][16]) and shared by the items — and runs every input-channel group and tap over it.
// A finished item is transposed and added into dW (OIHW) while still in cache. The item grid minimises an estimate
// of compute (with the threads' share of items) plus dy / x traffic.
// Threads take items (no reduction), or, when there are fewer items than threads, contiguous chunk ranges of the
// batch with private accumulators summed at the end in a fixed order.
// Measured (bench/NOTES.md, 1 thread): 146-170 GFLOP/s on the D2-D5 / E1-E2 critic layers = 84-98 % of the core's
// FMA peak, 1.1-1.3x faster than oneDNN's backward-weights there.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/parallel.h"
#include "cpu/blocked.h"
#include "cpu/conv_direct.h"
#include "cpu/gemm.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

#if !defined(__AVX512F__)
bool conv_direct_backward_weight(const float*, const float*, float*, const ConvShape&) { return false; }
#else

namespace {

constexpr int V = 16;                             // floats per zmm = output channels per block
constexpr int64_t kChunkPix = 128;                // output pixels per chunk
constexpr int64_t kItemFloats = int64_t(1) << 18;  // most accumulators per item (1 MB, in L2)
enum Slot { kBuf = 11, kAcc = 12, kDy = 13 };      // scratch slots (conv.cc 0-5, conv_direct.cc 8-10, gemm.cc 14-15)

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// The pixels one tile call walks: images × rows × columns, with strides in floats.
struct Walk {
  int64_t nimg, nrow, ncol;
  int64_t dy_img, dy_row, dy_col;     // in blocked dy (the NO blocks of a pixel are consecutive)
  int64_t x_img, x_row, x_col, x_ci;  // in x (NCHW)
};

// acc[o·acc_ob + i·acc_ci + lane] += Σ_pixels dy[pixel, o, lane] · x[pixel, i] for o < NO, i < NI.
template <int NO, int NI>
void tile(const float* dy, const float* x, float* acc, int64_t acc_ob, int64_t acc_ci, const Walk& w) {
  __m512 a[NO][NI];
  for (int o = 0; o < NO; ++o)
    for (int i = 0; i < NI; ++i) a[o][i] = _mm512_load_ps(acc + o * acc_ob + i * acc_ci);
  for (int64_t img = 0; img < w.nimg; ++img)
    for (int64_t row = 0; row < w.nrow; ++row) {
      const float* d = dy + img * w.dy_img + row * w.dy_row;
      const float* xr = x + img * w.x_img + row * w.x_row;
      const float* xp[NI];
      for (int i = 0; i < NI; ++i) xp[i] = xr + i * w.x_ci;
      for (int64_t t = 0, xo = 0; t < w.ncol; ++t, xo += w.x_col, d += w.dy_col) {
        __m512 dv[NO];
        for (int o = 0; o < NO; ++o) dv[o] = _mm512_load_ps(d + o * V);
        for (int i = 0; i < NI; ++i) {
          const __m512 b = _mm512_set1_ps(xp[i][xo]);
          for (int o = 0; o < NO; ++o) a[o][i] = _mm512_fmadd_ps(dv[o], b, a[o][i]);
        }
      }
    }
  for (int o = 0; o < NO; ++o)
    for (int i = 0; i < NI; ++i) _mm512_store_ps(acc + o * acc_ob + i * acc_ci, a[o][i]);
}

using TileFn = void (*)(const float*, const float*, float*, int64_t, int64_t, const Walk&);
constexpr int max_ni(int no) { return no == 1 ? 16 : 24 / no; }
template <int NO, int... I>
constexpr std::array<TileFn, 16> tile_row(std::integer_sequence<int, I...>) {
  return {{(I + 1 <= max_ni(NO) ? &tile<NO, std::min(I + 1, max_ni(NO))> : nullptr)...}};
}
// kTiles[NO − 1][NI − 1] for NI ≤ max_ni(NO).
const std::array<std::array<TileFn, 16>, 4> kTiles = {
    tile_row<1>(std::make_integer_sequence<int, 16>{}), tile_row<2>(std::make_integer_sequence<int, 16>{}),
    tile_row<3>(std::make_integer_sequence<int, 16>{}), tile_row<4>(std::make_integer_sequence<int, 16>{})};

struct Plan {
  int64_t kb;                // output-channel blocks (k rounded up to 16)
  int no, ni;                // register tile: blocks × input channels
  int64_t ob_item, ci_item;  // an item: this many blocks × input channels
  int64_t n_ob, n_ci;        // the item grid
  int64_t chunk_rows, chunk_imgs, nchunks;
  int64_t parts;             // > 1: threads split the chunks of each item, private accumulators
  bool global_dy;            // dy blocked once for the whole batch (items share it), else per chunk
};

Plan make_plan(const ConvShape& s, int64_t threads) {
  Plan p;
  const int64_t rs = s.r * s.s, pq = s.p * s.q;
  p.kb = (s.k + V - 1) / V;
  // Register tile by the number of blocks: 4×6 or 3×8 when one divides it, else the widest that fits.
  p.no = p.kb % 4 == 0 ? 4 : p.kb % 3 == 0 ? 3 : (int)std::min<int64_t>(p.kb, 4);
  p.ni = max_ni(p.no);
  if (pq >= kChunkPix) {
    p.chunk_imgs = 1;
    p.chunk_rows = std::max<int64_t>(1, kChunkPix / s.q);
    p.nchunks = s.n * ((s.p + p.chunk_rows - 1) / p.chunk_rows);
  } else {
    p.chunk_rows = s.p;
    p.chunk_imgs = std::max<int64_t>(1, kChunkPix / pq);
    p.nchunks = (s.n + p.chunk_imgs - 1) / p.chunk_imgs;
  }
  // Items: a grid of block ranges × channel ranges whose accumulators fit kItemFloats. Each item streams dy for
  // its blocks and x for its channels over the whole batch, so the estimate is compute (shared unevenly when the
  // items do not divide among the threads) plus that traffic (from L3, ~20 GB/s per core) plus blocking dy once
  // when several channel ranges share it.
  const double flops = 2.0 * s.n * pq * s.k * s.c * rs, dy_bytes = 4.0 * s.n * pq * p.kb * V;
  const double x_bytes = 4.0 * s.n * s.c * s.h * s.w;
  const int64_t n_og = (p.kb + p.no - 1) / p.no;
  double best = -1;
  for (int64_t a = 1; a <= n_og; ++a) {
    const int64_t ob_item = std::min(p.kb, (n_og + a - 1) / a * p.no), n_ob = (p.kb + ob_item - 1) / ob_item;
    int64_t ci_fit = kItemFloats / (ob_item * V * rs);  // channels whose accumulators fit
    if (ci_fit < std::min<int64_t>(s.c, p.ni) && a < n_og) continue;
    ci_fit = ci_fit >= p.ni ? ci_fit / p.ni * p.ni : std::max<int64_t>(1, ci_fit);
    const int64_t n_ci_min = (s.c + ci_fit - 1) / ci_fit;
    for (int64_t n_ci = n_ci_min; n_ci <= 2 * n_ci_min; ++n_ci) {
      int64_t ci_item = (s.c + n_ci - 1) / n_ci;
      if (ci_item > p.ni) ci_item = std::min(s.c, (ci_item + p.ni - 1) / p.ni * p.ni);
      const int64_t nci = (s.c + ci_item - 1) / ci_item, items = n_ob * nci;
      const double share = items >= threads ? (double)((items + threads - 1) / threads) * threads / items : 1.0;
      const double cost = flops / 150e9 / threads * share + (nci * dy_bytes + n_ob * x_bytes) / 20e9 / threads +
                          (nci > 1 ? 2 * dy_bytes / 20e9 : 0.0);
      if (best < 0 || cost < best) {
        best = cost;
        p.ob_item = ob_item;
        p.n_ob = n_ob;
        p.ci_item = ci_item;
        p.n_ci = nci;
      }
    }
  }
  p.parts = p.n_ob * p.n_ci < threads ? std::min(threads, p.nchunks) : 1;
  p.global_dy = p.n_ci > 1;
  return p;
}

// Blocks [ob0, ob1) of dy[b, :, r0:r1, :] → dst[pixel·ld + (block − ob0)·16 + lane] (channels ≥ k are zero).
void pack_dy(const float* dy, const ConvShape& s, int64_t b, int64_t r0, int64_t r1, int64_t ob0, int64_t ob1,
             float* dst, int64_t ld) {
  const int64_t pq = s.p * s.q;
  for (int64_t ob = ob0; ob < ob1; ++ob)
    rows_to_pixels(dy + (b * s.k + ob * V) * pq + r0 * s.q, pq, (r1 - r0) * s.q, (int)std::min<int64_t>(V, s.k - ob * V),
                   dst + (ob - ob0) * V, ld);
}

// One item (blocks [ob0, ob1) × channels [c0, c1)) over chunks [ch0, ch1), accumulating into acc
// [block − ob0][ci − c0][tap][16]. dyb: dy blocked [n][p][q][kb][16], or null to block each chunk here.
void run_item(const float* dy, const float* dyb, const float* x, const ConvShape& s, const Plan& p, int64_t ob0,
              int64_t ob1, int64_t c0, int64_t c1, int64_t ch0, int64_t ch1, float* acc) {
  const int64_t rs = s.r * s.s, nci = c1 - c0, hw = s.h * s.w, pq = s.p * s.q;
  const int64_t acc_ob = nci * rs * V, acc_ci = rs * V;
  float* buf = dyb ? nullptr : scratch(kBuf, p.no * V * std::max(p.chunk_rows * s.q, p.chunk_imgs * pq));
  const int64_t rows_per_img = (s.p + p.chunk_rows - 1) / p.chunk_rows;
  // Valid output columns per kw (input column inside x); rows per kh depend on the chunk.
  int64_t ow_lo[64], ow_hi[64];
  for (int64_t j = 0; j < s.s; ++j) {
    ow_lo[j] = std::max<int64_t>(0, ceil_div(s.pad_l - j, s.stride_w));
    ow_hi[j] = std::min<int64_t>(s.q, floor_div(s.w - 1 + s.pad_l - j, s.stride_w) + 1);
  }
  for (int64_t ch = ch0; ch < ch1; ++ch) {
    int64_t b0, b1, r0, r1;
    if (p.chunk_imgs == 1) {
      b0 = ch / rows_per_img;
      b1 = b0 + 1;
      r0 = ch % rows_per_img * p.chunk_rows;
      r1 = std::min(s.p, r0 + p.chunk_rows);
    } else {
      b0 = ch * p.chunk_imgs;
      b1 = std::min(s.n, b0 + p.chunk_imgs);
      r0 = 0;
      r1 = s.p;
    }
    const int64_t nr = r1 - r0;
    for (int64_t og = ob0; og < ob1; og += p.no) {
      const int no = (int)std::min<int64_t>(p.no, ob1 - og);
      // dy of this chunk and blocks: d0 at (b0, r0, column 0), with its strides
      const float* d0;
      Walk w;
      if (dyb) {
        w.dy_col = p.kb * V;
        w.dy_row = s.q * w.dy_col;
        w.dy_img = pq * w.dy_col;
        d0 = dyb + b0 * w.dy_img + r0 * w.dy_row + og * V;
      } else {
        w.dy_col = no * V;
        w.dy_row = s.q * w.dy_col;
        w.dy_img = nr * w.dy_row;
        for (int64_t b = b0; b < b1; ++b) pack_dy(dy, s, b, r0, r1, og, og + no, buf + (b - b0) * w.dy_img, w.dy_col);
        d0 = buf;
      }
      w.nimg = b1 - b0;
      w.x_img = s.c * hw;
      w.x_row = s.stride_h * s.w;
      w.x_col = s.stride_w;
      w.x_ci = hw;
      // Channel groups of at most ni, as even as possible (32 = 6 + 6 + 5 + 5 + 5 + 5, not 6·5 + 2).
      const int64_t groups = (nci + p.ni - 1) / p.ni;
      for (int64_t g = 0, ci = c0; g < groups; ++g) {
        const int ni = (int)(nci * (g + 1) / groups - nci * g / groups);
        const TileFn fn = kTiles[no - 1][ni - 1];
        for (int64_t i = 0; i < s.r; ++i) {
          const int64_t oh_lo = std::max(r0, ceil_div(s.pad_t - i, s.stride_h));
          const int64_t oh_hi = std::min(r1, floor_div(s.h - 1 + s.pad_t - i, s.stride_h) + 1);
          if (oh_lo >= oh_hi) continue;
          w.nrow = oh_hi - oh_lo;
          for (int64_t j = 0; j < s.s; ++j) {
            if (ow_lo[j] >= ow_hi[j]) continue;
            w.ncol = ow_hi[j] - ow_lo[j];
            const float* d = d0 + (oh_lo - r0) * w.dy_row + ow_lo[j] * w.dy_col;
            const float* xs = x + (b0 * s.c + ci) * hw + (oh_lo * s.stride_h - s.pad_t + i) * s.w +
                              ow_lo[j] * s.stride_w - s.pad_l + j;
            fn(d, xs, acc + ((og - ob0) * nci + (ci - c0)) * rs * V + (i * s.s + j) * V, acc_ob, acc_ci, w);
          }
        }
        ci += ni;
      }
    }
  }
}

// dw[o, c0:c1, taps] += acc[(o / 16) − ob0][ci − c0][tap][o % 16] for the item's real channels.
void add_item(const float* acc, const ConvShape& s, int64_t ob0, int64_t ob1, int64_t c0, int64_t c1, float* dw) {
  const int64_t rs = s.r * s.s, run = (c1 - c0) * rs;
  for (int64_t ob = ob0; ob < ob1; ++ob) {
    const int nc = (int)std::min<int64_t>(V, s.k - ob * V);
    float* dst = dw + (ob * V * s.c + c0) * rs;
    const float* src = acc + (ob - ob0) * run * V;
    // 16 pixels (here: dW elements) × 16 channels at a time through the transposes of blocked.h, added into dw.
    alignas(64) float t[V * V];
    for (int64_t e0 = 0; e0 < run; e0 += V) {
      const int64_t m = std::min<int64_t>(V, run - e0);
      pixels_to_rows(src + e0 * V, V, m, nc, t, V);
      for (int l = 0; l < nc; ++l)
        for (int64_t e = 0; e < m; ++e) dst[l * s.c * rs + e0 + e] += t[l * V + e];
    }
  }
}

}  // namespace

bool conv_direct_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  const ConvTuning tune = conv_tuning();
  if (tune.kernel == kConvGemm) return false;
  const int64_t total = s.n * s.p * s.q;
  if (total == 0 || s.k == 0 || s.c == 0 || s.r == 0 || s.s == 0 || s.s > 64) return false;
  const double macs = (double)s.n * s.k * s.c * s.r * s.s * s.p * s.q;
  // Auto: everywhere except the two shapes the GEMM path special-cases and wins (bench/NOTES.md, 1 thread): a
  // kernel covering the whole unpadded image (a dense layer: D7 0.03 vs 0.16 ms, G1 0.49 vs 1.16) and few
  // columns and filters, c·r·s ≤ 64 and k ≤ 64 (dot products along the pixels: D1 1.9 vs 2.7, G7 1.9 vs 2.7,
  // G8 1.0 vs 5.6; a 3-channel k4 first layer ties). Elsewhere direct measured 1.2-2.2x faster, down to
  // k = 8 filters or c = 4 channels.
  if (tune.kernel == kConvAuto) {
    const bool whole_image = s.p == 1 && s.q == 1 && s.r == s.h && s.s == s.w && s.pad_t == 0 && s.pad_b == 0 &&
                             s.pad_l == 0 && s.pad_r == 0;
    if (whole_image || (s.c * s.r * s.s <= 64 && s.k <= 64)) return false;
  }
  const int64_t T = macs < (double)tune.serial_macs ? 1 : num_threads();
  const Plan p = make_plan(s, T);
  const int64_t rs = s.r * s.s, items = p.n_ob * p.n_ci, pq = s.p * s.q;
  float* dyb = nullptr;
  if (p.global_dy) {
    dyb = scratch(kDy, s.n * pq * p.kb * V);
    auto pack = [&](int64_t b) { pack_dy(dy, s, b, 0, s.p, 0, p.kb, dyb + b * pq * p.kb * V, p.kb * V); };
    if (T > 1) parallel_for(s.n, pack);
    else for (int64_t b = 0; b < s.n; ++b) pack(b);
  }
  auto item_box = [&](int64_t it, int64_t& ob0, int64_t& ob1, int64_t& c0, int64_t& c1) {
    const int64_t io = it / p.n_ci, ic = it % p.n_ci;
    ob0 = io * p.ob_item;
    ob1 = std::min(p.kb, ob0 + p.ob_item);
    c0 = ic * p.ci_item;
    c1 = std::min(s.c, c0 + p.ci_item);
  };
  auto item_floats = [&](int64_t ob0, int64_t ob1, int64_t c0, int64_t c1) { return (ob1 - ob0) * (c1 - c0) * rs * V; };
  if (p.parts == 1) {
    auto unit = [&](int64_t it) {
      int64_t ob0, ob1, c0, c1;
      item_box(it, ob0, ob1, c0, c1);
      const int64_t nf = item_floats(ob0, ob1, c0, c1);
      float* acc = scratch(kAcc, nf);
      std::memset(acc, 0, (size_t)nf * sizeof(float));
      run_item(dy, dyb, x, s, p, ob0, ob1, c0, c1, 0, p.nchunks, acc);
      add_item(acc, s, ob0, ob1, c0, c1, dw);
    };
    if (T > 1 && items > 1) parallel_for(items, unit);
    else for (int64_t it = 0; it < items; ++it) unit(it);
    return true;
  }
  // Fewer items than threads: each item's chunks split into `parts` ranges with private accumulators, summed in
  // a fixed order.
  const int64_t stride = p.ob_item * p.ci_item * rs * V;
  float* accs = scratch(kAcc, items * p.parts * stride);
  parallel_for(items * p.parts, [&](int64_t u) {
    const int64_t it = u / p.parts, part = u % p.parts;
    int64_t ob0, ob1, c0, c1;
    item_box(it, ob0, ob1, c0, c1);
    float* acc = accs + u * stride;
    std::memset(acc, 0, (size_t)item_floats(ob0, ob1, c0, c1) * sizeof(float));
    run_item(dy, dyb, x, s, p, ob0, ob1, c0, c1, p.nchunks * part / p.parts, p.nchunks * (part + 1) / p.parts, acc);
  });
  for (int64_t it = 0; it < items; ++it) {
    int64_t ob0, ob1, c0, c1;
    item_box(it, ob0, ob1, c0, c1);
    const int64_t nf = item_floats(ob0, ob1, c0, c1);
    float* a0 = accs + it * p.parts * stride;
    for (int64_t part = 1; part < p.parts; ++part) {
      const float* ap = a0 + part * stride;
      for (int64_t e = 0; e < nf; ++e) a0[e] += ap[e];
    }
    add_item(a0, s, ob0, ob1, c0, c1, dw);
  }
  return true;
}

#endif  // __AVX512F__
}  // namespace mrigan::cpu
