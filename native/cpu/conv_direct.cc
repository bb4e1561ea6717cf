// Direct convolution on channel-blocked tensors (blocked.h), AVX-512: conv2d forward and backward-data, PyTorch
// semantics as in conv.cc. The implicit GEMM spends ~25 % of its time packing and storing partial tiles; here the
// inner loop is the whole reduction of a register tile, fed straight from the blocked input (bench/NOTES.md).
//
//   forward        x blocked with the conv's zero padding stored; W packed per call as [oc group][ic block][i][j]
//                  [16 ic][nb·16 oc]. An output row of one (sample, oc group) is a run of register tiles of UR
//                  output pixels × nb blocks of 16 output channels: per input channel and tap, nb weight vectors
//                  and UR broadcast input scalars, UR·nb FMAs. The finished row [q][nb·16] is transposed into y
//                  (NCHW) with the bias while it is in L1.
//   backward-data  dx[b, ci, ih, iw] = Σ w[o, ci, i, j]·dy[b, o, oh, ow] over oh·sh − pt + i = ih (and the same in w).
//                  Split by phase (ih mod sh, iw mod sw), each phase is a stride-1 conv of the blocked dy with the
//                  taps i ≡ ih + pt (mod sh), flipped and transposed (dy channels in, dx channels out): for k4 s2 p1
//                  four 2×2 convs, for stride 1 one conv with the flipped kernel and padding r − 1 − pt. No zero
//                  insertion. A dx row is the row of one height phase; its width phases are interleaved as it is
//                  transposed into dx.
// Register tile: UR·nb ≤ 28 zmm accumulators, nb ≤ 3 (8×3 measured best, 4 blocks no better), tiles never cross an
// output row (a row is split into tiles of equal width: 64 pixels with nb = 2 are 5 tiles of 12–13). Taps that
// would only read the zero border are skipped (whole kernel rows per output row, edge pixels per tap), as oneDNN
// does: 8–16 % of the multiply-adds of 8x8 and 16x16 layers with padding 1.
// Schedules: forward with small weights (≤ 1 MB packed: D2, D3) takes bands of output rows of one sample, reordering
// just the band's input rows into an L2-resident buffer (the whole blocked image would go to memory and back: D2
// 17 MB). Otherwise (and always for backward-data) the whole input is reordered first and each thread takes a
// contiguous range of the items (group, sample, row), balanced by cost, packing each group's weights into its own
// L2-resident buffer when it reaches the group (packing all weights first sent E2's 9.4 MB to memory and back).
// Supported: stride_w ∈ {1, 2} (forward), strides ∈ {1, 2} (backward-data); anything else returns false and the
// implicit-GEMM path in conv.cc runs, as it does for shapes where `want` finds the GEMM faster. Scratch slots 8–10
// (conv.cc uses 0–5, gemm.cc 14, 15).
#include "cpu/conv_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "cpu/blocked.h"
#include "cpu/gemm.h"

namespace mrigan::cpu {

#if defined(__AVX512F__)
namespace {

constexpr int kSlotIn = 8, kSlotW = 9, kSlotRow = 10;
constexpr int kMaxNB = 3, kMaxUR = 14;
// Forward: packed weights up to this size take the band schedule, whose input bands are about kBandBytes.
constexpr int64_t kBandWeightBytes = int64_t(1) << 20, kBandBytes = int64_t(256) << 10;
constexpr int ur_max(int nb) { return std::min(kMaxUR, 28 / nb); }

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One register tile's work: UR output pixels of one row × nb blocks of 16 output channels.
//   out[p·nb·16 + oc] = Σ_{icb < nicb, i < kh, j < kw, ic < 16} in[icb·icb_stride + i·row_stride + (p·SW + j)·16 + ic]
//                                                               · w[icb·w_icb_stride + ((i·kw + j)·16 + ic)·nb·16 + oc]
// Taps that read the zero border are skipped: the caller drops kernel rows wholly in it (in, w, kh), and for the
// edge pixels, pixel 0 only takes taps j ≥ f0, pixel UR − 1 only taps j < l1 (the others would add zeros).
struct Tile {
  const float* in;
  int64_t nicb, icb_stride, row_stride, kh, kw;
  const float* w;
  int64_t w_icb_stride, f0, l1;
  float* out;
};

// One tap (16 input channels) for pixels [P0, UR − P1).
template <int UR, int NB, int SW, int P0, int P1>
__attribute__((always_inline)) inline void tap(const float* src, const float* w, __m512 (&acc)[UR][NB]) {
  constexpr int LD = NB * 16;
#pragma GCC unroll 16
  for (int ic = 0; ic < 16; ++ic) {
    __m512 wv[NB];
#pragma GCC unroll 4
    for (int q = 0; q < NB; ++q) wv[q] = _mm512_load_ps(w + ic * LD + q * 16);
#pragma GCC unroll 28
    for (int p = P0; p < UR - P1; ++p) {
      const __m512 x = _mm512_set1_ps(src[p * SW * 16 + ic]);
#pragma GCC unroll 4
      for (int q = 0; q < NB; ++q) acc[p][q] = _mm512_fmadd_ps(x, wv[q], acc[p][q]);
    }
  }
}

// no-predictive-commoning: GCC would otherwise carry the broadcast scalars of pixel p + 1 over to the next tap j
// (the same address when SW = 1) through the stack, hundreds of spills per tap.
template <int UR, int NB, int SW>
__attribute__((optimize("no-predictive-commoning"))) void tile_kernel(const Tile& t) {
  constexpr int LD = NB * 16;
  __m512 acc[UR][NB];
#pragma GCC unroll 28
  for (int p = 0; p < UR; ++p)
#pragma GCC unroll 4
    for (int q = 0; q < NB; ++q) acc[p][q] = _mm512_setzero_ps();
  const int64_t kh = t.kh, kw = t.kw, f0 = t.f0, l1 = t.l1;
  for (int64_t cb = 0; cb < t.nicb; ++cb) {
    const float* in = t.in + cb * t.icb_stride;
    const float* w = t.w + cb * t.w_icb_stride;
    for (int64_t i = 0; i < kh; ++i) {
      if (cb + 1 < t.nicb)  // the next block's input row into L1 (short runs in far-apart planes: no HW prefetch)
        for (int64_t l = 0; l < (UR - 1) * SW + kw; ++l)
          _mm_prefetch((const char*)(in + t.icb_stride + i * t.row_stride + l * 16), _MM_HINT_T0);
      for (int64_t j = 0; j < kw; ++j, w += 16 * LD) {
        const float* src = in + i * t.row_stride + j * 16;
        if (j < f0) {
          if (j >= l1) tap<UR, NB, SW, 1, 1>(src, w, acc);
          else tap<UR, NB, SW, 1, 0>(src, w, acc);
        } else if (j >= l1) {
          tap<UR, NB, SW, 0, 1>(src, w, acc);
        } else {
          tap<UR, NB, SW, 0, 0>(src, w, acc);
        }
      }
    }
  }
#pragma GCC unroll 28
  for (int p = 0; p < UR; ++p)
#pragma GCC unroll 4
    for (int q = 0; q < NB; ++q) _mm512_store_ps(t.out + p * LD + q * 16, acc[p][q]);
}

using TileFn = void (*)(const Tile&);
template <int UR, int NB, int SW>
constexpr TileFn pick() {
  if constexpr (UR <= ur_max(NB)) return &tile_kernel<UR, NB, SW>;
  else return nullptr;
}
template <int NB, int SW, size_t... U>
void fill(TileFn* row, std::index_sequence<U...>) {
  ((row[U] = pick<(int)U + 1, NB, SW>()), ...);
}
struct TileTable {
  TileFn f[2][kMaxNB][kMaxUR];
  TileTable() {
    const auto seq = std::make_index_sequence<kMaxUR>{};
    fill<1, 1>(f[0][0], seq); fill<2, 1>(f[0][1], seq); fill<3, 1>(f[0][2], seq);
    fill<1, 2>(f[1][0], seq); fill<2, 2>(f[1][1], seq); fill<3, 2>(f[1][2], seq);
  }
};
TileFn tile_fn(int64_t sw, int nb, int64_t ur) {
  static const TileTable t;
  return t.f[sw - 1][nb - 1][ur - 1];
}

// Output-channel blocks in groups of at most kMaxNB, sizes as equal as possible (64 channels: 2 + 2, not 3 + 1).
struct Groups {
  std::vector<int64_t> first, size;
  int64_t count() const { return (int64_t)size.size(); }
};
Groups make_groups(int64_t blocks) {
  Groups g;
  const int64_t n = cdiv(blocks, kMaxNB);
  for (int64_t i = 0, at = 0; i < n; ++i) {
    g.first.push_back(at);
    g.size.push_back(blocks / n + (i < blocks % n));
    at += g.size.back();
  }
  return g;
}

// Items ordered by group, `per` items per group, an item of group g costing size[g]: the first item that starts at or
// after `work` cost units. Threads split the items by cost, not count: 16 blocks are groups 3,3,3,3,2,2, and halving
// the items would give one thread 9 blocks' work and the other 7.
int64_t item_at(const Groups& gr, int64_t per, int64_t work) {
  for (int64_t g = 0; g < gr.count(); ++g) {
    const int64_t start = gr.first[g] * per;
    if (work < start + gr.size[g] * per) return g * per + std::max<int64_t>(0, cdiv(work - start, gr.size[g]));
  }
  return gr.count() * per;
}

// A row of q pixels as tiles of equal size (±1) no wider than ur_max(nb): f(first pixel, width).
template <class F>
void row_tiles(int64_t q, int nb, F&& f) {
  const int64_t nt = cdiv(q, ur_max(nb)), base = q / nt, rem = q % nt;
  for (int64_t t = 0, x = 0; t < nt; ++t) {
    const int64_t ur = base + (t < rem);
    f(x, ur);
    x += ur;
  }
}

template <class F>
void for_items(int64_t count, bool parallel, F&& f) {
  if (parallel) parallel_for(count, f);
  else for (int64_t i = 0; i < count; ++i) f(i);
}

// 16 rows of src (row r at src + r·ld; rows ≥ nrows read as 0), columns [m0, m0 + 16) of which those ≥ mcount read
// as 0, transposed: v[t] lane r = src[r·ld + m0 + t].
void load_transposed(const float* src, int64_t ld, int nrows, int64_t m0, int64_t mcount, __m512 v[16]) {
  const int64_t m = std::clamp<int64_t>(mcount - m0, 0, 16);
  const __mmask16 k = (__mmask16)((1u << m) - 1);
  for (int r = 0; r < 16; ++r) v[r] = r < nrows && m > 0 ? _mm512_maskz_loadu_ps(k, src + r * ld + m0) : _mm512_setzero_ps();
  transpose16x16(v);
}

// Forward weights, output blocks in groups gr: group g at first[g]·16·icb·r·s·16, inside it
// [icb][i][j][16 ic lanes][size[g]·16 oc lanes]; 0 past the real channels. Per (oc block, ic block): the 16 filters'
// rows of 16·r·s weights, transposed 16 columns at a time. With only ≥ 0, just group `only`, at dst.
void pack_forward(const float* w, const ConvShape& s, const Groups& gr, float* dst, bool parallel, int64_t only = -1) {
  const int64_t ib = cdiv(s.c, 16), rs = s.r * s.s, crs = s.c * rs;
  std::vector<int64_t> to((size_t)(16 * rs));  // column m = il·rs + tap of a filter's block row → tap·16 + il
  for (int64_t m = 0; m < 16 * rs; ++m) to[(size_t)m] = (m % rs) * 16 + m / rs;
  auto item = [&](int64_t it) {
    const int64_t g = only >= 0 ? only : it / ib, icb = it % ib, ld = gr.size[g] * 16, o0 = gr.first[g] * 16;
    float* d = dst + (only >= 0 ? 0 : o0 * ib * rs * 16) + icb * rs * 16 * ld;
    const int64_t mcount = std::min<int64_t>(16, s.c - icb * 16) * rs;
    for (int64_t q = 0; q < gr.size[g]; ++q) {
      const int64_t o = o0 + 16 * q;
      const int no = (int)std::clamp<int64_t>(s.k - o, 0, 16);
      for (int64_t m0 = 0; m0 < 16 * rs; m0 += 16) {
        if (icb + 1 < ib)  // the next input block of these filters, into L2: they lie c·r·s floats apart (see pack_backward)
          for (int r = 0; r < no; ++r) _mm_prefetch((const char*)(w + (o + r) * crs + (icb + 1) * 16 * rs + m0), _MM_HINT_T1);
        __m512 v[16];
        load_transposed(no > 0 ? w + o * crs + icb * 16 * rs : w, crs, no, m0, mcount, v);
        for (int t = 0; t < 16 && m0 + t < 16 * rs; ++t) _mm512_store_ps(d + to[(size_t)(m0 + t)] * ld + q * 16, v[t]);
      }
    }
  };
  for_items(only >= 0 ? ib : gr.count() * ib, parallel && only < 0, item);
}

// The row of dx: dst[ch·ld + 2e + ph] = phase ph's buf[e·src_ld + ch] for 2e + ph < w, ch < nc (width stride 2).
void interleave_rows(const float* b0, const float* b1, int64_t src_ld, int64_t w, int nc, float* dst, int64_t ld) {
  static const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  static const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const int64_t q0 = (w + 1) / 2, q1 = w / 2;
  for (int64_t e0 = 0; e0 < q0; e0 += 16) {
    __m512 r0[16], r1[16];
    for (int p = 0; p < 16; ++p) {
      r0[p] = e0 + p < q0 ? _mm512_load_ps(b0 + (e0 + p) * src_ld) : _mm512_setzero_ps();
      r1[p] = e0 + p < q1 ? _mm512_load_ps(b1 + (e0 + p) * src_ld) : _mm512_setzero_ps();
    }
    transpose16x16(r0);
    transpose16x16(r1);
    const int64_t valid = std::min<int64_t>(32, w - 2 * e0);
    const __mmask16 klo = (__mmask16)((1u << std::min<int64_t>(16, valid)) - 1);
    const __mmask16 khi = (__mmask16)(valid > 16 ? (1u << (valid - 16)) - 1 : 0);
    for (int ch = 0; ch < nc; ++ch) {
      float* d = dst + ch * ld + 2 * e0;
      _mm512_mask_storeu_ps(d, klo, _mm512_permutex2var_ps(r0[ch], lo, r1[ch]));
      if (khi) _mm512_mask_storeu_ps(d + 16, khi, _mm512_permutex2var_ps(r0[ch], hi, r1[ch]));
    }
  }
}

// Taps of one phase of backward-data along one dimension (stride st, padding pad, kernel r): output positions
// a·st + ph take kernel indices i ≡ ph + pad (mod st), ordered by decreasing i so that tap t reads dy at a + d0 + t;
// tap t is kernel index first − t·st.
struct Taps {
  int64_t n = 0, first = 0, d0 = 0;
};
Taps phase_taps(int64_t ph, int64_t st, int64_t pad, int64_t r) {
  Taps t;
  const int64_t i0 = (ph + pad) % st;
  if (i0 >= r) return t;
  t.n = (r - 1 - i0) / st + 1;
  t.first = i0 + (t.n - 1) * st;
  t.d0 = (ph + pad - t.first) / st;  // exact: first ≡ ph + pad (mod st)
  return t;
}
// Border of the blocked dy so that every phase's reads stay inside it: rows [−lo, hi) of dy in size-p coordinates.
void phase_border(int64_t size, int64_t st, int64_t pad, int64_t r, int64_t p, int64_t& lo, int64_t& extent) {
  int64_t need = p;
  lo = 0;
  for (int64_t ph = 0; ph < st && ph < size; ++ph) {
    const Taps t = phase_taps(ph, st, pad, r);
    const int64_t count = (size - ph + st - 1) / st;
    if (t.n == 0) continue;
    lo = std::max(lo, -t.d0);
    need = std::max(need, count - 1 + t.d0 + t.n);
  }
  extent = lo + need;
}

// Backward-data weights of every phase (ph, pw): wph[ph][pw] holds, for dx-channel groups gr, group g at
// first[g]·16·kb·nth·ntw·16, inside it [dy block][ti][tj][16 dy-channel lanes][size[g]·16 dx-channel lanes], tap
// (ti, tj) being kernel tap (th.first − ti·sh, tw.first − tj·sw). Per (filter o, dx-channel block): the 16 channels'
// r·s taps, transposed, each tap stored in its phase. With only ≥ 0, just group `only`, at the start of each wph.
void pack_backward(const float* w, const ConvShape& s, const Groups& gr, const Taps* th, const Taps* tw,
                   float* const (*wph)[2], bool parallel, int64_t only = -1) {
  const int64_t kb = cdiv(s.k, 16), rs = s.r * s.s, crs = s.c * rs;
  struct Dst {
    int64_t ph, pw, nt, t;  // phase, its tap count, this tap's index in it
  };
  std::vector<Dst> to((size_t)rs);
  for (int64_t i = 0; i < s.r; ++i)
    for (int64_t j = 0; j < s.s; ++j) {
      const int64_t ph = ((i - s.pad_t) % s.stride_h + s.stride_h) % s.stride_h;
      const int64_t pw = ((j - s.pad_l) % s.stride_w + s.stride_w) % s.stride_w;
      const Taps a = th[ph], e = tw[pw];
      to[(size_t)(i * s.s + j)] = {ph, pw, a.n * e.n, (a.first - i) / s.stride_h * e.n + (e.first - j) / s.stride_w};
    }
  auto item = [&](int64_t it) {
    const int64_t g = only >= 0 ? only : it / kb, b = it % kb, ld = gr.size[g] * 16, c0 = gr.first[g] * 16;
    const int64_t at = only >= 0 ? 0 : c0;  // where the group starts in each phase's array, in dx channels
    // Filter by filter, its group slice (size[g]·16 channels × r·s taps, contiguous) whole, a later filter's slice
    // prefetched: the slices of consecutive filters lie c·r·s floats apart, too far for the hardware prefetcher to
    // follow (D6: 32 KB), and the loads waited on memory for a third of the pass (D6 28 → 24 ms).
    const int64_t slice = std::min<int64_t>(gr.size[g] * 16, s.c - c0) * rs;
    for (int64_t kl = 0; kl < 16; ++kl) {
      const int64_t o = b * 16 + kl;
      if (o + 2 < s.k)  // two filters ahead, into L2 (into L1 the prefetches themselves stalled on full miss buffers)
        for (int64_t l = 0; l < slice; l += 16) _mm_prefetch((const char*)(w + (o + 2) * crs + c0 * rs + l), _MM_HINT_T1);
      for (int64_t q = 0; q < gr.size[g]; ++q) {
        const int64_t ci = c0 + 16 * q;
        const int nci = (int)std::clamp<int64_t>(s.c - ci, 0, 16);
        for (int64_t m0 = 0; m0 < rs; m0 += 16) {
          __m512 v[16];
          load_transposed(o < s.k && nci > 0 ? w + o * crs + ci * rs : w, rs, o < s.k ? nci : 0, m0, rs, v);
          for (int t = 0; t < 16 && m0 + t < rs; ++t) {
            const Dst& e = to[(size_t)(m0 + t)];
            _mm512_store_ps(wph[e.ph][e.pw] + at * kb * e.nt * 16 + ((b * e.nt + e.t) * 16 + kl) * ld + q * 16, v[t]);
          }
        }
      }
    }
  };
  for_items(only >= 0 ? kb : gr.count() * kb, parallel && only < 0, item);
}

bool want(bool supported, bool faster) {
  const int64_t k = conv_tuning().kernel;
  if (k == kConvGemm || !supported) return false;
  return k == kConvDirect || faster;
}
// The automatic choice, from bench/ops at 1 thread (bench/NOTES.md, "direct conv kernels"): direct vs implicit GEMM,
// ms. Both passes need full channel blocks on both sides: with c or k < 16 most of every vector is zero lanes (D1,
// G7, G8: GEMM 2-10x faster), and a kernel covering the whole image is a dense layer (D7, G1: GEMM). Otherwise:
//   forward (also conv-transpose backward-data): every such row is faster, down to 4x4 outputs: D2-D5 15.3/20.4,
//     13.7/17.2, 13.6/16.1, 13.1/17.9; E1 14.2/17.5, E2 13.9/20.4; D6 23.4/27.9, E3 27.9/31.4; G2-G6 (conv-transpose
//     backward-data) 23.0/28.1, 13.1/18.1, 13.5/16.3, 13.7/17.2, 15.1/20.2.
//   backward-data (also conv-transpose forward): faster where a phase row holds ≥ 8 pixels (D2-D5 16.9/21.8,
//     14.0/17.5, 13.1/17.0, 13.7/18.0; E1, E2 14.4/18.1, 14.4/20.2; G3-G6 13.5/19.3, 13.1/17.5, 13.8/18.2,
//     16.3/21.6) or the stride is 1 (E3 31.8/35.9). Stride 2 into 8x8 (4-pixel phase rows: D6, G2) was slower
//     than the fused GEMM (38.9/31.8, G2 39.1/31.1), but beats conv.cc's small-output GEMM that now takes it: 30.3
//     vs 35.1–36.9 ms median at batch 8, 49 vs 57 ms at 16 (2026-12-03). Shorter phase rows stay with the GEMM.
bool full_blocks(const ConvShape& s) {
  const bool whole = s.p == 1 && s.q == 1 && s.r == s.h && s.s == s.w;
  return s.c >= 16 && s.k >= 16 && !whole;
}
bool many_threads(const ConvShape& s) {
  const double macs = (double)s.n * s.k * s.c * s.r * s.s * s.p * s.q;
  return macs >= (double)conv_tuning().serial_macs && num_threads() > 1;
}

}  // namespace

// ---------------------------------------------------------------- forward
bool conv_direct_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s, bool leaky,
                         float slope) {
  const bool supported = s.n > 0 && s.k > 0 && s.c > 0 && s.p > 0 && s.q > 0 && (s.stride_w == 1 || s.stride_w == 2);
  if (!want(supported, full_blocks(s))) return false;
  const bool par = many_threads(s);
  const int64_t icb = cdiv(s.c, 16), rs = s.r * s.s, kb = cdiv(s.k, 16);
  const BlockedGeom g{s.n, s.c, s.h, s.w, s.pad_t, s.pad_l, s.h + s.pad_t + s.pad_b, s.w + s.pad_l + s.pad_r};
  const Groups gr = make_groups(kb);
  const int64_t row = g.wp * 16, pq = s.p * s.q;
  // Output row oh of group gi (packed weights at wgrp), sample b, from blocked input rows: padded row pr of block
  // cb at in + cb·icb_stride + (pr − pr0)·row.
  auto out_row = [&](int64_t gi, const float* wgrp, int64_t b, int64_t oh, const float* in, int64_t icb_stride, int64_t pr0) {
    const int nb = (int)gr.size[gi];
    const int64_t ld = nb * 16, o0 = gr.first[gi] * 16;
    float* buf = scratch(kSlotRow, s.q * ld);
    // Kernel rows [i0, i0 + kh) read image rows; the others only the zero border.
    const int64_t ih = oh * s.stride_h - s.pad_t, i0 = std::clamp<int64_t>(-ih, 0, s.r);
    const int64_t kh = std::max<int64_t>(0, std::min(s.r, s.h - ih) - i0);
    in += (oh * s.stride_h + i0 - pr0) * row;
    const float* wg = wgrp + i0 * s.s * 16 * ld;
    row_tiles(s.q, nb, [&](int64_t x0, int64_t ur) {
      const int64_t f0 = std::max<int64_t>(0, s.pad_l - x0 * s.stride_w), l1 = s.w + s.pad_l - (x0 + ur - 1) * s.stride_w;
      tile_fn(s.stride_w, nb, ur)({in + x0 * s.stride_w * 16, icb, icb_stride, row, kh, s.s, wg, rs * 16 * ld, f0, l1, buf + x0 * ld});
    });
    for (int q = 0; q < nb && o0 + 16 * q < s.k; ++q) {
      const int64_t o = o0 + 16 * q;
      pixels_to_rows(buf + q * 16, ld, s.q, (int)std::min<int64_t>(16, s.k - o), y + (b * s.k + o) * pq + oh * s.q, pq,
                     bias ? bias + o : nullptr, leaky, slope);
    }
  };
  if (kb * 16 * icb * rs * 16 * 4 <= kBandWeightBytes) {
    // Small weights, large images (the first critic layers): items are bands of output rows of one sample, for
    // every group; each band's input rows are reordered into a per-thread buffer that stays in L2, so the blocked
    // image never goes to memory and back.
    float* wp = scratch(kSlotW, kb * 16 * icb * rs * 16);
    pack_forward(w, s, gr, wp, par);
    const int64_t band = std::clamp<int64_t>(kBandBytes / (icb * s.stride_h * row * 4), 1, s.p), nbands = cdiv(s.p, band);
    for_items(s.n * nbands, par, [&](int64_t it) {
      const int64_t b = it / nbands, oh0 = it % nbands * band, oh1 = std::min(s.p, oh0 + band);
      const int64_t pr0 = oh0 * s.stride_h, nr = (oh1 - 1) * s.stride_h + s.r - pr0;
      float* xb = scratch(kSlotIn, icb * nr * row);
      for (int64_t cb = 0; cb < icb; ++cb) {
        const int nc = (int)std::min<int64_t>(16, s.c - cb * 16);
        for (int64_t r = 0; r < nr; ++r) {
          float* d = xb + (cb * nr + r) * row;
          const int64_t yy = pr0 + r - s.pad_t;
          if (yy < 0 || yy >= s.h) { std::memset(d, 0, (size_t)row * sizeof(float)); continue; }
          std::memset(d, 0, (size_t)(s.pad_l * 16) * sizeof(float));
          rows_to_pixels(x + ((b * s.c + cb * 16) * s.h + yy) * s.w, s.h * s.w, s.w, nc, d + s.pad_l * 16, 16);
          std::memset(d + (s.pad_l + s.w) * 16, 0, (size_t)((g.wp - s.pad_l - s.w) * 16) * sizeof(float));
        }
      }
      for (int64_t gi = 0; gi < gr.count(); ++gi)
        for (int64_t oh = oh0; oh < oh1; ++oh) out_row(gi, wp + gr.first[gi] * 16 * icb * rs * 16, b, oh, xb, nr * row, pr0);
    });
    return true;
  }
  // Otherwise the whole input is reordered first, and each thread takes a contiguous range of the items (group,
  // sample, output row), packing each group's weights when it reaches it into its own buffer, which stays in L2
  // (packing them all first would send megabytes to memory and back: E2 9.4 MB).
  float* xb = scratch(kSlotIn, g.floats());
  to_blocked(x, g, xb, par);
  const int64_t per = s.n * s.p, work = kb * per, T = par ? num_threads() : 1;
  for_items(T, par, [&](int64_t t) {
    int64_t packed = -1;
    float* wg = nullptr;
    for (int64_t it = item_at(gr, per, work * t / T); it < item_at(gr, per, work * (t + 1) / T); ++it) {
      const int64_t gi = it / (s.n * s.p), b = it / s.p % s.n, oh = it % s.p;
      if (gi != packed) {
        wg = scratch(kSlotW, gr.size[gi] * 16 * icb * rs * 16);
        pack_forward(w, s, gr, wg, false, gi);
        packed = gi;
      }
      out_row(gi, wg, b, oh, xb + b * icb * g.plane(), g.plane(), 0);
    }
  });
  return true;
}

// ---------------------------------------------------------------- backward-data
bool conv_direct_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  const bool supported = s.n > 0 && s.k > 0 && s.c > 0 && s.p > 0 && s.q > 0 && s.h > 0 && s.w > 0 &&
                         (s.stride_h == 1 || s.stride_h == 2) && (s.stride_w == 1 || s.stride_w == 2);
  if (!want(supported, full_blocks(s) && (s.stride_w == 1 || s.w / s.stride_w >= 4))) return false;
  const bool par = many_threads(s);
  const int64_t sh = s.stride_h, sw = s.stride_w, kb = cdiv(s.k, 16), cb = cdiv(s.c, 16);
  BlockedGeom g{s.n, s.k, s.p, s.q, 0, 0, 0, 0};
  phase_border(s.h, sh, s.pad_t, s.r, s.p, g.top, g.hp);
  phase_border(s.w, sw, s.pad_l, s.s, s.q, g.left, g.wp);
  float* dyb = scratch(kSlotIn, g.floats());
  to_blocked(dy, g, dyb, par);
  // Weights of every phase (ph, pw), one after the other: dy channels in, dx channels out.
  Taps th[2], tw[2];
  for (int64_t ph = 0; ph < sh; ++ph) th[ph] = phase_taps(ph, sh, s.pad_t, s.r);
  for (int64_t pw = 0; pw < sw; ++pw) tw[pw] = phase_taps(pw, sw, s.pad_l, s.s);
  const Groups gr = make_groups(cb);
  const int64_t plane = g.plane(), row = g.wp * 16, hw = s.h * s.w, qmax = (s.w + sw - 1) / sw;
  // Items (dx-channel group, sample, dx row), a contiguous range per thread; each thread packs a group's weights
  // (all phases) when it reaches it, into its own buffer.
  auto item = [&](int64_t it, float* const (*wph)[2]) {
    const int64_t gi = it / (s.n * s.h), b = it / s.h % s.n, ih = it % s.h, ph = ih % sh, a = ih / sh;
    const int nb = (int)gr.size[gi];
    const int64_t ld = nb * 16;
    float* buf = scratch(kSlotRow, sw * qmax * ld);
    for (int64_t pw = 0; pw < sw; ++pw) {
      const int64_t qe = (s.w - pw + sw - 1) / sw;
      float* out = buf + pw * qmax * ld;
      const Taps ta = th[ph], te = tw[pw];
      if (qe <= 0) continue;
      if (ta.n == 0 || te.n == 0) {
        std::memset(out, 0, (size_t)(qe * ld) * sizeof(float));
        continue;
      }
      // Taps [t0, t0 + kh) read dy rows; the others only the zero border.
      const int64_t t0 = std::clamp<int64_t>(-(a + ta.d0), 0, ta.n);
      const int64_t kh = std::max<int64_t>(0, std::min(ta.n, s.p - (a + ta.d0)) - t0);
      const float* in = dyb + b * kb * plane + (g.top + a + ta.d0 + t0) * row + (g.left + te.d0) * 16;
      const float* wg = wph[ph][pw] + t0 * te.n * 16 * ld;
      row_tiles(qe, nb, [&](int64_t x0, int64_t ur) {
        const int64_t f0 = std::max<int64_t>(0, -(x0 + te.d0)), l1 = s.q - (x0 + ur - 1 + te.d0);
        tile_fn(1, nb, ur)({in + x0 * 16, kb, plane, row, kh, te.n, wg, ta.n * te.n * 16 * ld, f0, l1, out + x0 * ld});
      });
    }
    for (int q = 0; q < nb && gr.first[gi] * 16 + 16 * q < s.c; ++q) {
      const int64_t ci = gr.first[gi] * 16 + 16 * q;
      const int nc = (int)std::min<int64_t>(16, s.c - ci);
      float* d = dx + (b * s.c + ci) * hw + ih * s.w;
      if (sw == 1) pixels_to_rows(buf + q * 16, ld, s.w, nc, d, hw);
      else interleave_rows(buf + q * 16, buf + qmax * ld + q * 16, ld, s.w, nc, d, hw);
    }
  };
  const int64_t per = s.n * s.h, work = cb * per, T = par ? num_threads() : 1;
  for_items(T, par, [&](int64_t t) {
    int64_t packed = -1;
    float* wph[2][2] = {};
    for (int64_t it = item_at(gr, per, work * t / T); it < item_at(gr, per, work * (t + 1) / T); ++it) {
      const int64_t gi = it / (s.n * s.h);
      if (gi != packed) {  // this group's weights of every phase, one phase after the other
        const int64_t per = gr.size[gi] * 16 * kb * 16;
        float* wp = scratch(kSlotW, per * s.r * s.s);
        for (int64_t ph = 0, at = 0; ph < sh; ++ph)
          for (int64_t pw = 0; pw < sw; ++pw) {
            wph[ph][pw] = wp + at;
            at += per * th[ph].n * tw[pw].n;
          }
        pack_backward(w, s, gr, th, tw, wph, false, gi);
        packed = gi;
      }
      item(it, wph);
    }
  });
  return true;
}

#else  // no AVX-512: the implicit-GEMM path does everything

bool conv_direct_forward(const float*, const float*, const float*, float*, const ConvShape&, bool, float) { return false; }
bool conv_direct_backward_data(const float*, const float*, float*, const ConvShape&) { return false; }

#endif

}  // namespace mrigan::cpu
