// im2col / col2im over column tiles of the batched column matrix (private to native/cpu/conv.cc).
//
// For conv geometry s, the column matrix of an input x [n, c, h, w] has c·r·s rows and n·p·q columns:
// row ρ = (ci·r + i)·s + j, column (b, oh, ow) holds x[b, ci, oh·sh − pt + i, ow·sw − pl + j], 0 in the padding.
// Then conv forward is y_b = W[k, crs] · col (per sample b), backward-data is dx = col2im(Wᵀ · dy) and
// backward-weight is dW += dy · colᵀ. Kernels work on tiles of columns [j0, j1) that may span samples, so deep
// layers with tiny p·q still give the GEMM a wide N; a tile is described once as runs (pieces of one output row).
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/ops.h"

namespace mrigan::cpu {

struct Run {
  int64_t b, oh, ow, len, off;  // sample, output row, first output column, length, offset inside the tile
};

// Columns [j0, j1) as runs inside one output row.
inline void make_runs(const ConvShape& s, int64_t j0, int64_t j1, std::vector<Run>& runs) {
  runs.clear();
  const int64_t pq = s.p * s.q;
  for (int64_t j = j0; j < j1;) {
    const int64_t b = j / pq, pix = j - b * pq, oh = pix / s.q, ow = pix - oh * s.q;
    const int64_t len = std::min(s.q - ow, j1 - j);
    runs.push_back({b, oh, ow, len, j - j0});
    j += len;
  }
}

// Output columns [lo, hi) whose input column ow·sw − pl + jj lies inside [0, w).
struct Span {
  int64_t lo, hi;
};
inline Span valid_cols(const ConvShape& s, int64_t jj) {
  const int64_t first = s.pad_l - jj;  // ow·sw ≥ first
  const int64_t last = s.w - 1 + s.pad_l - jj;  // ow·sw ≤ last
  int64_t lo = first <= 0 ? 0 : (first + s.stride_w - 1) / s.stride_w;
  int64_t hi = last < 0 ? 0 : last / s.stride_w + 1;
  hi = std::min(hi, s.q);
  lo = std::min(lo, hi);
  return {lo, hi};
}

#if defined(__AVX512F__)
constexpr int kVL = 16;
#elif defined(__AVX__)
constexpr int kVL = 8;
#else
constexpr int kVL = 4;
#endif
typedef float vfu_t __attribute__((vector_size(kVL * sizeof(float)), aligned(4)));
typedef int vi_t __attribute__((vector_size(kVL * sizeof(int))));

// Stride-2 rows, the case of every k4 s2 conv, a vector at a time. A vector step covers positions
// [2t, 2t + 2·VL − 2] with two overlapping loads (at 2t and 2t + VL − 1), so it never touches memory beyond the
// last element it needs.
// o[t] = src[2t] for t ∈ [0, len).
inline void gather_stride2(float* o, const float* src, int64_t len) {
  static const vi_t pick = [] {  // evens of lo, then the evens of hi (its odd lanes)
    vi_t m{};
    for (int t = 0; t < kVL; ++t) m[t] = t < kVL / 2 ? 2 * t : 2 * t + 1;
    return m;
  }();
  int64_t t = 0;
  for (; t + kVL <= len; t += kVL) {
    const vfu_t lo = *(const vfu_t*)(src + 2 * t), hi = *(const vfu_t*)(src + 2 * t + kVL - 1);
    *(vfu_t*)(o + t) = __builtin_shuffle(lo, hi, pick);
  }
  for (; t < len; ++t) o[t] = src[2 * t];
}

// dst[2t] += o[t] for t ∈ [0, len). Odd positions in between are rewritten with their own value (+ 0); they belong
// to the same image row, which only the calling thread writes.
inline void scatter_add_stride2(float* dst, const float* o, int64_t len) {
  static const vi_t spread_lo = [] {  // o[e/2] on even lanes, 0 (lane of the zero vector) on odd ones
    vi_t m{};
    for (int e = 0; e < kVL; ++e) m[e] = e % 2 ? kVL : e / 2;
    return m;
  }();
  static const vi_t spread_hi = [] {  // o[VL/2 + (e−1)/2] on odd lanes, 0 on even ones
    vi_t m{};
    for (int e = 0; e < kVL; ++e) m[e] = e % 2 ? kVL / 2 + (e - 1) / 2 : kVL;
    return m;
  }();
  const vfu_t zero = {};
  int64_t t = 0;
  for (; t + kVL <= len; t += kVL) {
    const vfu_t v = *(const vfu_t*)(o + t);
    vfu_t* lo = (vfu_t*)(dst + 2 * t);
    vfu_t* hi = (vfu_t*)(dst + 2 * t + kVL - 1);
    const vfu_t a = *lo + __builtin_shuffle(v, zero, spread_lo);
    const vfu_t b = *hi + __builtin_shuffle(v, zero, spread_hi);
    *lo = a;  // lo and hi share one odd position, which neither changes
    *hi = b;
  }
  for (; t < len; ++t) dst[2 * t] += o[t];
}

// col[(ρ − r0)·ld + t] for rows ρ ∈ [r0, r1) and the tile's columns t.
inline void im2col_tile(const float* x, const ConvShape& s, const std::vector<Run>& runs, int64_t r0, int64_t r1,
                        float* col, int64_t ld) {
  const int64_t rs = s.r * s.s, hw = s.h * s.w, sw = s.stride_w;
  for (int64_t row = r0; row < r1; ++row) {
    const int64_t ci = row / rs, i = (row % rs) / s.s, jj = row % s.s;
    const Span v = valid_cols(s, jj);
    float* d = col + (row - r0) * ld;
    for (const Run& u : runs) {
      float* o = d + u.off - u.ow;  // o[ow] for ow ∈ [u.ow, u.ow + len)
      const int64_t e = u.ow + u.len;
      const int64_t ih = u.oh * s.stride_h - s.pad_t + i;
      if (ih < 0 || ih >= s.h) {
        std::fill(o + u.ow, o + e, 0.0f);
        continue;
      }
      const int64_t a = std::clamp(v.lo, u.ow, e), z = std::clamp(v.hi, a, e);
      std::fill(o + u.ow, o + a, 0.0f);
      const float* src = x + (u.b * s.c + ci) * hw + ih * s.w + jj - s.pad_l;  // src[ow·sw], valid for ow ∈ [a, z)
      if (sw == 1) std::memcpy(o + a, src + a, (size_t)(z - a) * sizeof(float));
      else if (sw == 2) gather_stride2(o + a, src + 2 * a, z - a);
      else for (int64_t ow = a; ow < z; ++ow) o[ow] = src[ow * sw];
      std::fill(o + z, o + e, 0.0f);
    }
  }
}

// dx += col2im of the rows of channels [c0, c1): col row (ci − c0)·r·s + i·s + j, tile columns with stride ld.
// Touches only dx channels [c0, c1) of the tile's samples, so disjoint channel ranges can run in parallel.
inline void col2im_tile(const float* col, const ConvShape& s, const std::vector<Run>& runs, int64_t c0, int64_t c1,
                        float* dx, int64_t ld) {
  const int64_t rs = s.r * s.s, hw = s.h * s.w, sw = s.stride_w;
  for (int64_t ci = c0; ci < c1; ++ci)
    for (int64_t i = 0; i < s.r; ++i)
      for (int64_t jj = 0; jj < s.s; ++jj) {
        const Span v = valid_cols(s, jj);
        const float* d = col + ((ci - c0) * rs + i * s.s + jj) * ld;
        for (const Run& u : runs) {
          const int64_t ih = u.oh * s.stride_h - s.pad_t + i;
          if (ih < 0 || ih >= s.h) continue;
          const int64_t e = u.ow + u.len;
          const int64_t a = std::clamp(v.lo, u.ow, e), z = std::clamp(v.hi, a, e);
          const float* o = d + u.off - u.ow;
          float* dst = dx + (u.b * s.c + ci) * hw + ih * s.w + jj - s.pad_l;
          if (sw == 1) for (int64_t ow = a; ow < z; ++ow) dst[ow] += o[ow];
          else if (sw == 2) scatter_add_stride2(dst + 2 * a, o + a, z - a);
          else for (int64_t ow = a; ow < z; ++ow) dst[ow * sw] += o[ow];
        }
      }
}

}  // namespace mrigan::cpu
