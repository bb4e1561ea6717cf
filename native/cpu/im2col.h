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
          else for (int64_t ow = a; ow < z; ++ow) dst[ow * sw] += o[ow];
        }
      }
}

}  // namespace mrigan::cpu
