// The implicit-GEMM convolution kernels (see conv.cu's header for the math): conv_dgrad_kernel (forward and
// backward-data: gather a window of src, multiply by a weight slice, scatter to dst) and conv_wgrad_kernel
// (backward-weight, reduction over pixels), templated on the tile class of conv_tile.cuh. Included only by the files
// that instantiate them for their tiles (conv_simt.cu, conv_tf32.cu), so each family compiles on its own.
#pragma once
#include "cuda/conv_tile.cuh"

namespace mrigan::cuda::conv {

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

// ---------------------------------------------------------------------------------------------------- table entries
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

}  // namespace mrigan::cuda::conv
