// Float64 host kernels for the metrics' dense linear algebra (FID's trace term: lib/metrics/linalg.ts, eigen.ts).
// Not device ops (no CUDA twins, not in core/ops.def): plain row-major double arrays owned by the caller.
// Single-threaded with a fixed summation order, so a result does not depend on the thread count; the vector width
// is the build's ISA (AVX-512, AVX2 or the portable 2-wide path), like native/cpu/gemm_kernel.h.
// Callers (the addon) check every extent against the arrays; these functions trust their arguments.
#pragma once
#include <cstdint>

namespace mrigan::cpu {

// Which part of C a product writes: all of it, only j ≤ i (lower) or only j ≥ i (upper), with (i, j) relative to C.
enum class Tri : int { Full = 0, Lower = 1, Upper = 2 };

// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C on the elements of `tri`; op = transpose when ta / tb
// (A stored k×m when ta). beta == 0 never reads C. Each element sums its k products in increasing k.
// C must not overlap the parts of A and B that are read.
void dgemm(bool ta, bool tb, Tri tri, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// y = alpha · op(A) x + beta · y, A m×n row-major (op(A) is n×m when trans), x and y strided by incx, incy ≥ 1.
// beta == 0 never reads y. y must not overlap A or x.
void dgemv(bool trans, int64_t m, int64_t n, double alpha, const double* a, int64_t lda, const double* x, int64_t incx,
           double beta, double* y, int64_t incy);

// y = S x for the symmetric m×m S whose upper triangle is stored row-major: S(i, j) = a[i·lda + j] for j ≥ i
// (the lower triangle in column-major order, LAPACK dsymv 'L'); the strict lower part is never read. x, y
// contiguous and distinct.
void dsymv_upper(int64_t m, const double* a, int64_t lda, const double* x, double* y);

}  // namespace mrigan::cpu
