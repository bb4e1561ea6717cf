// The convolution kernels without a GEMM tile: "direct" (one thread per output element, int64 indices: the readable
// reference and the fallback for tensors over 2^31 elements) and "n1" (a single output channel, one thread per output
// pixel).
#include <algorithm>

#include "cuda/conv_tile.cuh"

namespace mrigan::cuda::conv {

// One output channel (G7's conv-transpose to the image, D1's backward-data, a 1-filter head): the GEMM has N = 1, so
// a tile would waste all but one of its columns. Here each thread owns one output pixel and walks its reduction
// slice; the slice's weights are staged in shared memory (one per reduction index), and neighbouring threads gather
// neighbouring pixels (coalesced). Split-K and phases exactly as conv_dgrad_kernel (blockIdx.z).
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

void direct_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope) {
  size_t total = (size_t)(s.n * s.k * s.p * s.q);
  launch("conv_direct_forward", direct_forward_kernel, grid_for(total, 256), 256, 0, x, w, b, y, s, act, slope);
}
void direct_backward_data(const float* dy, const float* w, const float* b, float* dx, const ConvShape& s, int act,
                          float slope) {
  size_t total = (size_t)(s.n * s.c * s.h * s.w);
  launch("conv_direct_backward_data", direct_backward_data_kernel, grid_for(total, 256), 256, 0, dy, w, b, dx, s, act,
         slope);
}
void direct_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  size_t total = (size_t)(s.k * s.c * s.r * s.s);
  launch("conv_direct_backward_weight", direct_backward_weight_kernel, (unsigned)std::min<size_t>(total, 1u << 20), 256, 0,
         dy, x, dw, s);
}

Algo direct_algo(int index) {
  switch (index) {
    case kDirect: return Algo{"direct", false, 0, 0, 0, 0, nullptr, nullptr, nullptr, nullptr};
    case kN1: return Algo{"n1", false, kN1Threads, 1, 32, kN1Threads, conv_dgrad_n1_kernel, nullptr, nullptr, nullptr};
    default: throw Error(cat("conv: no direct algorithm with index ", index));
  }
}

}  // namespace mrigan::cuda::conv
