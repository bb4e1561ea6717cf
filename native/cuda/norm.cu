// BatchNorm over channel c of x viewed as [n, c, hw] on the GPU (twin of native/cpu/norm.cc, PyTorch semantics:
// biased batch variance to normalise, unbiased for running_var, run = (1 − momentum) run + momentum batch).
//
// Statistics use the two-level, deterministic channel reduction of channel.cuh (grid (c, slices) of partial sums,
// then one thread per channel adding them in order). As on the CPU the sums are shifted by the channel's first
// value x₀ — Σ(x − x₀), Σ(x − x₀)² — so the variance does not cancel when |mean| ≫ std, and the per-channel work
// (mean, invstd, running averages) is in double.
// The elementwise pass is y = ((x − m_hi) − m_lo)·(γ·invstd) + β with the double mean split into two floats, so
// x − mean keeps float32 resolution however large the mean (the CPU does this step in double).
// Backward: Σdy and Σdy·(x − mean) per channel, then dx = dy·k − (x − mean)·k2 − k3 with k = γ·invstd,
// k2 = k·invstd²·Σdy(x − mean)/N, k3 = k·Σdy/N (the CPU's formula); dγ += invstd·Σdy(x − mean), dβ += Σdy.
#include <cmath>

#include "cuda/channel.cuh"

namespace mrigan::cuda {

namespace {
struct ShiftedMoments {  // acc = {Σ(x − x₀), Σ(x − x₀)²}
  const float* x;
  int64_t hw;
  float x0;
  __device__ void begin(int64_t ch) { x0 = x[ch * hw]; }
  __device__ void operator()(int64_t, int64_t o, float* acc) const {
    float d = x[o] - x0;
    acc[0] += d;
    acc[1] = fmaf(d, d, acc[1]);
  }
};

struct TrainStats {
  const float *x, *gamma, *beta;
  float *mean, *invstd, *run_mean, *run_var, *affine;
  int64_t hw;
  double N;
  float momentum, eps;
  __device__ void operator()(int64_t ch, const double* s) const {
    double dm = s[0] / N, var = s[1] / N - dm * dm;
    if (var < 0) var = 0;
    double m = (double)x[ch * hw] + dm, is = 1.0 / sqrt(var + (double)eps);
    mean[ch] = (float)m;
    invstd[ch] = (float)is;
    if (run_mean) run_mean[ch] = (float)((1.0 - momentum) * (double)run_mean[ch] + (double)momentum * m);
    if (run_var)
      run_var[ch] = (float)((1.0 - momentum) * (double)run_var[ch] + (double)momentum * var * N / (N > 1 ? N - 1.0 : 1.0));
    float hi = (float)m;
    affine[4 * ch] = hi;
    affine[4 * ch + 1] = (float)(m - (double)hi);
    affine[4 * ch + 2] = (float)((gamma ? (double)gamma[ch] : 1.0) * is);
    affine[4 * ch + 3] = beta ? beta[ch] : 0.f;
  }
};

struct ApplyAffine {
  const float* x;
  float* y;
  const float* affine;  // per channel {m_hi, m_lo, scale, shift}
  __device__ void operator()(size_t i, int64_t ch) const {
    const float* a = affine + 4 * ch;
    y[i] = fmaf((x[i] - a[0]) - a[1], a[2], a[3]);
  }
};

__global__ void eval_affine_kernel(const float* __restrict__ gamma, const float* __restrict__ beta,
                                   const float* __restrict__ run_mean, const float* __restrict__ run_var,
                                   float* __restrict__ affine, int64_t c, float eps) {
  int64_t ch = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (ch >= c) return;
  double is = 1.0 / sqrt((double)run_var[ch] + (double)eps);
  affine[4 * ch] = run_mean[ch];
  affine[4 * ch + 1] = 0.f;
  affine[4 * ch + 2] = (float)((gamma ? (double)gamma[ch] : 1.0) * is);
  affine[4 * ch + 3] = beta ? beta[ch] : 0.f;
}

struct DotSums {  // acc = {Σdy, Σdy·(x − mean)}
  const float *dy, *x, *mean;
  float mu;
  __device__ void begin(int64_t ch) { mu = mean[ch]; }
  __device__ void operator()(int64_t, int64_t o, float* acc) const {
    float g = dy[o];
    acc[0] += g;
    acc[1] = fmaf(g, x[o] - mu, acc[1]);
  }
};

struct BackwardCoef {
  const float *gamma, *invstd;
  float *dgamma, *dbeta, *coef;
  double N;
  __device__ void operator()(int64_t ch, const double* s) const {
    double is = invstd[ch], k = (gamma ? (double)gamma[ch] : 1.0) * is;
    coef[3 * ch] = (float)k;
    coef[3 * ch + 1] = (float)(k * is * is * s[1] / N);
    coef[3 * ch + 2] = (float)(k * s[0] / N);
    if (dgamma) dgamma[ch] += (float)(s[1] * is);
    if (dbeta) dbeta[ch] += (float)s[0];
  }
};

struct BackwardApply {
  const float *dy, *x, *mean, *coef;
  float* dx;
  __device__ void operator()(size_t i, int64_t ch) const {
    const float* k = coef + 3 * ch;
    dx[i] = dy[i] * k[0] - (x[i] - mean[ch]) * k[1] - k[2];
  }
};
}  // namespace

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* invstd,
                             float* run_mean, float* run_var, int64_t n, int64_t c, int64_t hw, float momentum, float eps) {
  if (c <= 0) return;
  channel_check("batchnorm", n, c, hw);
  use_device_of(y);
  Scratch affine((size_t)c * 4, current_device());
  double N = (double)n * (double)hw;
  channel_reduce<2>("bn_stats", n, c, hw, ShiftedMoments{x, hw, 0.f},
                    TrainStats{x, gamma, beta, mean, invstd, run_mean, run_var, affine.p, hw, N, momentum, eps});
  channel_map("bn_apply", n, c, hw, ApplyAffine{x, y, affine.p});
}

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* run_mean,
                            const float* run_var, float* y, int64_t n, int64_t c, int64_t hw, float eps) {
  if (c <= 0 || n * hw == 0) return;
  channel_check("batchnorm", n, c, hw);
  use_device_of(y);
  Scratch affine((size_t)c * 4, current_device());
  launch("bn_eval_affine", eval_affine_kernel, grid_for((size_t)c, 128, 1u << 30), 128, 0, gamma, beta, run_mean, run_var,
         affine.p, c, eps);
  channel_map("bn_apply", n, c, hw, ApplyAffine{x, y, affine.p});
}

void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* invstd,
                        float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
  if (c <= 0) return;
  channel_check("batchnorm", n, c, hw);
  use_device_of(dx);
  Scratch coef((size_t)c * 3, current_device());
  double N = (double)n * (double)hw;
  channel_reduce<2>("bn_grad_sums", n, c, hw, DotSums{dy, x, mean, 0.f},
                    BackwardCoef{gamma, invstd, dgamma, dbeta, coef.p, N});
  channel_map("bn_grad_apply", n, c, hw, BackwardApply{dy, x, mean, coef.p, dx});
}

}  // namespace mrigan::cuda
