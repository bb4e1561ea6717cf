// Bindings of native/cpu/blas64 (float64 host kernels for lib/metrics; not device ops). JS names: lib/engine/native.ts.
// Matrices are row-major Float64Arrays given as (array, offset, row stride); every extent is checked against the
// array's length before the kernel runs, so a bad call throws and never reads or writes outside the arrays.
//   f64Gemm(transA, transB, tri, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)
//       C = alpha·op(A)·op(B) + beta·C on tri (0 all, 1 j ≤ i, 2 j ≥ i); C must not overlap what is read of A, B
//   f64Gemv(trans, m, n, alpha, a, aOff, lda, x, xOff, incx, beta, y, yOff, incy)   A is m×n; y = alpha·op(A)x + beta·y
//   f64Symv(m, a, aOff, lda, x, xOff, y, yOff)    y = S x, S's upper triangle row-major (S(i, j) = a[i·lda + j], j ≥ i)
#include <climits>

#include "addon/binding.h"
#include "cpu/blas64.h"

namespace mrigan::addon {

namespace {

constexpr int64_t kDim = INT_MAX;                  // sizes and strides: products of two stay far below 2^63
constexpr int64_t kOff = 9007199254740991LL;       // offsets: any safe integer

struct F64 {
  double* p;
  int64_t len;
};

F64 arg_f64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be a Float64Array");
  Napi::Float64Array a = info[i].As<Napi::Float64Array>();
  return {a.Data(), (int64_t)a.ElementLength()};
}

// rows × cols elements at off, row stride ld, must lie inside the array.
void check_matrix(const Napi::CallbackInfo& info, const char* fn, const char* what, const F64& a, int64_t off,
                  int64_t rows, int64_t cols, int64_t ld) {
  if (rows == 0 || cols == 0) return;
  if (rows > 1 && ld < cols)
    throw Napi::RangeError::New(info.Env(), cat(fn, ": ", what, " has ", cols, " columns but row stride ", ld));
  const int64_t end = off + (rows - 1) * ld + cols;
  if (end > a.len)
    throw Napi::RangeError::New(info.Env(), cat(fn, ": ", what, " (", rows, "×", cols, " at offset ", off, ", stride ", ld,
                                                ") needs ", end, " elements, its array has ", a.len));
}

// n elements at off, stride inc, must lie inside the array.
void check_vector(const Napi::CallbackInfo& info, const char* fn, const char* what, const F64& a, int64_t off, int64_t n,
                  int64_t inc) {
  if (n == 0) return;
  const int64_t end = off + (n - 1) * inc + 1;
  if (end > a.len)
    throw Napi::RangeError::New(info.Env(), cat(fn, ": ", what, " (", n, " elements at offset ", off, ", stride ", inc,
                                                ") needs ", end, " elements, its array has ", a.len));
}

bool overlaps(const double* p, int64_t np, const double* q, int64_t nq) { return np > 0 && nq > 0 && p < q + nq && q < p + np; }

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const char* fn = "f64Gemm";
  need_args(info, 17, fn);
  const bool ta = arg_bool(info, 0, "transA"), tb = arg_bool(info, 1, "transB");
  const auto tri = (cpu::Tri)arg_int(info, 2, "tri (0 full, 1 lower, 2 upper)", 0, 2);
  const int64_t m = arg_int(info, 3, "m", 0, kDim), n = arg_int(info, 4, "n", 0, kDim), k = arg_int(info, 5, "k", 0, kDim);
  const double alpha = arg_number(info, 6, "alpha");
  const F64 a = arg_f64(info, 7, "a");
  const int64_t aoff = arg_int(info, 8, "aOff", 0, kOff), lda = arg_int(info, 9, "lda", 0, kDim);
  const F64 b = arg_f64(info, 10, "b");
  const int64_t boff = arg_int(info, 11, "bOff", 0, kOff), ldb = arg_int(info, 12, "ldb", 0, kDim);
  const double beta = arg_number(info, 13, "beta");
  const F64 c = arg_f64(info, 14, "c");
  const int64_t coff = arg_int(info, 15, "cOff", 0, kOff), ldc = arg_int(info, 16, "ldc", 0, kDim);
  const bool reads = m > 0 && n > 0 && k > 0 && alpha != 0.0;
  if (reads) {
    check_matrix(info, fn, ta ? "A (stored k×m)" : "A (m×k)", a, aoff, ta ? k : m, ta ? m : k, lda);
    check_matrix(info, fn, tb ? "B (stored n×k)" : "B (k×n)", b, boff, tb ? n : k, tb ? k : n, ldb);
  }
  check_matrix(info, fn, "C (m×n)", c, coff, m, n, ldc);
  cpu::dgemm(ta, tb, tri, m, n, k, alpha, a.p + (reads ? aoff : 0), lda, b.p + (reads ? boff : 0), ldb, beta,
             c.p + (m > 0 && n > 0 ? coff : 0), ldc);
  return info.Env().Undefined();
}

Napi::Value Gemv(const Napi::CallbackInfo& info) {
  const char* fn = "f64Gemv";
  need_args(info, 14, fn);
  const bool trans = arg_bool(info, 0, "trans");
  const int64_t m = arg_int(info, 1, "m", 0, kDim), n = arg_int(info, 2, "n", 0, kDim);
  const double alpha = arg_number(info, 3, "alpha");
  const F64 a = arg_f64(info, 4, "a");
  const int64_t aoff = arg_int(info, 5, "aOff", 0, kOff), lda = arg_int(info, 6, "lda", 0, kDim);
  const F64 x = arg_f64(info, 7, "x");
  const int64_t xoff = arg_int(info, 8, "xOff", 0, kOff), incx = arg_int(info, 9, "incx", 1, kDim);
  const double beta = arg_number(info, 10, "beta");
  const F64 y = arg_f64(info, 11, "y");
  const int64_t yoff = arg_int(info, 12, "yOff", 0, kOff), incy = arg_int(info, 13, "incy", 1, kDim);
  const int64_t nx = trans ? m : n, ny = trans ? n : m;
  const bool reads = ny > 0 && nx > 0 && alpha != 0.0;
  if (reads) {
    check_matrix(info, fn, "A (m×n)", a, aoff, m, n, lda);
    check_vector(info, fn, "x", x, xoff, nx, incx);
  }
  check_vector(info, fn, "y", y, yoff, ny, incy);
  // the kernel reads all of A and x before it writes y, so overlaps are harmless
  cpu::dgemv(trans, m, n, alpha, a.p + (reads ? aoff : 0), lda, x.p + (reads ? xoff : 0), incx, beta,
             y.p + (ny > 0 ? yoff : 0), incy);
  return info.Env().Undefined();
}

Napi::Value Symv(const Napi::CallbackInfo& info) {
  const char* fn = "f64Symv";
  need_args(info, 8, fn);
  const int64_t m = arg_int(info, 0, "m", 0, kDim);
  const F64 a = arg_f64(info, 1, "a");
  const int64_t aoff = arg_int(info, 2, "aOff", 0, kOff), lda = arg_int(info, 3, "lda", 0, kDim);
  const F64 x = arg_f64(info, 4, "x");
  const int64_t xoff = arg_int(info, 5, "xOff", 0, kOff);
  const F64 y = arg_f64(info, 6, "y");
  const int64_t yoff = arg_int(info, 7, "yOff", 0, kOff);
  if (m == 0) return info.Env().Undefined();
  check_matrix(info, fn, "S (m×m)", a, aoff, m, m, lda);
  check_vector(info, fn, "x", x, xoff, m, 1);
  check_vector(info, fn, "y", y, yoff, m, 1);
  const double *ap = a.p + aoff, *xp = x.p + xoff;
  double* yp = y.p + yoff;
  if (overlaps(yp, m, xp, m) || overlaps(yp, m, ap, (m - 1) * lda + m))
    throw Napi::RangeError::New(info.Env(), cat(fn, ": y overlaps x or S (y is written while they are read)"));
  cpu::dsymv_upper(m, ap, lda, xp, yp);
  return info.Env().Undefined();
}

}  // namespace

MRIGAN_EXPORT("f64Gemm", Gemm);
MRIGAN_EXPORT("f64Gemv", Gemv);
MRIGAN_EXPORT("f64Symv", Symv);

}  // namespace mrigan::addon
