// Packing of GEMM operands into register-tile strips, for the float32 kernel (gemm_kernel.h) and the float64 one
// (blas64.cc), which differ only in element type and tile sizes. Per KC-deep slice [p0, p0 + kc):
//   A strips  dst[(i / MR)·MR·kc + p·MR + i % MR]    for rows i of op(A)
//   B strip   d[p·NR + j]                             for the columns j < nr of one strip of op(B)
// Rows / columns past the end of a strip are zero-filled. Private to native/cpu.
#pragma once
#include <algorithm>
#include <cstdint>

namespace mrigan::cpu {

// op(A)[i0 + i, p0 + p] for i < mc, p < kc → strips of MR rows, zero-padded.
template <int MR, typename T>
inline void pack_rows(bool ta, const T* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* dst) {
  for (int64_t s = 0; s < mc; s += MR) {
    const int mr = (int)std::min<int64_t>(MR, mc - s);
    T* d = dst + s * kc;
    if (ta) {
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = a + (p0 + p) * lda + i0 + s;
        for (int i = 0; i < mr; ++i) d[p * MR + i] = src[i];
        for (int i = mr; i < MR; ++i) d[p * MR + i] = T(0);
      }
    } else {
      for (int i = 0; i < MR; ++i) {
        if (i < mr) {
          const T* src = a + (i0 + s + i) * lda + p0;
          for (int64_t p = 0; p < kc; ++p) d[p * MR + i] = src[p];
        } else {
          for (int64_t p = 0; p < kc; ++p) d[p * MR + i] = T(0);
        }
      }
    }
  }
}

// op(B)[p0 + p, j0 + j] for p < kc, j < nr → one strip of NR columns, zero-padded.
template <int NR, typename T>
inline void pack_cols(bool tb, const T* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int nr, T* d) {
  if (tb) {
    for (int j = 0; j < nr; ++j) {
      const T* src = b + (j0 + j) * ldb + p0;
      for (int64_t p = 0; p < kc; ++p) d[p * NR + j] = src[p];
    }
    for (int j = nr; j < NR; ++j)
      for (int64_t p = 0; p < kc; ++p) d[p * NR + j] = T(0);
  } else {
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = b + (p0 + p) * ldb + j0;
      for (int j = 0; j < nr; ++j) d[p * NR + j] = src[j];
      for (int j = nr; j < NR; ++j) d[p * NR + j] = T(0);
    }
  }
}

}  // namespace mrigan::cpu
