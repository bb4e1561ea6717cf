// Internal header of the CUDA convolutions (conv.cu and its kernel families): the epilogue activation, TF32 helpers,
// the two tile-math classes (SIMT fp32 register blocking, TF32 mma.sync), the kernel argument blocks and the algorithm
// table entry. The kernel families that use them: conv_gemm.cuh (implicit-GEMM kernels, instantiated per tile in
// conv_simt.cu and conv_tf32.cu), conv_direct.cu (direct and single-output-channel kernels); conv.cu chooses and
// launches. See conv.cu's header for the algorithms.
#pragma once
#include "cuda/common.cuh"
#include "cuda/conv.h"

namespace mrigan::cuda::conv {

// ---------------------------------------------------------------------------------------------------- helpers
__device__ __forceinline__ float apply_act(float v, int act, float slope) {
  switch (act) {
    case kActLeaky: return v > 0.f ? v : v * slope;
    case kActTanh: return tanhf(v);
    case kActSigmoid: return v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v));
    default: return v;
  }
}

// fp32 -> TF32 (round to nearest, ties away from zero), kept in a 32-bit register.
__device__ __forceinline__ float to_tf32(float x) {
#ifdef MRIGAN_CUDA_EMU
  uint32_t u = __float_as_uint(x);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  return __uint_as_float(u);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return __uint_as_float(r);
#else
  return x;
#endif
}

// D += A·B for one m16n8k8 TF32 fragment set (PTX ISA "Matrix Fragments for mma.m16n8k8", .tf32).
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef MRIGAN_CUDA_EMU
  emu::mma_m16n8k8_tf32(d, a, b);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  (void)d; (void)a; (void)b;  // never selected below sm_80 (host checks the compute capability)
#endif
}

// ---------------------------------------------------------------------------------------------------- tile math
// fp32 register blocking. Thread (tm, tn) owns rows {tm·4 + i%4 + (i/4)·BM/2} and cols likewise, so that its
// shared-memory reads are float4 and a warp's reads cover distinct banks. NFAST: consecutive threads step along
// N (backward-weight, whose output is contiguous along N) instead of M.
template <int BM_, int BN_, int BK_, int TM, int TN, bool NFAST>
struct Simt {
  static constexpr int BM = BM_, BN = BN_, BK = BK_;
  static constexpr int THREADS = (BM / TM) * (BN / TN);
  static constexpr int PAD = 4;  // keeps rows 16-byte aligned; see the store analysis in the header
  static constexpr bool MMA = false;
  static constexpr int MIN_BLOCKS = 2;  // ≤ 128 registers: two blocks (16 warps) per SM
  static constexpr int NR = TM, NC = TN;
  static constexpr int MSTEP = BM / (TM / 4), NSTEP = BN / (TN / 4);
  float acc[TM][TN];
  int tm, tn;
  __device__ __forceinline__ void init(int t) {
    if (NFAST) { tn = t % (BN / TN); tm = t / (BN / TN); }
    else { tm = t % (BM / TM); tn = t / (BM / TM); }
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
  }
  __device__ __forceinline__ int row(int i) const { return (i / 4) * MSTEP + tm * 4 + i % 4; }
  __device__ __forceinline__ int col(int j) const { return (j / 4) * NSTEP + tn * 4 + j % 4; }
  __device__ __forceinline__ float val(int i, int j) const { return acc[i][j]; }
  __device__ __forceinline__ void compute(const float (*As)[BM + PAD], const float (*Bs)[BN + PAD]) {
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b[TN];
#pragma unroll
      for (int q = 0; q < TM / 4; ++q) {
        float4 v = *reinterpret_cast<const float4*>(&As[kk][q * MSTEP + tm * 4]);
        a[4 * q] = v.x; a[4 * q + 1] = v.y; a[4 * q + 2] = v.z; a[4 * q + 3] = v.w;
      }
#pragma unroll
      for (int q = 0; q < TN / 4; ++q) {
        float4 v = *reinterpret_cast<const float4*>(&Bs[kk][q * NSTEP + tn * 4]);
        b[4 * q] = v.x; b[4 * q + 1] = v.y; b[4 * q + 2] = v.z; b[4 * q + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
  }
  __device__ __forceinline__ static float prep(float v) { return v; }
};

// TF32 tensor cores. WARPS_M × WARPS_N warps; warp w owns rows wm.. wm+WTM, cols wn.. wn+WTN as MT × NT m16n8 tiles.
// Lane (g = lane/4, q = lane%4) holds A[g][q], A[g+8][q], A[g][q+4], A[g+8][q+4], B[q][g], B[q+4][g] and
// C[g][2q], C[g][2q+1], C[g+8][2q], C[g+8][2q+1] of each tile.
template <int BM_, int BN_, int BK_, int WARPS_M, int WARPS_N>
struct Mma {
  static constexpr int BM = BM_, BN = BN_, BK = BK_;
  static constexpr int THREADS = WARPS_M * WARPS_N * 32;
  static constexpr int PAD = 8;  // row stride ≡ 8 (mod 32) banks: conflict-free fragment loads
  static constexpr bool MMA = true;
  static constexpr int MIN_BLOCKS = 2;
  static constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N, MT = WTM / 16, NT = WTN / 8;
  static constexpr int NR = 2 * MT, NC = 2 * NT;
  float acc[MT][NT][4];
  int wm, wn, g, q;
  __device__ __forceinline__ void init(int t) {
    int warp = t / 32, lane = t % 32;
    wm = (warp % WARPS_M) * WTM;
    wn = (warp / WARPS_M) * WTN;
    g = lane / 4;
    q = lane % 4;
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
      for (int j = 0; j < NT; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;
  }
  __device__ __forceinline__ int row(int ri) const { return wm + (ri / 2) * 16 + g + 8 * (ri % 2); }
  __device__ __forceinline__ int col(int ci) const { return wn + (ci / 2) * 8 + 2 * q + (ci % 2); }
  __device__ __forceinline__ float val(int ri, int ci) const { return acc[ri / 2][ci / 2][(ri % 2) * 2 + (ci % 2)]; }
  __device__ __forceinline__ void compute(const float (*As)[BM + PAD], const float (*Bs)[BN + PAD]) {
#pragma unroll
    for (int k8 = 0; k8 < BK; k8 += 8) {
      uint32_t a[MT][4], b[NT][2];
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        int r = wm + i * 16 + g;
        a[i][0] = __float_as_uint(As[k8 + q][r]);
        a[i][1] = __float_as_uint(As[k8 + q][r + 8]);
        a[i][2] = __float_as_uint(As[k8 + q + 4][r]);
        a[i][3] = __float_as_uint(As[k8 + q + 4][r + 8]);
      }
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        int c = wn + j * 8 + g;
        b[j][0] = __float_as_uint(Bs[k8 + q][c]);
        b[j][1] = __float_as_uint(Bs[k8 + q + 4][c]);
      }
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j) mma_tf32(acc[i][j], a[i], b[j]);
    }
  }
  __device__ __forceinline__ static float prep(float v) { return to_tf32(v); }
};

// ---------------------------------------------------------------------------------------------------- kernel arguments
// ---------------------------------------------------------------------------------------------------- dgrad-like
constexpr int kMaxPhases = 16;

// One dense GEMM of the forward / backward-data family. Output pixel (i, j) of image n of this phase reads src rows
// i·in_mul_h + in_off_h + t·tap_h for taps t < TR (cols likewise) and is written to dst pixel
// out_off + i·out_mul_h + j·out_mul_w; tap (t, u) uses weight element w_off + t·w_th + u·w_tw.
struct Phase {
  int M, K;                 // N·OH·OW rows, SC·TR·TS reduction length
  FastDiv ohow, ow;         // m -> (n, i, j)
  FastDiv trts, ts;         // kk -> (sc, t, u)
  int TR, TS;
  int in_mul_h, in_mul_w, in_off_h, in_off_w, tap_h, tap_w;
  int w_off, w_th, w_tw;
  int out_off, out_mul_h, out_mul_w;
};

struct DgradArgs {
  const float* src;
  const float* w;
  float* dst;
  const float* bias;
  float* part;             // split-K partials [splits][dst_numel], or null
  int SC, SH, SW, SHW;     // src channels and plane
  int DC, DHW;             // dst channels and plane size
  int wj, wsc;             // weight strides of dst channel j and src channel sc
  int splits, dst_numel;
  int vec_store;           // one contiguous phase with plane % 4 == 0 and aligned dst: float4 epilogue (SIMT)
  int act;
  float slope;
  int nphase;
  Phase ph[kMaxPhases];
};
static_assert(sizeof(DgradArgs) <= 4000, "kernel parameter block over 4 KB");

struct WgradArgs {
  const float* dy;
  const float* x;
  float* dw;
  float* part;              // [splits][K·CRS] or null
  int K, C, H, W, P, Q;
  int sh, sw, pt, pl;
  int PQ, HW, CHW, KPQ, CRS, Ntot;
  FastDiv pq, q, rs, s;
  int splits;
};

// Single output channel kernel (conv_direct.cu): threads per block and the reduction slice staged in shared memory.
constexpr int kN1Threads = 256, kN1Chunk = 2048;

// ---------------------------------------------------------------------------------------------------- algorithms
using DgradFn = void (*)(const DgradArgs);
using WgradFn = void (*)(const WgradArgs);

struct Algo {
  const char* name;
  bool tf32;
  int BM, BN, BK, threads;
  DgradFn dgrad, dgrad_vec;   // dgrad_vec: float4 weight loads (null when the tile has < 4 per thread)
  WgradFn wgrad, wgrad_vec;
};

// The algorithm table, index = the public conv algorithm index (cudaConvAlgos order); conv.cu assembles it from the
// families. Index 0 is the direct kernel (no tile).
enum AlgoIndex : int {
  kDirect = 0, kSimt128x128, kSimt128x64, kSimt64x128, kSimt64x64, kSimt128x32,
  kTf32_128x128, kTf32_128x64, kTf32_64x128, kTf32_64x64, kN1, kSimt32x32, kNumAlgos
};
Algo simt_algo(int index);   // conv_simt.cu: kSimt*
Algo tf32_algo(int index);   // conv_tf32.cu: kTf32_*
Algo direct_algo(int index); // conv_direct.cu: kDirect (no kernels: conv.cu calls direct_*), kN1

// The direct passes (conv_direct.cu): one thread per output element, int64 indexing.
void direct_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope);
void direct_backward_data(const float* dy, const float* w, const float* b, float* dx, const ConvShape& s, int act,
                          float slope);
void direct_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s);

}  // namespace mrigan::cuda::conv
