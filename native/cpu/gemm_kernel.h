// The register-tile GEMM kernel shared by gemm.cc (gemm_builtin) and conv.cc (implicit GEMM): tile sizes, packing
// of op(A) / op(B) into strips, the MR×NR micro-kernel, the tile store, and gemm_serial, a single-threaded driver
// whose packers are supplied by the caller (so conv can pack its column matrix straight from the image and
// pack the weights once per call); and dot_gemm for skinny products whose operands are contiguous along the
// reduction. Private to native/cpu.
//
// Packed layouts, per KC-deep slice [p0, p0 + kc):
//   A strips  dst[(i / MR)·MR·kc + p·MR + i % MR]    for rows i of op(A)
//   B strips  dst[(j / NR)·NR·kc + p·NR + j % NR]    for columns j of op(B)
// Rows / columns past the end of a strip are zero-filled.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/pack.h"

namespace mrigan::cpu {

#if defined(__AVX512F__)
constexpr int VL = 16;
#elif defined(__AVX__)
constexpr int VL = 8;
#else
constexpr int VL = 4;
#endif
typedef float vf __attribute__((vector_size(VL * sizeof(float))));                 // 64-byte aligned (packed)
typedef float vfu __attribute__((vector_size(VL * sizeof(float)), aligned(4)));    // unaligned (C)
constexpr int MR = 6, NR = 2 * VL;
constexpr int64_t MC = 144, KC = 256, NC = 4096;

// C = beta·C for every element; beta == 0 writes zeros without reading C (it may hold NaN).
inline void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  if (beta == 1.0f) return;
  for (int64_t i = 0; i < m; ++i) {
    float* r = c + i * ldc;
    if (beta == 0.0f) std::fill(r, r + n, 0.0f);
    else for (int64_t j = 0; j < n; ++j) r[j] *= beta;
  }
}

// Packing (pack.h) at this kernel's tile sizes.
inline void pack_a(bool ta, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  pack_rows<MR>(ta, a, lda, i0, mc, p0, kc, dst);
}
inline void pack_b_strip(bool tb, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int nr, float* d) {
  pack_cols<NR>(tb, b, ldb, p0, kc, j0, nr, d);
}

// The register tile: acc[i] = Σ_p A[p, i] · B[p, 0:NR] over packed strips.
inline void micro_kernel(int64_t kc, const float* __restrict A, const float* __restrict B, vf acc[MR][2]) {
  vf c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
  for (int64_t p = 0; p < kc; ++p) {
    const vf b0 = *(const vf*)(B + p * NR), b1 = *(const vf*)(B + p * NR + VL);
    const float* a = A + p * MR;
    c00 += a[0] * b0; c01 += a[0] * b1;
    c10 += a[1] * b0; c11 += a[1] * b1;
    c20 += a[2] * b0; c21 += a[2] * b1;
    c30 += a[3] * b0; c31 += a[3] * b1;
    c40 += a[4] * b0; c41 += a[4] * b1;
    c50 += a[5] * b0; c51 += a[5] * b1;
  }
  acc[0][0] = c00; acc[0][1] = c01; acc[1][0] = c10; acc[1][1] = c11; acc[2][0] = c20; acc[2][1] = c21;
  acc[3][0] = c30; acc[3][1] = c31; acc[4][0] = c40; acc[4][1] = c41; acc[5][0] = c50; acc[5][1] = c51;
}

// C tile (mr × nr) = alpha·acc + (first ? beta·C : C).
inline void store_tile(float* c, int64_t ldc, int mr, int nr, vf acc[MR][2], float alpha, float beta, bool first) {
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; ++i) {
      vfu* c0 = (vfu*)(c + i * ldc);
      vfu* c1 = (vfu*)(c + i * ldc + VL);
      vf r0 = acc[i][0] * alpha, r1 = acc[i][1] * alpha;
      if (!first) { r0 += *c0; r1 += *c1; }
      else if (beta != 0.0f) { r0 += *c0 * beta; r1 += *c1 * beta; }
      *c0 = r0;
      *c1 = r1;
    }
    return;
  }
  alignas(64) float t[MR][NR];
  std::memcpy(t, acc, sizeof(t));
  for (int i = 0; i < mr; ++i) {
    float* r = c + i * ldc;
    for (int j = 0; j < nr; ++j) {
      float v = alpha * t[i][j];
      if (!first) v += r[j];
      else if (beta != 0.0f) v += beta * r[j];
      r[j] = v;
    }
  }
}

// Single-threaded C[m, n] = op(A)·op(B), tile by tile. For each panel of at most nc_max columns and KC slice:
// B = pack_b(p0, kc, j0, nc, bbuf) and, per MC row block, A = pack_a(i0, mc, p0, kc, abuf), each returning its packed
// strips (its buffer, or data packed beforehand); then store(i0, j0, mr, nr, acc, first) takes each register tile,
// first = this is the first KC slice. bbuf holds ceil(nc_max / NR)·NR·kc_max floats, abuf MC·kc_max, both 64-byte
// aligned. kc_max (default KC) may be raised so that each tile is stored once, at some cost in cache reuse.
template <class PackA, class PackB, class Store>
inline void gemm_serial(int64_t m, int64_t n, int64_t k, int64_t nc_max, PackA&& pack_a_fn, PackB&& pack_b_fn,
                        Store&& store, float* abuf, float* bbuf, int64_t kc_max = KC) {
  vf acc[MR][2];
  for (int64_t jc = 0; jc < n; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n - jc);
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc);
      const float* B = pack_b_fn(pc, kc, jc, nc, bbuf);
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic);
        const float* A = pack_a_fn(ic, mc, pc, kc, abuf);
        for (int64_t s = 0; s * NR < nc; ++s) {
          const int nr = (int)std::min<int64_t>(NR, nc - s * NR);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            micro_kernel(kc, A + ir * kc, B + s * NR * kc, acc);
            store(ic + ir, jc + s * NR, (int)std::min<int64_t>(MR, mc - ir), nr, acc, pc == 0);
          }
        }
      }
    }
  }
}

// The usual store for gemm_serial: C (ldc) = acc + beta·C on the first slice, C += acc after. k must be ≥ 1.
inline auto store_into(float* c, int64_t ldc, float beta) {
  return [=](int64_t i0, int64_t j0, int mr, int nr, vf acc[MR][2], bool first) {
    store_tile(c + i0 * ldc + j0, ldc, mr, nr, acc, 1.0f, beta, first);
  };
}

// C[m, n] += A[m, len] · B[n, len]ᵀ as dot products along len, for operands contiguous along it (no packing, no
// transposes): a 4×6 block of C accumulates VL-wide partial sums in registers over len, then reduces them.
template <int MI, int NJ>
inline void dot_block(int64_t len, const float* const* a, const float* const* b, int mi, int nj, float* c, int64_t ldc) {
  vf acc[MI][NJ] = {};
  int64_t t = 0;
  for (; t + VL <= len; t += VL) {
    vf bv[NJ];
    for (int j = 0; j < NJ; ++j) bv[j] = *(const vfu*)(b[j] + t);
    for (int i = 0; i < MI; ++i) {
      const vf av = *(const vfu*)(a[i] + t);
      for (int j = 0; j < NJ; ++j) acc[i][j] += av * bv[j];
    }
  }
  for (int i = 0; i < mi; ++i)
    for (int j = 0; j < nj; ++j) {
      float sum = 0.0f;
      for (int l = 0; l < VL; ++l) sum += acc[i][j][l];
      for (int64_t u = t; u < len; ++u) sum += a[i][u] * b[j][u];
      c[i * ldc + j] += sum;
    }
}
inline void dot_gemm(int64_t m, int64_t n, int64_t len, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                     int64_t ldc) {
#if defined(__AVX512F__)
  constexpr int MI = 4, NJ = 6;
#else
  constexpr int MI = 2, NJ = 5;  // 16 vector registers
#endif
  for (int64_t i0 = 0; i0 < m; i0 += MI)
    for (int64_t j0 = 0; j0 < n; j0 += NJ) {
      const float* ap[MI];
      const float* bp[NJ];
      for (int i = 0; i < MI; ++i) ap[i] = a + std::min<int64_t>(i0 + i, m - 1) * lda;  // past the end: repeat the
      for (int j = 0; j < NJ; ++j) bp[j] = b + std::min<int64_t>(j0 + j, n - 1) * ldb;  // last row, not stored
      dot_block<MI, NJ>(len, ap, bp, (int)std::min<int64_t>(MI, m - i0), (int)std::min<int64_t>(NJ, n - j0),
                        c + i0 * ldc + j0, ldc);
    }
}

}  // namespace mrigan::cpu
