// Driver for blas64_isa.test.ts: native/cpu/blas64.cc compiled for one vector ISA (the test builds it three ways:
// portable 2-wide, AVX2, the host's -march=native) and checked against float64 loops over odd sizes, transposes,
// triangles, strides and alpha/beta. Prints "<VD> <max error>" and exits 1 above the tolerance.
#include <cmath>
#include <cstdio>
#include <vector>

#include "cpu/blas64.h"

using namespace mrigan::cpu;
static unsigned long long st = 12345;
static double rnd() { st = st * 6364136223846793005ULL + 1442695040888963407ULL; return (double)(st >> 11) / 9007199254740992.0 * 2 - 1; }
static std::vector<double> vec(size_t n) { std::vector<double> v(n); for (auto& x : v) x = rnd(); return v; }

int main() {
  double worst = 0;  // error relative to k + 1
  const int sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {17, 33, 1}, {37, 19, 300}, {101, 130, 70}, {6, 1030, 260}};
  for (auto& s : sizes)
    for (int ta = 0; ta < 2; ++ta) for (int tb = 0; tb < 2; ++tb) for (int tri = 0; tri < 3; ++tri) {
      const int m = s[0], n = s[1], k = s[2], lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
      const double alpha = tri == 1 ? -1 : 0.7, beta = ta ? 0 : 0.5;
      auto a = vec(lda * (ta ? k : m)), b = vec(ldb * (tb ? n : k)), c = vec(ldc * m), want = c;
      for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) {
        if ((tri == 1 && j > i) || (tri == 2 && j < i)) continue;
        double t = 0;
        for (int p = 0; p < k; ++p) t += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
        want[i * ldc + j] = alpha * t + (beta == 0 ? 0 : beta * c[i * ldc + j]);
      }
      dgemm(ta, tb, (Tri)tri, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
      for (size_t q = 0; q < c.size(); ++q) worst = std::fmax(worst, std::fabs(c[q] - want[q]) / (k + 1));
    }
  for (int m : {1, 3, 5, 13, 67})
    for (int n : {1, 4, 9, 130})
      for (int trans = 0; trans < 2; ++trans) {
        const int lda = n + 1, nx = trans ? m : n, ny = trans ? n : m, incx = 2, incy = 3;
        auto a = vec(lda * m), x = vec(incx * nx), y = vec(incy * ny), want = y;
        for (int q = 0; q < ny; ++q) {
          double t = 0;
          for (int p = 0; p < nx; ++p) t += (trans ? a[p * lda + q] : a[q * lda + p]) * x[p * incx];
          want[q * incy] = -0.5 * t + 2 * y[q * incy];
        }
        dgemv(trans, m, n, -0.5, a.data(), lda, x.data(), incx, 2, y.data(), incy);
        for (size_t q = 0; q < y.size(); ++q) worst = std::fmax(worst, std::fabs(y[q] - want[q]) / (nx + 1));
      }
  for (int m : {1, 2, 3, 4, 5, 8, 13, 67, 257}) {
    const int lda = m + 2;
    auto a = vec(lda * m), x = vec(m);
    std::vector<double> y(m), want(m);
    for (int i = 0; i < m; ++i) for (int j = 0; j < i; ++j) a[i * lda + j] = NAN;  // the strict lower part: never read
    for (int i = 0; i < m; ++i) for (int j = 0; j < m; ++j) want[i] += a[std::min(i, j) * lda + std::max(i, j)] * x[j];
    dsymv_upper(m, a.data(), lda, x.data(), y.data());
    for (int i = 0; i < m; ++i) worst = std::fmax(worst, std::isnan(y[i]) ? INFINITY : std::fabs(y[i] - want[i]) / (m + 1));
  }
#if defined(__AVX512F__)
  const int vd = 8;
#elif defined(__AVX__)
  const int vd = 4;
#else
  const int vd = 2;
#endif
  std::printf("%d %.3g\n", vd, worst);
  return worst < 1e-14 ? 0 : 1;
}
