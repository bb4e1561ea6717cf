// Second-order passes for the exact gradient penalty (docs/design.md §5): pair-backwards of tanh and sigmoid (σ″ ≠ 0)
// and BatchNorm's tangent forward and pair-backward in training mode (through the batch statistics).
//
// Notation per BN channel (m = n·hw values): r = invstd, x̂ = (x − μ) r, J₀ = r (I − 11ᵀ/m − x̂x̂ᵀ/m) is the Jacobian
// of x̂ w.r.t. x (symmetric). Tangent: t = J₀ẋ = r (ẋ − a − x̂ b), a = mean ẋ, b = mean x̂ẋ; y = γx̂ + β, ẏ = γt.
// Pair-backward: ẏ is linear in ẋ with the symmetric Jacobian γJ₀, so ẋ̄ = J₀(γẏ̄). For x̄, differentiate
// L = Σȳy + Σẏ̄ẏ holding ẋ fixed, with dr = −(r²/m)⟨x̂, dx⟩, dx̂ = J₀dx, db = (1/m)⟨t, dx⟩ (J₀ symmetric):
//   ẋ̄ = J₀(γ ẏ̄)
//   x̄ = J₀(γ ȳ − r b γ ẏ̄) − (r γ / m) (x̂ Σẏ̄t + t Σẏ̄x̂)
//   γ̄ += Σȳx̂ + Σẏ̄t,  β̄ += Σȳ
// Sums in double; one channel per work item (the critic's BN layers have ≥ 64 channels).
#include <cmath>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

template <typename F>
static void blocks(size_t n, F&& f) { parallel_blocks(n, f); }

// d1 = σ′, d2 = σ″, both from the output y.
template <typename D>
static void act_pair_backward(const float* ybar, const float* ydotbar, const float* y, const float* xdot, float* xbar,
                              float* xdotbar, size_t n, D&& derivs) {
  blocks(n, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {
      float d1, d2;
      derivs(y[i], d1, d2);
      float yb = ybar ? ybar[i] : 0.0f;
      xbar[i] = d1 * yb + d2 * xdot[i] * ydotbar[i];
      xdotbar[i] = d1 * ydotbar[i];
    }
  });
}

void tanh_pair_backward(const float* ybar, const float* ydotbar, const float* y, const float* xdot, float* xbar,
                        float* xdotbar, size_t n) {
  // tanh′ = 1 − y², tanh″ = −2y(1 − y²)
  act_pair_backward(ybar, ydotbar, y, xdot, xbar, xdotbar, n, [](float v, float& d1, float& d2) {
    d1 = 1.0f - v * v;
    d2 = -2.0f * v * d1;
  });
}

void sigmoid_pair_backward(const float* ybar, const float* ydotbar, const float* y, const float* xdot, float* xbar,
                           float* xdotbar, size_t n) {
  // σ′ = y(1 − y), σ″ = σ′(1 − 2y)
  act_pair_backward(ybar, ydotbar, y, xdot, xbar, xdotbar, n, [](float v, float& d1, float& d2) {
    d1 = v * (1.0f - v);
    d2 = d1 * (1.0f - 2.0f * v);
  });
}

// a = mean ẋ, b = mean x̂ẋ of one channel.
static void tangent_moments(const float* xdot, const float* x, float mu, float r, int64_t ch, int64_t n, int64_t c,
                            int64_t hw, double& a, double& b) {
  double sa = 0, sb = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* px = x + (i * c + ch) * hw;
    const float* pd = xdot + (i * c + ch) * hw;
    for (int64_t j = 0; j < hw; ++j) {
      sa += pd[j];
      sb += (double)((px[j] - mu) * r) * pd[j];
    }
  }
  double m = (double)(n * hw);
  a = sa / m;
  b = sb / m;
}

void batch_norm_jvp(const float* xdot, const float* x, const float* gamma, const float* mean, const float* invstd,
                   float* ydot, int64_t n, int64_t c, int64_t hw) {
  parallel_for(c, [&](int64_t ch) {
    float mu = mean[ch], r = invstd[ch], g = gamma[ch];
    double a, b;
    tangent_moments(xdot, x, mu, r, ch, n, c, hw, a, b);
    float fa = (float)a, fb = (float)b, gr = g * r;
    for (int64_t i = 0; i < n; ++i) {
      const float* px = x + (i * c + ch) * hw;
      const float* pd = xdot + (i * c + ch) * hw;
      float* py = ydot + (i * c + ch) * hw;
      for (int64_t j = 0; j < hw; ++j) py[j] = gr * (pd[j] - fa - (px[j] - mu) * r * fb);
    }
  });
}

void batch_norm_pair_backward(const float* ybar, const float* ydotbar, const float* x, const float* xdot,
                             const float* gamma, const float* mean, const float* invstd, float* xbar, float* xdotbar,
                             float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
  parallel_for(c, [&](int64_t ch) {
    float mu = mean[ch], r = invstd[ch], g = gamma[ch];
    double a, b;
    tangent_moments(xdot, x, mu, r, ch, n, c, hw, a, b);
    float fa = (float)a, fb = (float)b;
    // Sy = Σȳ, Syx = Σȳx̂, Sd = Σẏ̄, Sdx = Σẏ̄x̂, Sdt = Σẏ̄t
    double Sy = 0, Syx = 0, Sd = 0, Sdx = 0, Sdt = 0;
    // x̂, the normalised tangent t and ẏ̄ at element e of the channel (both passes read them)
    auto at = [&](int64_t e, float& xh, float& t, float& d) {
      xh = (x[e] - mu) * r;
      t = r * (xdot[e] - fa - xh * fb);
      d = ydotbar[e];
    };
    for (int64_t i = 0; i < n; ++i) {
      int64_t o = (i * c + ch) * hw;
      for (int64_t j = 0; j < hw; ++j) {
        float xh, t, d;
        at(o + j, xh, t, d);
        Sd += d;
        Sdx += (double)d * xh;
        Sdt += (double)d * t;
        if (ybar) {
          Sy += ybar[o + j];
          Syx += (double)ybar[o + j] * xh;
        }
      }
    }
    double m = (double)(n * hw);
    // ẋ̄ = g r (ẏ̄ − Sd/m − x̂ Sdx/m)
    float gr = g * r, md = (float)(Sd / m), mdx = (float)(Sdx / m);
    // x̄ = r (q − mean q − x̂ mean x̂q) − (r g / m)(x̂ Sdt + t Sdx), q = g (ȳ − r b ẏ̄)
    float rb = r * fb;
    float mq = (float)(g * (Sy - r * b * Sd) / m), mxq = (float)(g * (Syx - r * b * Sdx) / m);
    float k = (float)(r * g / m), kdt = (float)(k * Sdt), kdx = (float)(k * Sdx);
    for (int64_t i = 0; i < n; ++i) {
      int64_t o = (i * c + ch) * hw;
      for (int64_t j = 0; j < hw; ++j) {
        float xh, t, d;
        at(o + j, xh, t, d);
        float q = g * ((ybar ? ybar[o + j] : 0.0f) - rb * d);
        xdotbar[o + j] = gr * (d - md - xh * mdx);
        xbar[o + j] = r * (q - mq - xh * mxq) - kdt * xh - kdx * t;
      }
    }
    dgamma[ch] += (float)(Syx + Sdt);
    dbeta[ch] += (float)Sy;
  });
}

}  // namespace mrigan::cpu
