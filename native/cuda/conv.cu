// Conv2d forward / backward-data / backward-weight on the GPU (twins of native/cpu/conv.cc), PyTorch semantics:
// x [n, c, h, w], weight OIHW [k, c, r, s], y [n, k, p, q]; any kernel size, stride and (asymmetric) padding.
//
// All three passes are implicit GEMMs: the im2col matrix is never stored, each tile of it is gathered from the
// NCHW tensor straight into shared memory.
//   forward          C[m = (n,p,q), j = k]   = Σ_{kk = (c,r,s)}  x[n, c, p·sh − pt + r, q·sw − pl + s] · w[k, c, r, s]
//   backward-data    split by stride phase (h mod sh, w mod sw): in phase (φh, φw) only the taps r ≡ φh + pt (mod sh)
//                    reach an output row, so each phase is a dense GEMM with ⌈R/sh⌉·⌈S/sw⌉ taps and no zero insertion:
//                    C[m = (n,i,j), j' = c] = Σ_{kk = (k,t,u)} dy[n, k, i + dφh − t, j + dφw − u] · w[k, c, r0 + t·sh, s0 + u·sw]
//                    written to dx[n, c, φh + i·sh, φw + j·sw]. Phases are blockIdx.z of one launch.
//   backward-weight  C[m = k, j = (c,r,s)] += Σ_{kk = (n,p,q)} dy[n, k, p, q] · x[n, c, p·sh − pt + r, q·sw − pl + s]
// Forward and backward-data share one kernel (conv_dgrad_kernel: "gather a window of src, multiply by a weight
// slice, scatter to dst"); backward-weight has its own (conv_wgrad_kernel) because its reduction runs over pixels.
//
// Kernel shape (llm.c / CUTLASS style): a block computes a BM × BN tile of C with a k-loop of BK-deep slices.
// Each slice of A and B is loaded from global memory into registers (the next slice is fetched while the current
// one is multiplied), then stored k-major into double-buffered shared memory, one __syncthreads per slice.
//   fp32 (SIMT): each thread owns a TM × TN register block, read from shared memory as float4 (LDS.128).
//   TF32 (mma.sync.m16n8k8): each warp owns a WTM × WTN tile of m16n8 fragments; values are rounded to TF32
//   (cvt.rna) when stored to shared memory; shared rows are padded by 8 floats so fragment loads are bank-conflict
//   free. Accumulation is fp32 in both.
// 16-byte global loads where the layout allows: weight rows in forward (contiguous along (c,r,s) when C·R·S % 4 = 0)
// and dy rows in backward-weight (contiguous along (p,q) when P·Q % 4 = 0).
// Split-K: when the output has too few tiles to fill the GPU (deep layers at small batch; every backward-weight),
// gridDim.z also splits the reduction; partial tiles go to scratch laid out like the output and a second kernel adds
// the slices in order (deterministic) and applies bias/activation (or accumulates into dw).
// Epilogue: bias + activation (none / LeakyReLU / tanh / sigmoid) in the output write.
// Algorithms: "direct" (one thread per output element, int64 indexing: the reference and the fallback for tensors
// over 2^31 elements), SIMT tiles 128×128, 128×64, 64×128, 64×64, 128×32, TF32 tiles 128×128, 128×64, 64×128,
// 64×64, "n1" for a single output channel (forward / backward-data with N = 1: one thread per output pixel), and a
// 32×32 SIMT tile of 64 threads for small outputs with long reductions. The first call of each shape times the eligible ones (like cudnn.benchmark; MRIGAN_CONV_AUTOTUNE=0 uses
// a size heuristic instead); set_conv_algo() forces one for tests and benchmarks.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/conv.h"

namespace mrigan::cuda {
namespace conv {

// ---------------------------------------------------------------------------------------------------- helpers
__device__ __forceinline__ float apply_act(float v, int act, float slope) {
  switch (act) {
    case kLeaky: return v > 0.f ? v : v * slope;
    case kTanh: return tanhf(v);
    case kSigmoid: return v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v));
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

template <class T, bool VEC>
__global__ void __launch_bounds__(T::THREADS, T::MIN_BLOCKS) conv_dgrad_kernel(const DgradArgs args) {
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, THREADS = T::THREADS, PAD = T::PAD;
  constexpr int APT = BM * BK / THREADS, BPT = BK * BN / THREADS;
  static_assert(THREADS % BM == 0 && BK % BPT == 0, "tile shape");
  __shared__ __align__(16) float As[2][BK][BM + PAD];
  __shared__ __align__(16) float Bs[2][BK][BN + PAD];

  const int phase = blockIdx.z / args.splits, split = blockIdx.z % args.splits;
  const Phase& P = args.ph[phase];
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  if (m0 >= P.M) return;
  const int t = threadIdx.x;
  int kslice = (P.K + args.splits - 1) / args.splits;
  kslice = (kslice + BK - 1) / BK * BK;
  const int kbeg = split * kslice, kend = kbeg + kslice < P.K ? kbeg + kslice : P.K;

  // A: this thread gathers row m0 + (t % BM), reduction indices kk0 + (t / BM)·APT + e.
  const int a_m = m0 + t % BM, a_k = (t / BM) * APT;
  const bool a_ok = a_m < P.M;
  const float* a_src;
  int a_h, a_w;
  {
    uint32_t img, rem, i, j;
    P.ohow.divmod(a_ok ? a_m : 0, img, rem);
    P.ow.divmod(rem, i, j);
    a_src = args.src + (size_t)img * args.SC * args.SHW;
    a_h = (int)i * P.in_mul_h + P.in_off_h;
    a_w = (int)j * P.in_mul_w + P.in_off_w;
  }
  // B: this thread loads dst channel n0 + t / (BK/BPT), reduction indices kk0 + (t % (BK/BPT))·BPT + e.
  const int b_n = n0 + t / (BK / BPT), b_k = (t % (BK / BPT)) * BPT;
  const bool b_ok = b_n < args.DC;
  const float* b_w = args.w + (size_t)(b_ok ? b_n : 0) * args.wj;

  float ra[APT], rb[BPT];
  auto load = [&](int k0) {
    {
      uint32_t sc, rem, tt, uu;
      int kk = k0 + a_k;
      P.trts.divmod(kk < kend ? kk : 0, sc, rem);
      P.ts.divmod(rem, tt, uu);
#pragma unroll
      for (int e = 0; e < APT; ++e) {
        int h = a_h + (int)tt * P.tap_h, w = a_w + (int)uu * P.tap_w;
        bool ok = a_ok && kk + e < kend && (unsigned)h < (unsigned)args.SH && (unsigned)w < (unsigned)args.SW;
        ra[e] = ok ? __ldg(a_src + sc * args.SHW + h * args.SW + w) : 0.f;
        if (++uu == (uint32_t)P.TS) { uu = 0; if (++tt == (uint32_t)P.TR) { tt = 0; ++sc; } }
      }
    }
    {
      int kk = k0 + b_k;
      if (VEC) {  // forward: the weight row is contiguous along kk and K % 4 == 0
#pragma unroll
        for (int e = 0; e < BPT; e += 4) {
          float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
          if (b_ok && kk + e < kend) v = ld4(b_w + kk + e);
          rb[e] = v.x; rb[e + 1] = v.y; rb[e + 2] = v.z; rb[e + 3] = v.w;
        }
      } else {
        uint32_t sc, rem, tt, uu;
        P.trts.divmod(kk < kend ? kk : 0, sc, rem);
        P.ts.divmod(rem, tt, uu);
#pragma unroll
        for (int e = 0; e < BPT; ++e) {
          bool ok = b_ok && kk + e < kend;
          rb[e] = ok ? __ldg(b_w + sc * args.wsc + P.w_off + (int)tt * P.w_th + (int)uu * P.w_tw) : 0.f;
          if (++uu == (uint32_t)P.TS) { uu = 0; if (++tt == (uint32_t)P.TR) { tt = 0; ++sc; } }
        }
      }
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int e = 0; e < APT; ++e) As[buf][a_k + e][t % BM] = T::prep(ra[e]);
#pragma unroll
    for (int e = 0; e < BPT; ++e) Bs[buf][b_k + e][t / (BK / BPT)] = T::prep(rb[e]);
  };

  T tile;
  tile.init(t);
  if (kbeg < kend) {
    load(kbeg);
    store(0);
    __syncthreads();
    int buf = 0;
    for (int k0 = kbeg; k0 < kend; k0 += BK) {
      bool more = k0 + BK < kend;
      if (more) load(k0 + BK);
      tile.compute(As[buf], Bs[buf]);
      if (more) store(buf ^ 1);
      __syncthreads();
      buf ^= 1;
    }
  }

  // Epilogue: scatter to dst (or the split-K scratch, laid out like dst).
  if constexpr (!T::MMA) {
    // A SIMT thread owns runs of 4 consecutive rows; when the output plane is contiguous (one phase, stride-1 scatter)
    // and a multiple of 4, each run is one aligned float4 of dst: 16-byte stores, a warp writing 256 contiguous bytes.
    if (args.vec_store) {
#pragma unroll
      for (int rg = 0; rg < T::NR; rg += 4) {
        int m = m0 + tile.row(rg);
        if (m >= P.M) continue;  // M % 4 == 0, so m + 3 < M
        uint32_t img, rem;
        P.ohow.divmod(m, img, rem);
        int base = (int)img * args.DC * args.DHW + (int)rem;
#pragma unroll
        for (int ci = 0; ci < T::NC; ++ci) {
          int n = n0 + tile.col(ci);
          if (n >= args.DC) continue;
          int off = base + n * args.DHW;
          float4 v = make_float4(tile.val(rg, ci), tile.val(rg + 1, ci), tile.val(rg + 2, ci), tile.val(rg + 3, ci));
          if (args.part) {
            st4(args.part + (size_t)split * args.dst_numel + off, v);
          } else {
            float b = args.bias ? args.bias[n] : 0.f;
            v.x = apply_act(v.x + b, args.act, args.slope);
            v.y = apply_act(v.y + b, args.act, args.slope);
            v.z = apply_act(v.z + b, args.act, args.slope);
            v.w = apply_act(v.w + b, args.act, args.slope);
            st4(args.dst + off, v);
          }
        }
      }
      return;
    }
  }
#pragma unroll
  for (int ri = 0; ri < T::NR; ++ri) {
    int m = m0 + tile.row(ri);
    if (m >= P.M) continue;
    uint32_t img, rem, i, j;
    P.ohow.divmod(m, img, rem);
    P.ow.divmod(rem, i, j);
    int base = (int)img * args.DC * args.DHW + P.out_off + (int)i * P.out_mul_h + (int)j * P.out_mul_w;
#pragma unroll
    for (int ci = 0; ci < T::NC; ++ci) {
      int n = n0 + tile.col(ci);
      if (n >= args.DC) continue;
      int off = base + n * args.DHW;
      float v = tile.val(ri, ci);
      if (args.part) {
        args.part[(size_t)split * args.dst_numel + off] = v;
      } else {
        if (args.bias) v += args.bias[n];
        args.dst[off] = apply_act(v, args.act, args.slope);
      }
    }
  }
}

__global__ void dgrad_reduce_kernel(const float* __restrict__ part, int splits, int numel, int DHW, int DC,
                                    const float* __restrict__ bias, int act, float slope, float* __restrict__ dst) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < numel; e += gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[(size_t)z * numel + e];
    if (bias) s += bias[(e / DHW) % DC];
    dst[e] = apply_act(s, act, slope);
  }
}

// One output channel (G7's conv-transpose to the image, D1's backward-data, a 1-filter head): the GEMM has N = 1, so
// a tile would waste all but one of its columns. Here each thread owns one output pixel and walks its reduction
// slice; the slice's weights are staged in shared memory (one per reduction index), and neighbouring threads gather
// neighbouring pixels (coalesced). Split-K and phases exactly as conv_dgrad_kernel (blockIdx.z).
constexpr int kN1Threads = 256, kN1Chunk = 2048;
__global__ void __launch_bounds__(kN1Threads) conv_dgrad_n1_kernel(const DgradArgs args) {
  __shared__ float ws[kN1Chunk];
  const int phase = blockIdx.z / args.splits, split = blockIdx.z % args.splits;
  const Phase& P = args.ph[phase];
  const int m = blockIdx.x * kN1Threads + threadIdx.x;
  if (blockIdx.x * kN1Threads >= P.M) return;  // block-uniform
  int kslice = (P.K + args.splits - 1) / args.splits;
  kslice = (kslice + 31) / 32 * 32;
  const int kbeg = split * kslice, kend = kbeg + kslice < P.K ? kbeg + kslice : P.K;
  const bool ok = m < P.M;
  uint32_t img = 0, i = 0, j = 0;
  {
    uint32_t rem;
    P.ohow.divmod(ok ? m : 0, img, rem);
    P.ow.divmod(rem, i, j);
  }
  const float* src = args.src + (size_t)img * args.SC * args.SHW;
  const int hb = (int)i * P.in_mul_h + P.in_off_h, wb = (int)j * P.in_mul_w + P.in_off_w;
  float acc = 0.f;
  for (int k0 = kbeg; k0 < kend; k0 += kN1Chunk) {
    const int kn = kend - k0 < kN1Chunk ? kend - k0 : kN1Chunk;
    __syncthreads();
    for (int e = threadIdx.x; e < kn; e += kN1Threads) {
      uint32_t sc, rem, tt, uu;
      P.trts.divmod(k0 + e, sc, rem);
      P.ts.divmod(rem, tt, uu);
      ws[e] = __ldg(args.w + sc * args.wsc + P.w_off + (int)tt * P.w_th + (int)uu * P.w_tw);
    }
    __syncthreads();
    if (ok) {
      uint32_t sc, rem, tt, uu;
      P.trts.divmod(k0, sc, rem);
      P.ts.divmod(rem, tt, uu);
      for (int e = 0; e < kn; ++e) {
        int h = hb + (int)tt * P.tap_h, w = wb + (int)uu * P.tap_w;
        if ((unsigned)h < (unsigned)args.SH && (unsigned)w < (unsigned)args.SW)
          acc = fmaf(__ldg(src + sc * args.SHW + h * args.SW + w), ws[e], acc);
        if (++uu == (uint32_t)P.TS) { uu = 0; if (++tt == (uint32_t)P.TR) { tt = 0; ++sc; } }
      }
    }
  }
  if (!ok) return;
  int off = (int)img * args.DHW + P.out_off + (int)i * P.out_mul_h + (int)j * P.out_mul_w;  // DC = 1
  if (args.part) {
    args.part[(size_t)split * args.dst_numel + off] = acc;
  } else {
    if (args.bias) acc += args.bias[0];
    args.dst[off] = apply_act(acc, args.act, args.slope);
  }
}

// ---------------------------------------------------------------------------------------------------- wgrad
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

template <class T, bool VEC>
__global__ void __launch_bounds__(T::THREADS, T::MIN_BLOCKS) conv_wgrad_kernel(const WgradArgs args) {
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, THREADS = T::THREADS, PAD = T::PAD;
  constexpr int APT = BM * BK / THREADS, BPT = BK * BN / THREADS;
  static_assert(THREADS % BN == 0 && BK % APT == 0, "tile shape");
  __shared__ __align__(16) float As[2][BK][BM + PAD];
  __shared__ __align__(16) float Bs[2][BK][BN + PAD];

  const int split = blockIdx.z;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int t = threadIdx.x;
  int kslice = (args.Ntot + args.splits - 1) / args.splits;
  kslice = (kslice + BK - 1) / BK * BK;
  const int kbeg = split * kslice, kend = kbeg + kslice < args.Ntot ? kbeg + kslice : args.Ntot;

  // A = dy: row (filter) m0 + t / (BK/APT), reduction indices (n, p, q) kk0 + (t % (BK/APT))·APT + e.
  const int a_m = m0 + t / (BK / APT), a_k = (t % (BK / APT)) * APT;
  const bool a_ok = a_m < args.K;
  const float* a_dy = args.dy + (size_t)(a_ok ? a_m : 0) * args.PQ;
  // B = x gathered: column (c, r, s) n0 + t % BN fixed per thread, reduction indices kk0 + (t / BN)·BPT + e.
  const int b_n = n0 + t % BN, b_k = (t / BN) * BPT;
  const bool b_ok = b_n < args.CRS;
  int b_coff, b_dh, b_dw;
  {
    uint32_t c, rs, r, s;
    args.rs.divmod(b_ok ? b_n : 0, c, rs);
    args.s.divmod(rs, r, s);
    b_coff = (int)c * args.HW;
    b_dh = (int)r - args.pt;
    b_dw = (int)s - args.pl;
  }

  float ra[APT], rb[BPT];
  auto load = [&](int k0) {
    {
      int kk = k0 + a_k;
      uint32_t img, pq;
      args.pq.divmod(kk < kend ? kk : 0, img, pq);
      if (VEC) {  // P·Q % 4 == 0: four consecutive (p, q) of one image are contiguous and 16-byte aligned
#pragma unroll
        for (int e = 0; e < APT; e += 4) {
          float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
          if (a_ok && kk + e < kend) v = ld4(a_dy + (size_t)img * args.KPQ + pq);
          ra[e] = v.x; ra[e + 1] = v.y; ra[e + 2] = v.z; ra[e + 3] = v.w;
          pq += 4;
          if (pq == (uint32_t)args.PQ) { pq = 0; ++img; }
        }
      } else {
#pragma unroll
        for (int e = 0; e < APT; ++e) {
          bool ok = a_ok && kk + e < kend;
          ra[e] = ok ? __ldg(a_dy + (size_t)img * args.KPQ + pq) : 0.f;
          if (++pq == (uint32_t)args.PQ) { pq = 0; ++img; }
        }
      }
    }
    {
      int kk = k0 + b_k;
      uint32_t img, pq, p, q;
      args.pq.divmod(kk < kend ? kk : 0, img, pq);
      args.q.divmod(pq, p, q);
#pragma unroll
      for (int e = 0; e < BPT; ++e) {
        int h = (int)p * args.sh + b_dh, w = (int)q * args.sw + b_dw;
        bool ok = b_ok && kk + e < kend && (unsigned)h < (unsigned)args.H && (unsigned)w < (unsigned)args.W;
        rb[e] = ok ? __ldg(args.x + (size_t)img * args.CHW + b_coff + h * args.W + w) : 0.f;
        if (++q == (uint32_t)args.Q) { q = 0; if (++p == (uint32_t)args.P) { p = 0; ++img; } }
      }
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int e = 0; e < APT; ++e) As[buf][a_k + e][t / (BK / APT)] = T::prep(ra[e]);
#pragma unroll
    for (int e = 0; e < BPT; ++e) Bs[buf][b_k + e][t % BN] = T::prep(rb[e]);
  };

  T tile;
  tile.init(t);
  if (kbeg < kend) {
    load(kbeg);
    store(0);
    __syncthreads();
    int buf = 0;
    for (int k0 = kbeg; k0 < kend; k0 += BK) {
      bool more = k0 + BK < kend;
      if (more) load(k0 + BK);
      tile.compute(As[buf], Bs[buf]);
      if (more) store(buf ^ 1);
      __syncthreads();
      buf ^= 1;
    }
  }

#pragma unroll
  for (int ri = 0; ri < T::NR; ++ri) {
    int m = m0 + tile.row(ri);
    if (m >= args.K) continue;
#pragma unroll
    for (int ci = 0; ci < T::NC; ++ci) {
      int n = n0 + tile.col(ci);
      if (n >= args.CRS) continue;
      int off = m * args.CRS + n;
      if (args.part) args.part[(size_t)split * args.K * args.CRS + off] = tile.val(ri, ci);
      else args.dw[off] += tile.val(ri, ci);
    }
  }
}

__global__ void wgrad_reduce_kernel(const float* __restrict__ part, int splits, int numel, float* __restrict__ dw) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < numel; e += gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[(size_t)z * numel + e];
    dw[e] += s;
  }
}

// ---------------------------------------------------------------------------------------------------- direct
// One thread per output element, int64 indices: the readable reference and the fallback for huge tensors.
__global__ void direct_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                                      float* __restrict__ y, ConvShape s, int act, float slope) {
  int64_t total = s.n * s.k * s.p * s.q;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t q = e % s.q, p = (e / s.q) % s.p, k = (e / (s.q * s.p)) % s.k, n = e / (s.q * s.p * s.k);
    float acc = 0.f;
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t r = 0; r < s.r; ++r) {
        int64_t h = p * s.stride_h - s.pad_t + r;
        if (h < 0 || h >= s.h) continue;
        for (int64_t u = 0; u < s.s; ++u) {
          int64_t wc = q * s.stride_w - s.pad_l + u;
          if (wc < 0 || wc >= s.w) continue;
          acc = fmaf(x[((n * s.c + c) * s.h + h) * s.w + wc], w[((k * s.c + c) * s.r + r) * s.s + u], acc);
        }
      }
    if (b) acc += b[k];
    y[e] = apply_act(acc, act, slope);
  }
}

__global__ void direct_backward_data_kernel(const float* __restrict__ dy, const float* __restrict__ w,
                                            const float* __restrict__ b, float* __restrict__ dx, ConvShape s, int act,
                                            float slope) {
  int64_t total = s.n * s.c * s.h * s.w;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t wc = e % s.w, h = (e / s.w) % s.h, c = (e / (s.w * s.h)) % s.c, n = e / (s.w * s.h * s.c);
    float acc = 0.f;
    for (int64_t k = 0; k < s.k; ++k)
      for (int64_t r = 0; r < s.r; ++r) {
        int64_t ph = h + s.pad_t - r;
        if (ph < 0 || ph % s.stride_h) continue;
        int64_t p = ph / s.stride_h;
        if (p >= s.p) continue;
        for (int64_t u = 0; u < s.s; ++u) {
          int64_t qw = wc + s.pad_l - u;
          if (qw < 0 || qw % s.stride_w) continue;
          int64_t q = qw / s.stride_w;
          if (q >= s.q) continue;
          acc = fmaf(dy[((n * s.k + k) * s.p + p) * s.q + q], w[((k * s.c + c) * s.r + r) * s.s + u], acc);
        }
      }
    if (b) acc += b[c];
    dx[e] = apply_act(acc, act, slope);
  }
}

// One block per weight element (grid-stride over them); threads stride over (n, p, q).
__global__ void direct_backward_weight_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                              float* __restrict__ dw, ConvShape s) {
  __shared__ double red[32];
  for (int64_t e = blockIdx.x; e < s.k * s.c * s.r * s.s; e += gridDim.x) {
    int64_t u = e % s.s, r = (e / s.s) % s.r, c = (e / (s.s * s.r)) % s.c, k = e / (s.s * s.r * s.c);
    float acc = 0.f;
    for (int64_t i = threadIdx.x; i < s.n * s.p * s.q; i += blockDim.x) {
      int64_t q = i % s.q, p = (i / s.q) % s.p, n = i / (s.q * s.p);
      int64_t h = p * s.stride_h - s.pad_t + r, wc = q * s.stride_w - s.pad_l + u;
      if (h < 0 || h >= s.h || wc < 0 || wc >= s.w) continue;
      acc = fmaf(dy[((n * s.k + k) * s.p + p) * s.q + q], x[((n * s.c + c) * s.h + h) * s.w + wc], acc);
    }
    double t = block_sum((double)acc, red);
    if (threadIdx.x == 0) dw[e] += (float)t;
  }
}

// ---------------------------------------------------------------------------------------------------- algorithms
using S128x128 = Simt<128, 128, 8, 8, 8, false>;
using S128x64 = Simt<128, 64, 8, 8, 4, false>;
using S64x128 = Simt<64, 128, 8, 4, 8, false>;
using S64x64 = Simt<64, 64, 16, 4, 4, false>;
using S128x32 = Simt<128, 32, 8, 4, 4, false>;
using S32x32 = Simt<32, 32, 32, 4, 4, false>;  // 64 threads: small layers with a long reduction (D1/G7 weights)
using T128x128 = Mma<128, 128, 16, 2, 4>;
using T128x64 = Mma<128, 64, 16, 4, 2>;
using T64x128 = Mma<64, 128, 16, 2, 4>;
using T64x64 = Mma<64, 64, 16, 2, 2>;
// backward-weight: the output is contiguous along N, so SIMT threads step along N.
using W128x128 = Simt<128, 128, 8, 8, 8, true>;
using W128x64 = Simt<128, 64, 8, 8, 4, true>;
using W64x128 = Simt<64, 128, 8, 4, 8, true>;
using W64x64 = Simt<64, 64, 16, 4, 4, true>;
using W128x32 = Simt<128, 32, 8, 4, 4, true>;
using W32x32 = Simt<32, 32, 32, 4, 4, true>;

using DgradFn = void (*)(const DgradArgs);
using WgradFn = void (*)(const WgradArgs);

struct Algo {
  const char* name;
  bool tf32;
  int BM, BN, BK, threads;
  DgradFn dgrad, dgrad_vec;   // dgrad_vec: float4 weight loads (null when the tile has < 4 per thread)
  WgradFn wgrad, wgrad_vec;
};

template <class T> constexpr DgradFn dvec() {
  if constexpr ((T::BK * T::BN / T::THREADS) % 4 == 0) return conv_dgrad_kernel<T, true>;
  else return nullptr;
}
template <class T> constexpr WgradFn wvec() {
  if constexpr ((T::BM * T::BK / T::THREADS) % 4 == 0) return conv_wgrad_kernel<T, true>;
  else return nullptr;
}
template <class D, class W>
constexpr Algo make_algo(const char* name) {
  static_assert(D::BM == W::BM && D::BN == W::BN && D::BK == W::BK && D::THREADS == W::THREADS, "paired tiles");
  return Algo{name, D::MMA, D::BM, D::BN, D::BK, D::THREADS, conv_dgrad_kernel<D, false>, dvec<D>(),
              conv_wgrad_kernel<W, false>, wvec<W>()};
}

// Index 0 is the direct kernel (no tile).
static const Algo kAlgos[] = {
    Algo{"direct", false, 0, 0, 0, 0, nullptr, nullptr, nullptr, nullptr},
    make_algo<S128x128, W128x128>("simt128x128"),
    make_algo<S128x64, W128x64>("simt128x64"),
    make_algo<S64x128, W64x128>("simt64x128"),
    make_algo<S64x64, W64x64>("simt64x64"),
    make_algo<S128x32, W128x32>("simt128x32"),
    make_algo<T128x128, T128x128>("tf32_128x128"),
    make_algo<T128x64, T128x64>("tf32_128x64"),
    make_algo<T64x128, T64x128>("tf32_64x128"),
    make_algo<T64x64, T64x64>("tf32_64x64"),
    Algo{"n1", false, kN1Threads, 1, 32, kN1Threads, conv_dgrad_n1_kernel, nullptr, nullptr, nullptr},
    make_algo<S32x32, W32x32>("simt32x32"),
};
constexpr int kN1 = 10;  // index of "n1" above
constexpr int kNumAlgos = sizeof(kAlgos) / sizeof(kAlgos[0]);
static_assert(sizeof(DgradArgs) <= 4000, "kernel parameter block over 4 KB");


// ---------------------------------------------------------------------------------------------------- planning
constexpr int64_t kLim32 = int64_t(1) << 31;
constexpr int64_t kMaxScratchFloats = int64_t(1) << 26;  // 256 MiB of split-K partials at most

static bool fits32(const ConvShape& s) {
  return s.n * s.c * s.h * s.w < kLim32 && s.n * s.k * s.p * s.q < kLim32 && s.k * s.c * s.r * s.s < kLim32 &&
         s.stride_h >= 1 && s.stride_w >= 1 && s.stride_h * s.stride_w <= 4096;
}

static int imod(int64_t a, int64_t m) { return (int)(((a % m) + m) % m); }
static uint32_t u32(int64_t v) { return (uint32_t)(v < 1 ? 1 : v); }

static void forward_args(DgradArgs& a, const float* x, const float* w, const float* b, float* y, const ConvShape& s,
                         int act, float slope) {
  a = {};
  a.src = x; a.w = w; a.dst = y; a.bias = b;
  a.SC = (int)s.c; a.SH = (int)s.h; a.SW = (int)s.w; a.SHW = (int)(s.h * s.w);
  a.DC = (int)s.k; a.DHW = (int)(s.p * s.q);
  a.wj = (int)(s.c * s.r * s.s); a.wsc = (int)(s.r * s.s);
  a.splits = 1; a.dst_numel = (int)(s.n * s.k * s.p * s.q);
  a.act = act; a.slope = slope;
  a.nphase = 1;
  Phase& p = a.ph[0];
  p.M = (int)(s.n * s.p * s.q);
  p.TR = (int)s.r; p.TS = (int)s.s; p.K = (int)(s.c * s.r * s.s);
  p.ohow = FastDiv(u32(s.p * s.q)); p.ow = FastDiv(u32(s.q));
  p.trts = FastDiv(u32(s.r * s.s)); p.ts = FastDiv(u32(s.s));
  p.in_mul_h = (int)s.stride_h; p.in_mul_w = (int)s.stride_w; p.in_off_h = (int)-s.pad_t; p.in_off_w = (int)-s.pad_l;
  p.tap_h = 1; p.tap_w = 1;
  p.w_off = 0; p.w_th = (int)s.s; p.w_tw = 1;
  p.out_off = 0; p.out_mul_h = (int)s.q; p.out_mul_w = 1;
}

// All sh·sw phases (those with no output pixel are dropped); the caller launches them in groups of kMaxPhases.
static std::vector<Phase> backward_phases(const ConvShape& s) {
  std::vector<Phase> out;
  for (int64_t ph = 0; ph < s.stride_h; ++ph)
    for (int64_t pw = 0; pw < s.stride_w; ++pw) {
      int64_t OH = ph < s.h ? (s.h - ph + s.stride_h - 1) / s.stride_h : 0;
      int64_t OW = pw < s.w ? (s.w - pw + s.stride_w - 1) / s.stride_w : 0;
      if (OH * OW == 0 || s.n == 0) continue;
      int r0 = imod(ph + s.pad_t, s.stride_h), s0 = imod(pw + s.pad_l, s.stride_w);
      int64_t TR = r0 < s.r ? (s.r - r0 + s.stride_h - 1) / s.stride_h : 0;
      int64_t TS = s0 < s.s ? (s.s - s0 + s.stride_w - 1) / s.stride_w : 0;
      Phase p{};
      p.M = (int)(s.n * OH * OW);
      p.TR = (int)TR; p.TS = (int)TS; p.K = (int)(s.k * TR * TS);
      p.ohow = FastDiv(u32(OH * OW)); p.ow = FastDiv(u32(OW));
      p.trts = FastDiv(u32(TR * TS)); p.ts = FastDiv(u32(TS));
      p.in_mul_h = 1; p.in_mul_w = 1;
      p.in_off_h = (int)((ph + s.pad_t - r0) / s.stride_h);
      p.in_off_w = (int)((pw + s.pad_l - s0) / s.stride_w);
      p.tap_h = -1; p.tap_w = -1;
      p.w_off = (int)(r0 * s.s + s0); p.w_th = (int)(s.stride_h * s.s); p.w_tw = (int)s.stride_w;
      p.out_off = (int)(ph * s.w + pw); p.out_mul_h = (int)(s.stride_h * s.w); p.out_mul_w = (int)s.stride_w;
      out.push_back(p);
    }
  return out;
}

static void backward_args(DgradArgs& a, const float* dy, const float* w, const float* b, float* dx, const ConvShape& s,
                          int act, float slope) {
  a = {};
  a.src = dy; a.w = w; a.dst = dx; a.bias = b;
  a.SC = (int)s.k; a.SH = (int)s.p; a.SW = (int)s.q; a.SHW = (int)(s.p * s.q);
  a.DC = (int)s.c; a.DHW = (int)(s.h * s.w);
  a.wj = (int)(s.r * s.s); a.wsc = (int)(s.c * s.r * s.s);
  a.splits = 1; a.dst_numel = (int)(s.n * s.c * s.h * s.w);
  a.act = act; a.slope = slope;
}

static int choose_splits(int64_t blocks, int64_t kmax, int BK, int64_t out_numel) {
  int64_t target = 2 * (int64_t)sm_count();
  if (blocks >= target || kmax < 8 * BK) return 1;
  int64_t sp = (target + blocks - 1) / blocks;
  if (sp > kmax / (4 * BK)) sp = kmax / (4 * BK);
  if (sp > 64) sp = 64;
  if (out_numel > 0 && sp > kMaxScratchFloats / out_numel) sp = kMaxScratchFloats / out_numel;
  return (int)(sp < 1 ? 1 : sp);
}

// Runs the forward/backward-data GEMM for the given phases with one tile algorithm.
static void run_dgrad(const Algo& al, DgradArgs a, const std::vector<Phase>& phases, bool vec) {
  if (phases.empty()) return;
  DgradFn fn = vec && al.dgrad_vec ? al.dgrad_vec : al.dgrad;
  int64_t mt = 0, kmax = 0;
  for (const Phase& p : phases) {
    mt = std::max<int64_t>(mt, (p.M + al.BM - 1) / al.BM);
    kmax = std::max<int64_t>(kmax, p.K);
  }
  int64_t nt = (a.DC + al.BN - 1) / al.BN;
  MRIGAN_CHECK(nt <= 65535, "conv on the GPU: ", a.DC, " output channels is over the grid limit");
  int splits = choose_splits(mt * nt * (int64_t)phases.size(), kmax, al.BK, a.dst_numel);
  a.splits = splits;
  Scratch part(splits > 1 ? (size_t)splits * a.dst_numel : 1, current_device());
  a.part = splits > 1 ? part.p : nullptr;
  const Phase& p0 = phases[0];
  a.vec_store = phases.size() == 1 && p0.out_off == 0 && p0.out_mul_w == 1 && p0.out_mul_h == (int)p0.ow.d && (int)p0.ohow.d == a.DHW &&
                a.DHW % 4 == 0 && aligned16(a.dst);
  for (size_t first = 0; first < phases.size(); first += kMaxPhases) {
    a.nphase = (int)std::min<size_t>(kMaxPhases, phases.size() - first);
    for (int i = 0; i < a.nphase; ++i) a.ph[i] = phases[first + i];
    dim3 grid((unsigned)mt, (unsigned)nt, (unsigned)(a.nphase * splits));
    launch(al.name, fn, grid, al.threads, 0, a);
  }
  if (splits > 1)
    launch("conv_dgrad_reduce", dgrad_reduce_kernel, grid_for((size_t)a.dst_numel, 256), 256, 0, (const float*)a.part, splits,
           a.dst_numel, a.DHW, a.DC, a.bias, a.act, a.slope, a.dst);
}

static void run_wgrad(const Algo& al, const float* dy, const float* x, float* dw, const ConvShape& s, bool vec) {
  WgradArgs a{};
  a.dy = dy; a.x = x; a.dw = dw;
  a.K = (int)s.k; a.C = (int)s.c; a.H = (int)s.h; a.W = (int)s.w; a.P = (int)s.p; a.Q = (int)s.q;
  a.sh = (int)s.stride_h; a.sw = (int)s.stride_w; a.pt = (int)s.pad_t; a.pl = (int)s.pad_l;
  a.PQ = (int)(s.p * s.q); a.HW = (int)(s.h * s.w); a.CHW = (int)(s.c * s.h * s.w); a.KPQ = (int)(s.k * s.p * s.q);
  a.CRS = (int)(s.c * s.r * s.s); a.Ntot = (int)(s.n * s.p * s.q);
  a.pq = FastDiv(u32(s.p * s.q)); a.q = FastDiv(u32(s.q)); a.rs = FastDiv(u32(s.r * s.s)); a.s = FastDiv(u32(s.s));
  int64_t mt = (s.k + al.BM - 1) / al.BM, nt = (a.CRS + al.BN - 1) / al.BN;
  MRIGAN_CHECK(nt <= 65535, "conv backward-weight on the GPU: C·R·S = ", a.CRS, " is over the grid limit");
  int64_t numel = (int64_t)a.K * a.CRS;
  int splits = choose_splits(mt * nt, a.Ntot, al.BK, numel);
  a.splits = splits;
  WgradFn fn = vec && al.wgrad_vec ? al.wgrad_vec : al.wgrad;
  if (splits == 1) {
    launch(al.name, fn, dim3((unsigned)mt, (unsigned)nt, 1), al.threads, 0, a);
    return;
  }
  Scratch part((size_t)splits * numel, current_device());
  a.part = part.p;
  launch(al.name, fn, dim3((unsigned)mt, (unsigned)nt, (unsigned)splits), al.threads, 0, a);
  launch("conv_wgrad_reduce", wgrad_reduce_kernel, grid_for((size_t)numel, 256), 256, 0, (const float*)part.p, splits,
         (int)numel, dw);
}

// ---------------------------------------------------------------------------------------------------- choice
static int g_forced[3] = {-1, -1, -1};
static std::mutex g_mu;
static std::map<std::vector<int64_t>, int> g_chosen;

static bool autotune_on() {
#ifdef MRIGAN_CUDA_EMU
  return false;
#else
  static bool on = [] {
    const char* e = std::getenv("MRIGAN_CONV_AUTOTUNE");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
#endif
}

// Output channels of the pass's GEMM (N): filters for forward, input channels for backward-data.
static int64_t gemm_n(int pass, const ConvShape& s) { return pass == 0 ? s.k : pass == 1 ? s.c : s.c * s.r * s.s; }

static bool eligible(int algo, int pass, const ConvShape& s, bool allow_tf32) {
  const Algo& al = kAlgos[algo];
  if (algo == 0) return true;
  if (!fits32(s)) return false;
  if (algo == kN1) return pass != 2 && gemm_n(pass, s) == 1;
  if (al.tf32) return allow_tf32 && cc_major() >= 8;
  return true;
}

// Size heuristic (no timing): the largest tile that still gives a wave of blocks; narrow layers get 128×32.
static int heuristic(int pass, const ConvShape& s, bool use_tf32) {
  if (!fits32(s)) return 0;
  int64_t M = pass == 2 ? s.k : pass == 0 ? s.n * s.p * s.q : s.n * s.h * s.w;
  int64_t N = pass == 2 ? s.c * s.r * s.s : pass == 0 ? s.k : s.c;
  int64_t big = ((M + 127) / 128) * ((N + 127) / 128);
  if (pass != 2 && N == 1) return kN1;
  if (use_tf32 && cc_major() >= 8) return big >= sm_count() ? 6 : 9;
  if (N <= 32 && pass != 2) return 5;
  return big >= sm_count() ? 1 : 4;
}

// Picks the algorithm for this pass and shape: forced, cached, timed, or by heuristic. `run` executes one
// candidate into scratch output (never into the caller's tensors, so += outputs stay untouched).
template <typename F>
static int choose(int pass, const ConvShape& s, F&& run_into_scratch) {
  bool use_tf32 = tf32();
  {
    std::lock_guard<std::mutex> g(g_mu);
    // A forced kernel that cannot run this pass or shape (n1 with several output channels, TF32 before sm_80, a
    // tile on a tensor over 2^31 elements) leaves the choice to the automatic path.
    if (g_forced[pass] >= 0 && eligible(g_forced[pass], pass, s, true)) return g_forced[pass];
  }
  if (!autotune_on()) return heuristic(pass, s, use_tf32);
  std::vector<int64_t> key = {pass, use_tf32, current_device(), s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride_h,
                              s.stride_w, s.pad_t, s.pad_b, s.pad_l, s.pad_r, s.p, s.q};
  {
    std::lock_guard<std::mutex> g(g_mu);
    auto it = g_chosen.find(key);
    if (it != g_chosen.end()) return it->second;
  }
  int best = heuristic(pass, s, use_tf32);
  if (fits32(s)) {
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float best_ms = 1e30f;
    for (int a = 1; a < kNumAlgos; ++a) {
      if (!eligible(a, pass, s, use_tf32)) continue;
      if (!use_tf32 && kAlgos[a].tf32) continue;
      run_into_scratch(a);  // warm-up (and first-touch of scratch)
      CUDA_CHECK(cudaEventRecord(e0, stream()));
      run_into_scratch(a);
      run_into_scratch(a);
      CUDA_CHECK(cudaEventRecord(e1, stream()));
      CUDA_CHECK(cudaEventSynchronize(e1));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
      if (ms < best_ms) { best_ms = ms; best = a; }
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
  }
  std::lock_guard<std::mutex> g(g_mu);
  g_chosen[key] = best;
  return best;
}

static void check_geometry(const ConvShape& s) {
  MRIGAN_CHECK(s.stride_h >= 1 && s.stride_w >= 1 && s.r >= 1 && s.s >= 1, "conv on the GPU: bad geometry");
}

// ---------------------------------------------------------------------------------------------------- passes
static void forward_with(int algo, const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act,
                         float slope) {
  if (algo == 0) {
    size_t total = (size_t)(s.n * s.k * s.p * s.q);
    launch("conv_direct_forward", direct_forward_kernel, grid_for(total, 256), 256, 0, x, w, b, y, s, act, slope);
    return;
  }
  DgradArgs a;
  forward_args(a, x, w, b, y, s, act, slope);
  bool vec = (s.c * s.r * s.s) % 4 == 0 && aligned16(w);
  run_dgrad(kAlgos[algo], a, {a.ph[0]}, vec);
}

void forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope) {
  if (s.n * s.k * s.p * s.q == 0) return;
  check_geometry(s);
  use_device_of(y);
  int algo = choose(0, s, [&](int a) {
    Scratch out((size_t)(s.n * s.k * s.p * s.q), current_device());
    forward_with(a, x, w, b, out.p, s, act, slope);
  });
  forward_with(algo, x, w, b, y, s, act, slope);
}

static void backward_data_with(int algo, const float* dy, const float* w, const float* b, float* dx, const ConvShape& s,
                               int act, float slope) {
  if (algo == 0) {
    size_t total = (size_t)(s.n * s.c * s.h * s.w);
    launch("conv_direct_backward_data", direct_backward_data_kernel, grid_for(total, 256), 256, 0, dy, w, b, dx, s, act,
           slope);
    return;
  }
  DgradArgs a;
  backward_args(a, dy, w, b, dx, s, act, slope);
  run_dgrad(kAlgos[algo], a, backward_phases(s), false);
}

void backward_data(const float* dy, const float* w, const float* b, float* dx, const ConvShape& s, int act, float slope) {
  size_t total = (size_t)(s.n * s.c * s.h * s.w);
  if (!total) return;
  check_geometry(s);
  use_device_of(dx);
  int algo = choose(1, s, [&](int a) {
    Scratch out(total, current_device());
    backward_data_with(a, dy, w, b, out.p, s, act, slope);
  });
  backward_data_with(algo, dy, w, b, dx, s, act, slope);
}

static void backward_weight_with(int algo, const float* dy, const float* x, float* dw, const ConvShape& s) {
  if (algo == 0) {
    size_t total = (size_t)(s.k * s.c * s.r * s.s);
    launch("conv_direct_backward_weight", direct_backward_weight_kernel, (unsigned)std::min<size_t>(total, 1u << 20), 256, 0,
           dy, x, dw, s);
    return;
  }
  bool vec = (s.p * s.q) % 4 == 0 && aligned16(dy);
  run_wgrad(kAlgos[algo], dy, x, dw, s, vec);
}

void backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  size_t total = (size_t)(s.k * s.c * s.r * s.s);
  if (!total || s.n * s.p * s.q == 0) return;
  check_geometry(s);
  use_device_of(dw);
  int algo = choose(2, s, [&](int a) {
    Scratch out(total, current_device());
    backward_weight_with(a, dy, x, out.p, s);
  });
  backward_weight_with(algo, dy, x, dw, s);
}

}  // namespace conv

// ---------------------------------------------------------------------------------------------------- ops.def
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s) {
  conv::forward(x, w, b, y, s, conv::kNone, 0.f);
}
void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  conv::backward_data(dy, w, nullptr, dx, s, conv::kNone, 0.f);
}
void conv2d_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  conv::backward_weight(dy, x, dw, s);
}

void set_conv_algo(int pass, int algo) {
  MRIGAN_CHECK(pass >= 0 && pass < 3, "conv pass must be 0 (forward), 1 (backward-data) or 2 (backward-weight)");
  MRIGAN_CHECK(algo >= -1 && algo < conv::kNumAlgos, "conv algorithm index ", algo, " out of range [-1, ",
               conv::kNumAlgos - 1, "]");
  std::lock_guard<std::mutex> g(conv::g_mu);
  conv::g_forced[pass] = algo;
}
int conv_algo_count(int) { return conv::kNumAlgos; }
const char* conv_algo_name(int, int algo) {
  return algo >= 0 && algo < conv::kNumAlgos ? conv::kAlgos[algo].name : "auto";
}

}  // namespace mrigan::cuda
