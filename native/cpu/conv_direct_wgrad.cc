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
// laid out [block][ci][tap][16], fit in L2; an item walks the batch in chunks of ~kChunkPix output pixels; per
// chunk it copies dy of NO blocks into [pixel][NO][16] (L1-sized), then runs every input-channel group and tap
// over it. A finished item is transposed and added into dW (OIHW) while still in cache.
// Threads take items (no reduction), or, when dW is a single item, contiguous chunk ranges of the batch with
// private accumulators summed at the end.
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
#include "cpu/gemm.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

bool conv2d_backward_weight_direct(const float* dy, const float* x, float* dw, const ConvShape& s);

#if !defined(__AVX512F__)
bool conv2d_backward_weight_direct(const float*, const float*, float*, const ConvShape&) { return false; }
#else

namespace {

constexpr int V = 16;                            // floats per zmm = output channels per block
constexpr int64_t kChunkPix = 128;               // output pixels per chunk (dy chunk of 4 blocks: 32 KB)
constexpr int64_t kItemFloats = int64_t(1) << 16;  // accumulators per item (256 KB, in L2)
enum Slot { kBuf = 8, kAcc = 9 };                // scratch slots (conv.cc uses 0-5, gemm.cc 14-15)

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// The pixels one tile call walks: images × rows × columns, with strides in floats.
struct Walk {
  int64_t nimg, nrow, ncol;
  int64_t dy_img, dy_row;             // in the chunk buffer; consecutive columns are NO·16 apart
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
      for (int64_t t = 0, xo = 0; t < w.ncol; ++t, xo += w.x_col, d += NO * V) {
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
  int64_t kb;                    // output-channel blocks (k rounded up to 16)
  int no, ni;                    // register tile: blocks × input channels
  int64_t ob_item, ci_item;      // an item: this many blocks × input channels
  int64_t n_ob, n_ci;            // the item grid
  int64_t chunk_rows, chunk_imgs, nchunks;
  int64_t parts;                 // > 1: threads split the chunks of each item, private accumulators
};

Plan make_plan(const ConvShape& s, int64_t threads) {
  Plan p;
  const int64_t rs = s.r * s.s, pq = s.p * s.q;
  p.kb = (s.k + V - 1) / V;
  // Register tile by the number of blocks: 4×6 or 3×8 when one divides it, else the widest that fits.
  p.no = p.kb % 4 == 0 ? 4 : p.kb % 3 == 0 ? 3 : (int)std::min<int64_t>(p.kb, 4);
  p.ni = max_ni(p.no);
  // Items: as few as fit kItemFloats accumulators (each item re-reads dy for its blocks and x for its channels);
  // all blocks when one tile's channels fit, then input channels in multiples of ni.
  const int64_t per_block = V * rs * std::min<int64_t>(s.c, p.ni);
  p.ob_item = p.kb * per_block <= kItemFloats ? p.kb : std::max<int64_t>(1, kItemFloats / per_block / p.no) * p.no;
  p.n_ob = (p.kb + p.ob_item - 1) / p.ob_item;
  p.ob_item = (p.kb + p.n_ob - 1) / p.n_ob;
  p.ob_item = std::min(p.kb, (p.ob_item + p.no - 1) / p.no * p.no);
  p.n_ob = (p.kb + p.ob_item - 1) / p.ob_item;
  int64_t ci = std::max<int64_t>(p.ni, kItemFloats / (p.ob_item * V * rs) / p.ni * p.ni);
  p.n_ci = (s.c + ci - 1) / ci;
  // With threads, prefer an item count that they share evenly (split the channels further while that is cheap).
  if (threads > 1 && p.n_ob * p.n_ci >= threads)
    for (int64_t n = p.n_ci; n <= 2 * p.n_ci && (s.c + n - 1) / n >= p.ni; ++n)
      if ((p.n_ob * n) % threads == 0) { p.n_ci = n; break; }
  p.ci_item = (s.c + p.n_ci - 1) / p.n_ci;
  if (p.ci_item > p.ni) p.ci_item = std::min(s.c, (p.ci_item + p.ni - 1) / p.ni * p.ni);
  p.n_ci = (s.c + p.ci_item - 1) / p.ci_item;
  if (pq >= kChunkPix) {
    p.chunk_imgs = 1;
    p.chunk_rows = std::max<int64_t>(1, kChunkPix / s.q);
    p.nchunks = s.n * ((s.p + p.chunk_rows - 1) / p.chunk_rows);
  } else {
    p.chunk_rows = s.p;
    p.chunk_imgs = std::max<int64_t>(1, kChunkPix / pq);
    p.nchunks = (s.n + p.chunk_imgs - 1) / p.chunk_imgs;
  }
  p.parts = p.n_ob * p.n_ci < threads ? std::min(threads, p.nchunks) : 1;
  return p;
}

// dy[b, o, r0:r1, :] for blocks [og, og + no) of the chunk's images → buf[pixel][no][16] (channels ≥ k are zero).
void pack_dy(const float* dy, const ConvShape& s, int64_t og, int no, int64_t b0, int64_t b1, int64_t r0, int64_t r1,
             float* buf) {
  const int64_t len = (r1 - r0) * s.q, w = no * V;
  for (int64_t b = b0; b < b1; ++b) {
    float* dst = buf + (b - b0) * len * w;
    for (int64_t l = 0; l < w; ++l) {
      const int64_t o = og * V + l;
      if (o >= s.k) {
        for (int64_t t = 0; t < len; ++t) dst[t * w + l] = 0.0f;
        continue;
      }
      const float* src = dy + ((b * s.k + o) * s.p + r0) * s.q;
      for (int64_t t = 0; t < len; ++t) dst[t * w + l] = src[t];
    }
  }
}

// One item (blocks [ob0, ob1) × channels [c0, c1)) over chunks [ch0, ch1), accumulating into acc
// [block − ob0][ci − c0][tap][16].
void run_item(const float* dy, const float* x, const ConvShape& s, const Plan& p, int64_t ob0, int64_t ob1, int64_t c0,
              int64_t c1, int64_t ch0, int64_t ch1, float* acc) {
  const int64_t rs = s.r * s.s, nci = c1 - c0, hw = s.h * s.w;
  const int64_t acc_ob = nci * rs * V, acc_ci = rs * V;
  float* buf = scratch(kBuf, p.no * V * std::max(p.chunk_rows * s.q, p.chunk_imgs * s.p * s.q));
  const int64_t rows_per_img = (s.p + p.chunk_rows - 1) / p.chunk_rows;
  // Valid output columns per kw (input column inside x); rows per kh depend on the chunk.
  std::vector<int64_t> ow_lo(s.s), ow_hi(s.s);
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
      pack_dy(dy, s, og, no, b0, b1, r0, r1, buf);
      for (int64_t ci = c0; ci < c1; ci += p.ni) {
        const int ni = (int)std::min<int64_t>(p.ni, c1 - ci);
        const TileFn fn = kTiles[no - 1][ni - 1];
        for (int64_t i = 0; i < s.r; ++i) {
          const int64_t oh_lo = std::max(r0, ceil_div(s.pad_t - i, s.stride_h));
          const int64_t oh_hi = std::min(r1, floor_div(s.h - 1 + s.pad_t - i, s.stride_h) + 1);
          if (oh_lo >= oh_hi) continue;
          for (int64_t j = 0; j < s.s; ++j) {
            if (ow_lo[j] >= ow_hi[j]) continue;
            Walk w;
            w.nimg = b1 - b0;
            w.nrow = oh_hi - oh_lo;
            w.ncol = ow_hi[j] - ow_lo[j];
            w.dy_row = s.q * no * V;
            w.dy_img = nr * w.dy_row;
            w.x_img = s.c * hw;
            w.x_row = s.stride_h * s.w;
            w.x_col = s.stride_w;
            w.x_ci = hw;
            const float* d = buf + ((oh_lo - r0) * s.q + ow_lo[j]) * no * V;
            const float* xs = x + (b0 * s.c + ci) * hw + (oh_lo * s.stride_h - s.pad_t + i) * s.w +
                              ow_lo[j] * s.stride_w - s.pad_l + j;
            fn(d, xs, acc + ((og - ob0) * nci + (ci - c0)) * rs * V + (i * s.s + j) * V, acc_ob, acc_ci, w);
          }
        }
      }
    }
  }
}

// dw[o, c0:c1, taps] += acc[(o / 16) − ob0][ci − c0][tap][o % 16] for the item's real channels.
void add_item(const float* acc, const ConvShape& s, int64_t ob0, int64_t ob1, int64_t c0, int64_t c1, float* dw) {
  const int64_t rs = s.r * s.s, run = (c1 - c0) * rs;
  for (int64_t o = ob0 * V; o < std::min(s.k, ob1 * V); ++o) {
    const float* src = acc + (o / V - ob0) * run * V + o % V;
    float* dst = dw + (o * s.c + c0) * rs;
    for (int64_t e = 0; e < run; ++e) dst[e] += src[e * V];
  }
}

}  // namespace

bool conv2d_backward_weight_direct(const float* dy, const float* x, float* dw, const ConvShape& s) {
  const ConvTuning tune = conv_tuning();
  if (tune.kernel == kConvGemm) return false;
  const int64_t total = s.n * s.p * s.q;
  if (total == 0 || s.k == 0 || s.c == 0 || s.r == 0 || s.s == 0) return false;
  const double macs = (double)s.n * s.k * s.c * s.r * s.s * s.p * s.q;
  if (tune.kernel == kConvAuto) return false;  // TODO(measure): auto predicate
  const int64_t T = macs < (double)tune.serial_macs ? 1 : num_threads();
  const Plan p = make_plan(s, T);
  const int64_t rs = s.r * s.s, items = p.n_ob * p.n_ci;
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
      run_item(dy, x, s, p, ob0, ob1, c0, c1, 0, p.nchunks, acc);
      add_item(acc, s, ob0, ob1, c0, c1, dw);
    };
    if (T > 1 && items > 1) parallel_for(items, unit);
    else for (int64_t it = 0; it < items; ++it) unit(it);
    return true;
  }
  // Few items: every item's chunks split into `parts` ranges with private accumulators, summed in order.
  const int64_t stride = p.ob_item * p.ci_item * rs * V;
  float* accs = scratch(kAcc, items * p.parts * stride);
  parallel_for(items * p.parts, [&](int64_t u) {
    const int64_t it = u / p.parts, part = u % p.parts;
    int64_t ob0, ob1, c0, c1;
    item_box(it, ob0, ob1, c0, c1);
    float* acc = accs + u * stride;
    std::memset(acc, 0, (size_t)item_floats(ob0, ob1, c0, c1) * sizeof(float));
    run_item(dy, x, s, p, ob0, ob1, c0, c1, p.nchunks * part / p.parts, p.nchunks * (part + 1) / p.parts, acc);
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
