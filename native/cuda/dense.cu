// Dense (PyTorch Linear) and the general row-major GEMM on the GPU (twins of native/cpu/dense.cc).
//   C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C     (beta = 0: C is not read, as in BLAS)
// Kernel: classic shared-memory tiled SGEMM. Block tile 64 × 64, k-step 16, 256 threads, each thread a 4 × 4 register
// block (rows ty·4.., cols tx·4.., so a warp's stores are 16 consecutive float4 along a row of C). Global loads are
// mapped per transpose case so that consecutive threads read consecutive addresses; tiles are stored k-major in
// shared memory so the inner loop reads one float4 of A and one of B per k.
// Split-K: when the output has few tiles but k is long (a Dense(1) head: m = batch, n = 1, k = 16384), the k range
// is cut into slices whose partial tiles go to scratch and a second kernel adds them in slice order (deterministic).
// Dense layers are a small share of a GAN step, so this kernel is the simple fp32 one for every case.
#include "cuda/common.cuh"

namespace mrigan::cuda {

static constexpr int BM = 64, BN = 64, BK = 16;

template <bool TA, bool TB>
__global__ void __launch_bounds__(256) gemm_kernel(int64_t m, int64_t n, int64_t k, float alpha, const float* __restrict__ a,
                                                   int64_t lda, const float* __restrict__ b, int64_t ldb, float beta,
                                                   float* __restrict__ c, int64_t ldc, int64_t kslice, float* __restrict__ part) {
  __shared__ __align__(16) float As[BK][BM];
  __shared__ __align__(16) float Bs[BK][BN];
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int64_t row0 = (int64_t)blockIdx.y * BM, col0 = (int64_t)blockIdx.x * BN;
  const int64_t k_lo = (int64_t)blockIdx.z * kslice, k_hi = k_lo + kslice < k ? k_lo + kslice : k;
  float acc[4][4] = {};
  for (int64_t k0 = k_lo; k0 < k_hi; k0 += BK) {
    // A tile [BM rows][BK] -> As[kk][row]
    for (int e = 0; e < 4; ++e) {
      int kk, r;
      if (!TA) { kk = t % 16; r = t / 16 + 16 * e; }   // row-major A: consecutive threads along k
      else { r = t % 64; kk = t / 64 + 4 * e; }         // A stored [k][m]: consecutive threads along m
      int64_t gi = row0 + r, gk = k0 + kk;
      float v = 0.f;
      if (gi < m && gk < k_hi) v = TA ? a[gk * lda + gi] : a[gi * lda + gk];
      As[kk][r] = v;
    }
    // B tile [BK][BN] -> Bs[kk][col]
    for (int e = 0; e < 4; ++e) {
      int kk, cc;
      if (!TB) { cc = t % 64; kk = t / 64 + 4 * e; }    // row-major B [k][n]: along n
      else { kk = t % 16; cc = t / 16 + 16 * e; }       // B stored [n][k]: along k
      int64_t gj = col0 + cc, gk = k0 + kk;
      float v = 0.f;
      if (gj < n && gk < k_hi) v = TB ? b[gj * ldb + gk] : b[gk * ldb + gj];
      Bs[kk][cc] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float4 av = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
      float4 bv = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
      float ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i) {
    int64_t gi = row0 + ty * 4 + i;
    if (gi >= m) continue;
    for (int j = 0; j < 4; ++j) {
      int64_t gj = col0 + tx * 4 + j;
      if (gj >= n) continue;
      if (part) part[((int64_t)blockIdx.z * m + gi) * n + gj] = acc[i][j];
      else c[gi * ldc + gj] = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[gi * ldc + gj];
    }
  }
}

__global__ void gemm_splitk_reduce(const float* __restrict__ part, int splits, int64_t m, int64_t n, float alpha, float beta,
                                   float* __restrict__ c, int64_t ldc) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < m * n; e += (int64_t)gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[z * m * n + e];
    int64_t i = e / n, j = e % n;
    c[i * ldc + j] = beta == 0.f ? alpha * s : alpha * s + beta * c[i * ldc + j];
  }
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  use_device_of(c);
  if (k <= 0) {  // C = beta C
    if (beta == 0.f) {
      for (int64_t i = 0; i < m; ++i) CUDA_CHECK(cudaMemsetAsync(c + i * ldc, 0, n * sizeof(float), stream()));
    } else if (beta != 1.f) {
      for (int64_t i = 0; i < m; ++i) scale(c + i * ldc, c + i * ldc, (size_t)n, beta);
    }
    return;
  }
  MRIGAN_CHECK((m + BM - 1) / BM <= 65535, "gemm on the GPU: m = ", m, " is over 65535·64 rows");
  int64_t tiles = ((m + BM - 1) / BM) * ((n + BN - 1) / BN);
  int splits = 1;
  if (tiles < 64 && k >= 1024) {
    int64_t s = k / 512;
    int64_t cap = 256 / tiles;
    if (s > cap) s = cap;
    if (s > 64) s = 64;
    splits = (int)(s < 1 ? 1 : s);
  }
  int64_t kslice = (k + splits - 1) / splits;
  kslice = (kslice + BK - 1) / BK * BK;
  splits = (int)((k + kslice - 1) / kslice);
  dim3 grid((unsigned)((n + BN - 1) / BN), (unsigned)((m + BM - 1) / BM), (unsigned)splits);
  auto kern = ta ? (tb ? gemm_kernel<true, true> : gemm_kernel<true, false>) : (tb ? gemm_kernel<false, true> : gemm_kernel<false, false>);
  if (splits == 1) {
    launch("gemm", kern, grid, 256, 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, kslice, (float*)nullptr);
  } else {
    Scratch part((size_t)splits * m * n, current_device());
    launch("gemm_splitk", kern, grid, 256, 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, kslice, part.p);
    launch("gemm_splitk_reduce", gemm_splitk_reduce, grid_for((size_t)(m * n), 256), 256, 0, (const float*)part.p, splits, m, n,
           alpha, beta, c, ldc);
  }
}

// y[n, out] = x[n, in] · w[out, in]ᵀ + b
void dense_forward(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in, int64_t out) {
  gemm(false, true, n, out, in, 1.f, x, in, w, in, 0.f, y, out);
  if (b) bias_add(y, b, n, out, 1);
}
// dx[n, in] = dy[n, out] · w[out, in]
void dense_backward_data(const float* dy, const float* w, float* dx, int64_t n, int64_t in, int64_t out) {
  gemm(false, false, n, in, out, 1.f, dy, out, w, in, 0.f, dx, in);
}
// dw[out, in] += dy[n, out]ᵀ · x[n, in]
void dense_backward_weight(const float* dy, const float* x, float* dw, int64_t n, int64_t in, int64_t out) {
  gemm(true, false, out, in, n, 1.f, dy, out, x, in, 1.f, dw, in);
}

}  // namespace mrigan::cuda
