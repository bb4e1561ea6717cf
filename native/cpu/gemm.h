// The single-precision GEMM behind dense and matmul (private to native/cpu; conv runs the same register-tile kernel
// through gemm_kernel.h with its own packing). Row-major throughout:
// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, op = transpose when ta / tb. beta == 0 never reads C.
// Two implementations: OpenBLAS (when the build found it, MRIGAN_OPENBLAS) and gemm_builtin, a packed, blocked
// GEMM that is always compiled so it can be tested in every build (gemm_set_backend("builtin")).
#pragma once
#include <cstdint>

namespace mrigan::cpu {

// Packed Goto-style GEMM with an MR×NR register tile (AVX-512, AVX2 or SSE by the build's ISA).
// Splits its blocks over OpenMP threads, or runs serially when called inside a parallel region.
void gemm_builtin(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The GEMM kernels call: OpenBLAS if built with it and selected (MRIGAN_GEMM=openblas), else gemm_builtin (the
// default). Threads: OpenBLAS uses its own pool; gemm_builtin uses OpenMP unless already inside a parallel region.
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// "openblas" or "builtin". Selecting "openblas" in a build without it returns false.
const char* gemm_backend();
bool gemm_set_backend(const char* name);

// A grow-only, 64-byte aligned scratch buffer per thread and slot (slots let one thread hold several at once).
float* scratch(int slot, int64_t floats);

}  // namespace mrigan::cpu

namespace mrigan::cpu {
// Conv tuning knobs (conv.cc), exposed for tests and benchmarks: most output columns (pixels) per work tile, and the
// multiply-adds below which a conv runs on one thread, and the choice between the implicit-GEMM kernels and the
// direct (channel-blocked) kernels: kConvAuto picks per shape, the others force one where it supports the shape;
// and the Winograd tile (conv_wino.cc): 0 picks per pass and shape, 3 or 4 forces F(3×3, 2×2) or F(4×4, 2×2).
enum ConvKernel : int64_t { kConvAuto = 0, kConvGemm = 1, kConvDirect = 2, kConvWino = 3 };
struct ConvTuning {
  int64_t tile_cols, serial_macs, kernel, wino_tile;
};
ConvTuning conv_tuning();
void conv_set_tuning(const ConvTuning& t);
}  // namespace mrigan::cpu
