// Float64 GEMM, GEMV and upper-stored SYMV for the metrics (see blas64.h).
//
// dgemm follows the single-precision gemm_builtin (Goto/BLIS): per NC-wide column panel and KC-deep slice, op(B) is
// packed into NR-wide strips and each MC-high row block of op(A) into MR-high strips; an MR×NR register tile
// accumulates kc rank-1 updates (per k: two vector loads of B, MR broadcasts of A, 2·MR FMAs). Sizes: a B strip
// (KC·NR doubles, 32 KiB with AVX-512) stays in L1, an A block (MC·KC, 192 KiB) in L2. One thread: the caller's
// loops are the parallelism, and one order of summation gives the same bits on every run and every host thread count.
// With a triangle (Tri::Lower/Upper) whole tiles and row blocks on the other side are skipped and the tiles that
// cross the diagonal store elementwise, so a symmetric update costs half.
#include "cpu/blas64.h"
#include "cpu/pack.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mrigan::cpu {
namespace {

#if defined(__AVX512F__)
constexpr int VD = 8, MR = 8;  // 16 accumulators + 2 B vectors + 1 broadcast of 32 registers
#elif defined(__AVX__)
constexpr int VD = 4, MR = 6;  // 12 + 3 of 16
#else
constexpr int VD = 2, MR = 4;  // portable (SSE2): 8 + 3 of 16
#endif
typedef double vd __attribute__((vector_size(VD * sizeof(double))));                  // aligned (packed buffers)
typedef double vdu __attribute__((vector_size(VD * sizeof(double)), aligned(8)));    // unaligned (C, A rows)
constexpr int NR = 2 * VD;
constexpr int64_t MC = 96, KC = 256, NC = 1024;  // MC is a multiple of every MR above

// A grow-only, 64-byte aligned buffer per thread and slot (0: A block, 1: B panel, 2: x copy, 3: y sums).
double* buffer(int slot, int64_t n) {
  struct Buf {
    double* p = nullptr;
    int64_t cap = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf bufs[4];
  Buf& b = bufs[slot];
  if (b.cap < n) {
    std::free(b.p);
    b.p = nullptr;
    b.cap = 0;
    b.p = static_cast<double*>(std::aligned_alloc(64, (size_t)((n * 8 + 63) / 64) * 64));
    if (!b.p) throw std::bad_alloc();
    b.cap = n;
  }
  return b.p;
}

// op(B) columns [j0, j0 + nc) → NR-wide strips (pack.h), columns past nc zero.
void pack_b(bool tb, const double* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, double* dst) {
  for (int64_t s = 0; s < nc; s += NR) pack_cols<NR>(tb, b, ldb, p0, kc, j0 + s, (int)std::min<int64_t>(NR, nc - s), dst + s * kc);
}

// acc[i] = Σ_p A[p, i] · B[p, 0:NR] over packed strips, p increasing.
inline void micro_kernel(int64_t kc, const double* __restrict A, const double* __restrict B, vd acc[MR][2]) {
  vd c0[MR] = {}, c1[MR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const vd b0 = *(const vd*)(B + p * NR), b1 = *(const vd*)(B + p * NR + VD);
    const double* a = A + p * MR;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      c0[i] += a[i] * b0;
      c1[i] += a[i] * b1;
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = c0[i];
    acc[i][1] = c1[i];
  }
}

inline bool in_tri(Tri tri, int64_t i, int64_t j) { return tri == Tri::Full || (tri == Tri::Lower ? j <= i : j >= i); }

// C tile (rows gi.., cols gj.. of C; mr × nr) += alpha · acc on the elements of tri.
inline void store_tile(double* c, int64_t ldc, int64_t gi, int64_t gj, int mr, int nr, Tri tri, double alpha,
                       vd acc[MR][2]) {
  const bool whole = mr == MR && nr == NR &&
                     (tri == Tri::Full || (tri == Tri::Lower ? gj + NR - 1 <= gi : gj >= gi + MR - 1));
  double* base = c + gi * ldc + gj;
  if (whole) {
    for (int i = 0; i < MR; ++i) {
      vdu* r = (vdu*)(base + i * ldc);
      r[0] += acc[i][0] * alpha;
      r[1] += acc[i][1] * alpha;
    }
    return;
  }
  alignas(64) double t[MR][NR];
  std::memcpy(t, acc, sizeof(t));
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j)
      if (in_tri(tri, gi + i, gj + j)) base[i * ldc + j] += alpha * t[i][j];
}

// Columns [j0, j1) of row i that tri keeps, within [0, n).
inline void tri_cols(Tri tri, int64_t i, int64_t n, int64_t& j0, int64_t& j1) {
  j0 = tri == Tri::Upper ? std::min(i, n) : 0;
  j1 = tri == Tri::Lower ? std::min(i + 1, n) : n;
}

inline double hsum(vd v) {
  double s = 0.0;
  for (int l = 0; l < VD; ++l) s += v[l];
  return s;
}

}  // namespace

void dgemm(bool ta, bool tb, Tri tri, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (beta != 1.0) {
    for (int64_t i = 0; i < m; ++i) {
      int64_t j0, j1;
      tri_cols(tri, i, n, j0, j1);
      double* r = c + i * ldc;
      if (beta == 0.0) std::fill(r + j0, r + j1, 0.0);  // never reads C (it may hold NaN)
      else for (int64_t j = j0; j < j1; ++j) r[j] *= beta;
    }
  }
  if (k <= 0 || alpha == 0.0) return;
  double* bpack = buffer(1, ((std::min(n, NC) + NR - 1) / NR) * NR * std::min(k, KC));
  double* apack = buffer(0, MC * std::min(k, KC));
  vd acc[MR][2];
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = std::min(NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = std::min(KC, k - pc);
      bool packed_b = false;
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic);
        if (tri == Tri::Lower && jc > ic + mc - 1) continue;  // the whole block is above the diagonal
        if (tri == Tri::Upper && jc + nc - 1 < ic) continue;  // ... below it
        if (!packed_b) {
          pack_b(tb, b, ldb, pc, kc, jc, nc, bpack);
          packed_b = true;
        }
        pack_rows<MR>(ta, a, lda, ic, mc, pc, kc, apack);
        for (int64_t s = 0; s * NR < nc; ++s) {
          const int64_t j = jc + s * NR;
          const int nr = (int)std::min<int64_t>(NR, nc - s * NR);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t i = ic + ir;
            const int mr = (int)std::min<int64_t>(MR, mc - ir);
            if (tri == Tri::Lower && j > i + mr - 1) continue;
            if (tri == Tri::Upper && j + nr - 1 < i) continue;
            micro_kernel(kc, apack + ir * kc, bpack + s * NR * kc, acc);
            store_tile(c, ldc, i, j, mr, nr, tri, alpha, acc);
          }
        }
      }
    }
  }
}

void dgemv(bool trans, int64_t m, int64_t n, double alpha, const double* a, int64_t lda, const double* x, int64_t incx,
           double beta, double* y, int64_t incy) {
  const int64_t nx = trans ? m : n, ny = trans ? n : m;
  if (ny <= 0) return;
  double* t = buffer(3, ny);
  std::fill(t, t + ny, 0.0);
  if (nx > 0 && alpha != 0.0) {
    const double* xc = x;
    if (incx != 1) {
      double* xb = buffer(2, nx);
      for (int64_t i = 0; i < nx; ++i) xb[i] = x[i * incx];
      xc = xb;
    }
    int64_t i = 0;
    if (!trans) {
      // t[i] = A[i, :] · x, four rows at a time (x loaded once per four rows)
      for (; i + 4 <= m; i += 4) {
        const double *r0 = a + i * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
        vd s0 = {}, s1 = {}, s2 = {}, s3 = {};
        int64_t j = 0;
        for (; j + VD <= n; j += VD) {
          const vd xv = *(const vdu*)(xc + j);
          s0 += *(const vdu*)(r0 + j) * xv;
          s1 += *(const vdu*)(r1 + j) * xv;
          s2 += *(const vdu*)(r2 + j) * xv;
          s3 += *(const vdu*)(r3 + j) * xv;
        }
        double u0 = hsum(s0), u1 = hsum(s1), u2 = hsum(s2), u3 = hsum(s3);
        for (; j < n; ++j) {
          u0 += r0[j] * xc[j];
          u1 += r1[j] * xc[j];
          u2 += r2[j] * xc[j];
          u3 += r3[j] * xc[j];
        }
        t[i] = u0, t[i + 1] = u1, t[i + 2] = u2, t[i + 3] = u3;
      }
      for (; i < m; ++i) {
        const double* r0 = a + i * lda;
        vd s0 = {};
        int64_t j = 0;
        for (; j + VD <= n; j += VD) s0 += *(const vdu*)(r0 + j) * *(const vdu*)(xc + j);
        double u0 = hsum(s0);
        for (; j < n; ++j) u0 += r0[j] * xc[j];
        t[i] = u0;
      }
    } else {
      // t[:] += Σ_i x_i A[i, :], four rows at a time (t loaded and stored once per four rows)
      for (; i + 4 <= m; i += 4) {
        const double *r0 = a + i * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
        const double x0 = xc[i], x1 = xc[i + 1], x2 = xc[i + 2], x3 = xc[i + 3];
        int64_t j = 0;
        for (; j + VD <= n; j += VD) {
          vdu* tv = (vdu*)(t + j);
          *tv += *(const vdu*)(r0 + j) * x0 + *(const vdu*)(r1 + j) * x1 + *(const vdu*)(r2 + j) * x2 +
                 *(const vdu*)(r3 + j) * x3;
        }
        for (; j < n; ++j) t[j] += r0[j] * x0 + r1[j] * x1 + r2[j] * x2 + r3[j] * x3;
      }
      for (; i < m; ++i) {
        const double* r0 = a + i * lda;
        const double x0 = xc[i];
        for (int64_t j = 0; j < n; ++j) t[j] += r0[j] * x0;
      }
    }
  }
  for (int64_t q = 0; q < ny; ++q) {
    double& yq = y[q * incy];
    yq = (beta == 0.0 ? 0.0 : beta * yq) + alpha * t[q];
  }
}

void dsymv_upper(int64_t m, const double* a, int64_t lda, const double* x, double* y) {
  if (m <= 0) return;
  std::fill(y, y + m, 0.0);
  // Four rows at a time: row i contributes S(i, j) x_j to y_i (a dot product) and, by symmetry, S(i, j) x_i to
  // y_j for j > i (an axpy), so each stored element is read once for two multiply-adds.
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const double* r[4] = {a + i * lda, a + (i + 1) * lda, a + (i + 2) * lda, a + (i + 3) * lda};
    for (int q = 0; q < 4; ++q) {  // the 4×4 diagonal block
      y[i + q] += r[q][i + q] * x[i + q];
      for (int q2 = q + 1; q2 < 4; ++q2) {
        const double s = r[q][i + q2];
        y[i + q] += s * x[i + q2];
        y[i + q2] += s * x[i + q];
      }
    }
    const double x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
    vd s0 = {}, s1 = {}, s2 = {}, s3 = {};
    int64_t j = i + 4;
    for (; j + VD <= m; j += VD) {
      const vd a0 = *(const vdu*)(r[0] + j), a1 = *(const vdu*)(r[1] + j), a2 = *(const vdu*)(r[2] + j),
               a3 = *(const vdu*)(r[3] + j);
      const vd xv = *(const vdu*)(x + j);
      s0 += a0 * xv;
      s1 += a1 * xv;
      s2 += a2 * xv;
      s3 += a3 * xv;
      *(vdu*)(y + j) += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
    }
    double u0 = hsum(s0), u1 = hsum(s1), u2 = hsum(s2), u3 = hsum(s3);
    for (; j < m; ++j) {
      const double xj = x[j];
      u0 += r[0][j] * xj;
      u1 += r[1][j] * xj;
      u2 += r[2][j] * xj;
      u3 += r[3][j] * xj;
      y[j] += r[0][j] * x0 + r[1][j] * x1 + r[2][j] * x2 + r[3][j] * x3;
    }
    y[i] += u0, y[i + 1] += u1, y[i + 2] += u2, y[i + 3] += u3;
  }
  for (; i < m; ++i) {
    const double* r0 = a + i * lda;
    const double xi = x[i];
    double u = r0[i] * xi;
    for (int64_t j = i + 1; j < m; ++j) {
      u += r0[j] * x[j];
      y[j] += r0[j] * xi;
    }
    y[i] += u;
  }
}

}  // namespace mrigan::cpu
