// The column matrix of a conv and the loops that read / write it (private to native/cpu/conv.cc).
//
// For conv geometry s, the column matrix of an input x [n, c, h, w] has c·r·s rows and n·p·q columns:
// row ρ = (ci·r + i)·s + j, column (b, oh, ow) holds x[b, ci, oh·sh − pt + i, ow·sw − pl + j], 0 in the padding.
// Conv forward is y = W · col, backward-data dx = col2im(Wᵀ · dy), backward-weight dW += dy · colᵀ. The matrix is
// never stored whole: conv.cc packs the pieces the GEMM needs straight from x. A range of columns [j0, j1), which
// may span samples, is described once as runs (pieces of one output row), shared by every row of the matrix.
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/gemm_kernel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

struct Run {
  int64_t b, oh, ow, len, off;  // sample, output row, first output column, length, offset from j0
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

// One row of the column matrix: input channel offset ci·h·w, kernel tap (i, j), and the output columns
// [lo, hi) whose input column ow·sw − pl + j lies inside [0, w).
struct RowInfo {
  int64_t base, i, j, lo, hi;
};
inline void row_table(const ConvShape& s, std::vector<RowInfo>& rows) {
  rows.resize((size_t)(s.c * s.r * s.s));
  for (int64_t ci = 0; ci < s.c; ++ci)
    for (int64_t i = 0; i < s.r; ++i)
      for (int64_t j = 0; j < s.s; ++j) {
        const int64_t first = s.pad_l - j, last = s.w - 1 + s.pad_l - j;  // ow·sw must lie in [first, last]
        int64_t lo = first <= 0 ? 0 : (first + s.stride_w - 1) / s.stride_w;
        int64_t hi = last < 0 ? 0 : last / s.stride_w + 1;
        hi = std::min(hi, s.q);
        lo = std::min(lo, hi);
        rows[(size_t)((ci * s.r + i) * s.s + j)] = {ci * s.h * s.w, i, j, lo, hi};
      }
}

// Stride-2 rows, the case of every k4 s2 conv, a vector at a time. A vector step covers positions
// [2t, 2t + 2·VL − 2] with two overlapping loads (at 2t and 2t + VL − 1), so it never touches memory beyond the
// last element it needs.
typedef int vi_t __attribute__((vector_size(VL * sizeof(int))));

// o[t] = src[2t] for t ∈ [0, len).
inline void gather_stride2(float* o, const float* src, int64_t len) {
  static const vi_t pick = [] {  // evens of lo, then the evens of hi (its odd lanes)
    vi_t m{};
    for (int t = 0; t < VL; ++t) m[t] = t < VL / 2 ? 2 * t : 2 * t + 1;
    return m;
  }();
  int64_t t = 0;
  for (; t + VL <= len; t += VL) {
    const vfu lo = *(const vfu*)(src + 2 * t), hi = *(const vfu*)(src + 2 * t + VL - 1);
    *(vfu*)(o + t) = __builtin_shuffle(lo, hi, pick);
  }
  for (; t < len; ++t) o[t] = src[2 * t];
}

// dst[2t] += o[t] for t ∈ [0, len). Odd positions in between are rewritten with their own value (+ 0); they belong
// to the same image row, which only the calling thread writes.
inline void scatter_add_stride2(float* dst, const float* o, int64_t len) {
  static const vi_t spread_lo = [] {  // o[e/2] on even lanes, 0 (a lane of the zero vector) on odd ones
    vi_t m{};
    for (int e = 0; e < VL; ++e) m[e] = e % 2 ? VL : e / 2;
    return m;
  }();
  static const vi_t spread_hi = [] {  // o[VL/2 + (e−1)/2] on odd lanes, 0 on even ones
    vi_t m{};
    for (int e = 0; e < VL; ++e) m[e] = e % 2 ? VL / 2 + (e - 1) / 2 : VL;
    return m;
  }();
  const vfu zero = {};
  int64_t t = 0;
  for (; t + VL <= len; t += VL) {
    const vfu v = *(const vfu*)(o + t);
    vfu* lo = (vfu*)(dst + 2 * t);
    vfu* hi = (vfu*)(dst + 2 * t + VL - 1);
    const vfu a = *lo + __builtin_shuffle(v, zero, spread_lo);
    const vfu b = *hi + __builtin_shuffle(v, zero, spread_hi);
    *lo = a;  // lo and hi share one odd position, which neither changes
    *hi = b;
  }
  for (; t < len; ++t) dst[2 * t] += o[t];
}

// One row of the column matrix over the columns described by runs: o[u.off + t].
inline void im2col_row(const float* x, const ConvShape& s, const RowInfo& row, const std::vector<Run>& runs, float* o) {
  const int64_t sw = s.stride_w, chw = s.c * s.h * s.w;
  for (const Run& u : runs) {
    float* d = o + u.off - u.ow;  // d[ow] for ow ∈ [u.ow, u.ow + len)
    const int64_t e = u.ow + u.len;
    const int64_t ih = u.oh * s.stride_h - s.pad_t + row.i;
    if (ih < 0 || ih >= s.h) {
      std::fill(d + u.ow, d + e, 0.0f);
      continue;
    }
    const int64_t a = std::clamp(row.lo, u.ow, e), z = std::clamp(row.hi, a, e);
    std::fill(d + u.ow, d + a, 0.0f);
    const float* src = x + u.b * chw + row.base + ih * s.w + row.j - s.pad_l;  // src[ow·sw], valid for ow ∈ [a, z)
    if (sw == 1) std::memcpy(d + a, src + a, (size_t)(z - a) * sizeof(float));
    else if (sw == 2) gather_stride2(d + a, src + 2 * a, z - a);
    else for (int64_t ow = a; ow < z; ++ow) d[ow] = src[ow * sw];
    std::fill(d + z, d + e, 0.0f);
  }
}

// dx += one row of the column matrix (o[u.off + t] over the columns of runs), scattered back to the image.
// Touches only input channel ci of the runs' samples, so threads owning disjoint channel ranges never collide.
inline void col2im_row(const float* o, const ConvShape& s, const RowInfo& row, const std::vector<Run>& runs, float* dx) {
  const int64_t chw = s.c * s.h * s.w, sw = s.stride_w;
  for (const Run& u : runs) {
    const int64_t ih = u.oh * s.stride_h - s.pad_t + row.i;
    if (ih < 0 || ih >= s.h) continue;
    const int64_t e = u.ow + u.len;
    const int64_t a = std::clamp(row.lo, u.ow, e), z = std::clamp(row.hi, a, e);
    const float* d = o + u.off - u.ow;  // d[ow]
    float* dst = dx + u.b * chw + row.base + ih * s.w + row.j - s.pad_l;  // dst[ow·sw]
    if (sw == 1) for (int64_t ow = a; ow < z; ++ow) dst[ow] += d[ow];
    else if (sw == 2) scatter_add_stride2(dst + 2 * a, d + a, z - a);
    else for (int64_t ow = a; ow < z; ++ow) dst[ow * sw] += d[ow];
  }
}

}  // namespace mrigan::cpu
