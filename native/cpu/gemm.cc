// Single-precision GEMM: OpenBLAS dispatch and the builtin packed GEMM (see gemm.h).
//
// gemm_builtin follows Goto/BLIS: for each NC-wide column panel and KC-deep slice, op(B) is packed into NR-wide
// strips (shared by all threads), each MC-high row block of op(A) into MR-high strips (per thread), and an MR×NR
// register tile accumulates kc rank-1 updates: per k step, two vector loads of B, MR broadcasts of A, 2·MR FMAs.
// Sizes: a B strip (KC·NR floats, 32 KiB with AVX-512) stays in L1, an A block (MC·KC, 144 KiB) in L2.
// Work items are (A row block, range of B strips), so skinny problems (m ≤ MC) still split over threads.
#include "cpu/gemm.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm_kernel.h"

#ifdef MRIGAN_OPENBLAS
#include <cblas.h>
#endif

namespace mrigan::cpu {

// ---------------------------------------------------------------- scratch
float* scratch(int slot, int64_t floats) {
  struct Buf {
    std::unique_ptr<float[]> mem;
    int64_t cap = 0;
  };
  thread_local std::vector<Buf> bufs;
  if ((int)bufs.size() <= slot) bufs.resize(slot + 1);
  Buf& b = bufs[slot];
  if (b.cap < floats) {
    b.mem.reset();  // free first: the old contents are not kept
    b.mem.reset(new float[floats + 16]);
    b.cap = floats;
  }
  uintptr_t p = reinterpret_cast<uintptr_t>(b.mem.get());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}

// ---------------------------------------------------------------- builtin GEMM
constexpr int kSlotA = 14, kSlotB = 15;  // scratch slots of the packing buffers (kernels use low slots)

void gemm_builtin(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) { scale_c(m, n, beta, c, ldc); return; }
  // Below ~1 MFLOP a parallel region costs more than it saves.
  const int64_t T = omp_in_parallel() || (double)m * n * k < double(1 << 19) ? 1 : num_threads();
  float* bpack = scratch(kSlotB, ((std::min(n, NC) + NR - 1) / NR) * NR * std::min(k, KC));
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = std::min(NC, n - jc);
    const int64_t ns = (nc + NR - 1) / NR;  // B strips in this panel
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = std::min(KC, k - pc);
      const bool first = pc == 0;
      auto pack_strips = [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s)
          pack_b_strip(tb, b, ldb, pc, kc, jc + s * NR, (int)std::min<int64_t>(NR, nc - s * NR), bpack + s * NR * kc);
      };
      if (T > 1) parallel_chunks(ns, 4, pack_strips);
      else pack_strips(0, ns);

      const int64_t mb = (m + MC - 1) / MC;
      const int64_t jparts = T == 1 || mb >= 2 * T ? 1 : std::min<int64_t>(ns, (2 * T + mb - 1) / mb);
      auto item = [&](int64_t it) {
        const int64_t ib = it / jparts, jp = it % jparts;
        const int64_t i0 = ib * MC, mc = std::min(MC, m - i0);
        const int64_t s0 = ns * jp / jparts, s1 = ns * (jp + 1) / jparts;
        float* apack = scratch(kSlotA, ((mc + MR - 1) / MR) * MR * kc);
        pack_a(ta, a, lda, i0, mc, pc, kc, apack);
        vf acc[MR][2];
        for (int64_t s = s0; s < s1; ++s) {
          const int64_t j = jc + s * NR;
          const int nr = (int)std::min<int64_t>(NR, n - j);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            micro_kernel(kc, apack + ir * kc, bpack + s * NR * kc, acc);
            store_tile(c + (i0 + ir) * ldc + j, ldc, (int)std::min<int64_t>(MR, mc - ir), nr, acc, alpha, beta, first);
          }
        }
      };
      if (T > 1) parallel_for(mb * jparts, item);
      else for (int64_t it = 0; it < mb * jparts; ++it) item(it);
    }
  }
}

// ---------------------------------------------------------------- dispatch
// The builtin GEMM is the default: on the reference machine (bench/NOTES.md) it runs 3-4x faster than Debian's
// OpenBLAS 0.3.21, which does not recognise the CPU and falls back to its generic SSE3 kernels, and it uses the
// same OpenMP threads as every other kernel (OpenBLAS's own pthreads compete with them for the cores).
// MRIGAN_GEMM=openblas selects OpenBLAS at start-up (gemmBackend() switches at run time).
static bool g_use_blas = [] {
#ifdef MRIGAN_OPENBLAS
  const char* e = std::getenv("MRIGAN_GEMM");
  return e && std::string(e) == "openblas";
#else
  return false;
#endif
}();

const char* gemm_backend() { return g_use_blas ? "openblas" : "builtin"; }

bool gemm_set_backend(const char* name) {
  std::string s(name);
  if (s == "builtin") { g_use_blas = false; return true; }
#ifdef MRIGAN_OPENBLAS
  if (s == "openblas") { g_use_blas = true; return true; }
#endif
  return false;
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#ifdef MRIGAN_OPENBLAS
  // cblas takes 32-bit ints (Debian's OpenBLAS is LP64); larger problems go to the builtin GEMM.
  const int64_t big = std::max({m, n, k, lda, ldb, ldc});
  if (g_use_blas && big < INT_MAX) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_c(m, n, beta, c, ldc); return; }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    return;
  }
#endif
  gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace mrigan::cpu
