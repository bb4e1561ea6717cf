// Second-order passes of the exact gradient penalty on the GPU (twins of native/cpu/rop.cc, docs/design.md §5; the math
// and notation are in that file's header).
//   tanh/sigmoid pair-backward: elementwise, one grid-stride loop (σ′ and σ″ from the forward output y).
//   batch_norm_jvp: per channel a = mean ẋ, b = mean x̂ẋ (two-level channel reduction of channel.cuh), then
//     ẏ = γr(ẋ − a − x̂b) elementwise.
//   batch_norm_pair_backward: (1) the same tangent moments a, b; (2) a second channel reduction of Σȳ, Σȳx̂, Σẏ̄,
//     Σẏ̄x̂, Σẏ̄t (t = r(ẋ − a − x̂b)) whose per-channel finish computes the CPU's coefficients in double and
//     accumulates dγ, dβ; (3) one elementwise pass writing x̄ and ẋ̄.
#include "cuda/channel.cuh"

namespace mrigan::cuda {

namespace {
constexpr unsigned kThreads = 256;

template <bool Tanh>
__global__ void act_pair_backward_kernel(const float* __restrict__ ybar, const float* __restrict__ ydotbar,
                                         const float* __restrict__ y, const float* __restrict__ xdot,
                                         float* __restrict__ xbar, float* __restrict__ xdotbar, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float v = y[i], d1, d2;
    if (Tanh) { d1 = 1.f - v * v; d2 = -2.f * v * d1; }          // tanh′ = 1 − y², tanh″ = −2y(1 − y²)
    else { d1 = v * (1.f - v); d2 = d1 * (1.f - 2.f * v); }      // σ′ = y(1 − y), σ″ = σ′(1 − 2y)
    float yb = ybar ? ybar[i] : 0.f, ydb = ydotbar[i];
    xbar[i] = d1 * yb + d2 * xdot[i] * ydb;
    xdotbar[i] = d1 * ydb;
  }
}

// acc = {Σẋ, Σx̂ẋ}
struct TangentSums {
  const float *xdot, *x, *mean, *invstd;
  float mu, r;
  __device__ void begin(int64_t ch) { mu = mean[ch]; r = invstd[ch]; }
  __device__ void operator()(int64_t, int64_t o, float* acc) const {
    float d = xdot[o];
    acc[0] += d;
    acc[1] = fmaf((x[o] - mu) * r, d, acc[1]);
  }
};
// mom[ch] = {a, b} in double
struct TangentMoments {
  double* mom;
  double m;
  __device__ void operator()(int64_t ch, const double* s) const {
    mom[2 * ch] = s[0] / m;
    mom[2 * ch + 1] = s[1] / m;
  }
};

struct JvpApply {
  const float *xdot, *x, *gamma, *mean, *invstd;
  const double* mom;
  float* ydot;
  __device__ void operator()(size_t i, int64_t ch) const {
    float mu = mean[ch], r = invstd[ch], gr = gamma[ch] * r, fa = (float)mom[2 * ch], fb = (float)mom[2 * ch + 1];
    ydot[i] = gr * (xdot[i] - fa - (x[i] - mu) * r * fb);
  }
};

// acc = {Σȳ, Σȳx̂, Σẏ̄, Σẏ̄x̂, Σẏ̄t}
struct PairSums {
  const float *ybar, *ydotbar, *x, *xdot, *mean, *invstd;
  const double* mom;
  float mu, r, fa, fb;
  __device__ void begin(int64_t ch) {
    mu = mean[ch];
    r = invstd[ch];
    fa = (float)mom[2 * ch];
    fb = (float)mom[2 * ch + 1];
  }
  __device__ void operator()(int64_t, int64_t o, float* acc) const {
    float xh = (x[o] - mu) * r, t = r * (xdot[o] - fa - xh * fb), d = ydotbar[o];
    if (ybar) {
      float yb = ybar[o];
      acc[0] += yb;
      acc[1] = fmaf(yb, xh, acc[1]);
    }
    acc[2] += d;
    acc[3] = fmaf(d, xh, acc[3]);
    acc[4] = fmaf(d, t, acc[4]);
  }
};
// coef[ch] = {gr, md, mdx, rb, mq, mxq, kdt, kdx}; dγ += Σȳx̂ + Σẏ̄t, dβ += Σȳ.
struct PairCoef {
  const float *gamma, *invstd;
  const double* mom;
  float *coef, *dgamma, *dbeta;
  double m;
  __device__ void operator()(int64_t ch, const double* s) const {
    double Sy = s[0], Syx = s[1], Sd = s[2], Sdx = s[3], Sdt = s[4];
    float r = invstd[ch], g = gamma[ch];
    double b = mom[2 * ch + 1];
    float fb = (float)b;
    float* k = coef + 8 * ch;
    k[0] = g * r;
    k[1] = (float)(Sd / m);
    k[2] = (float)(Sdx / m);
    k[3] = r * fb;
    k[4] = (float)(g * (Sy - r * b * Sd) / m);
    k[5] = (float)(g * (Syx - r * b * Sdx) / m);
    double kk = (double)(r * g) / m;
    k[6] = (float)(kk * Sdt);
    k[7] = (float)(kk * Sdx);
    dgamma[ch] += (float)(Syx + Sdt);
    dbeta[ch] += (float)Sy;
  }
};
struct PairApply {
  const float *ybar, *ydotbar, *x, *xdot, *gamma, *mean, *invstd, *coef;
  const double* mom;
  float *xbar, *xdotbar;
  __device__ void operator()(size_t i, int64_t ch) const {
    const float* k = coef + 8 * ch;
    float mu = mean[ch], r = invstd[ch], g = gamma[ch], fa = (float)mom[2 * ch], fb = (float)mom[2 * ch + 1];
    float xh = (x[i] - mu) * r, t = r * (xdot[i] - fa - xh * fb), d = ydotbar[i];
    float q = g * ((ybar ? ybar[i] : 0.f) - k[3] * d);
    xdotbar[i] = k[0] * (d - k[1] - xh * k[2]);
    xbar[i] = r * (q - k[4] - xh * k[5]) - k[6] * xh - k[7] * t;
  }
};
}  // namespace

void tanh_pair_backward(const float* ybar, const float* ydotbar, const float* y, const float* xdot, float* xbar,
                        float* xdotbar, size_t n) {
  if (!n) return;
  use_device_of(xbar);
  launch("tanh_pair_backward", act_pair_backward_kernel<true>, grid_for(n, kThreads), kThreads, 0, ybar, ydotbar, y, xdot,
         xbar, xdotbar, n);
}

void sigmoid_pair_backward(const float* ybar, const float* ydotbar, const float* y, const float* xdot, float* xbar,
                           float* xdotbar, size_t n) {
  if (!n) return;
  use_device_of(xbar);
  launch("sigmoid_pair_backward", act_pair_backward_kernel<false>, grid_for(n, kThreads), kThreads, 0, ybar, ydotbar, y,
         xdot, xbar, xdotbar, n);
}

void batch_norm_jvp(const float* xdot, const float* x, const float* gamma, const float* mean, const float* invstd,
                   float* ydot, int64_t n, int64_t c, int64_t hw) {
  if (c <= 0) return;
  channel_check("batch_norm_jvp", n, c, hw);
  use_device_of(ydot);
  Scratch mom((size_t)c * 4, current_device());
  double* dm = reinterpret_cast<double*>(mom.p);
  channel_reduce<2>("bn_jvp_moments", n, c, hw, TangentSums{xdot, x, mean, invstd, 0.f, 0.f},
                    TangentMoments{dm, (double)n * (double)hw});
  channel_map("bn_jvp_apply", n, c, hw, JvpApply{xdot, x, gamma, mean, invstd, dm, ydot});
}

void batch_norm_pair_backward(const float* ybar, const float* ydotbar, const float* x, const float* xdot,
                             const float* gamma, const float* mean, const float* invstd, float* xbar, float* xdotbar,
                             float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
  if (c <= 0) return;
  channel_check("batch_norm_pair_backward", n, c, hw);
  use_device_of(xbar);
  double m = (double)n * (double)hw;
  Scratch mom((size_t)c * 4, current_device());
  Scratch coef((size_t)c * 8, current_device());
  double* dm = reinterpret_cast<double*>(mom.p);
  channel_reduce<2>("bn_pair_moments", n, c, hw, TangentSums{xdot, x, mean, invstd, 0.f, 0.f}, TangentMoments{dm, m});
  channel_reduce<5>("bn_pair_sums", n, c, hw, PairSums{ybar, ydotbar, x, xdot, mean, invstd, dm, 0.f, 0.f, 0.f, 0.f},
                    PairCoef{gamma, invstd, dm, coef.p, dgamma, dbeta, m});
  channel_map("bn_pair_apply", n, c, hw, PairApply{ybar, ydotbar, x, xdot, gamma, mean, invstd, coef.p, dm, xbar, xdotbar});
}

}  // namespace mrigan::cuda
