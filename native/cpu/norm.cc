// BatchNorm over channel c of x viewed as [n, c, hw], PyTorch semantics. With N = n·hw values per channel:
//   train:   mean = Σx/N, var = Σ(x − mean)²/N (biased, normalises), invstd = 1/√(var + eps),
//            y = (x − mean)·γ·invstd + β; running_mean = (1 − m)·running_mean + m·mean,
//            running_var = (1 − m)·running_var + m·var·N/(N − 1) (unbiased). N = 1 is rejected by the binding.
//   eval:    y = (x − running_mean)·γ/√(running_var + eps) + β.
//   backward (training mode, through the batch statistics), x̂ = (x − mean)·invstd:
//            dβ += Σdy, dγ += Σdy·x̂, dx = γ·invstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N).
// Channel sums are float64. Statistics are accumulated around a per-channel shift K (the channel's first value),
// so Σ(x − K)² does not cancel when |mean| ≫ std. Two layouts: hw > 1 walks each channel's n rows of hw
// contiguous floats (parallel over channels); hw = 1 (after a Dense) walks the n rows of c floats with per-channel
// accumulators (parallel over channel ranges), which keeps the loads contiguous and vectorised.
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// For every channel: s1[ch] = Σ a, s2[ch] = Σ b over the channel's N elements, where f(x, o, ch, a, b) gives the
// terms of one element of x and the element at the same index of o (forward passes o = x and ignores it).
template <typename F>
static void channel_sums(const float* x, const float* o, int64_t n, int64_t c, int64_t hw, double* s1, double* s2,
                         F f) {
  if (hw == 1) {
    parallel_chunks(c, 64, [=](int64_t c0, int64_t c1) {
      for (int64_t ch = c0; ch < c1; ++ch) s1[ch] = s2[ch] = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const float *xr = x + i * c, *orow = o + i * c;
#pragma omp simd
        for (int64_t ch = c0; ch < c1; ++ch) {
          double a, b;
          f(xr[ch], orow[ch], ch, a, b);
          s1[ch] += a;
          s2[ch] += b;
        }
      }
    });
    return;
  }
  parallel_for(c, [=](int64_t ch) {
    double a1 = 0.0, a2 = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float *xr = x + (i * c + ch) * hw, *orow = o + (i * c + ch) * hw;
      double r1 = 0.0, r2 = 0.0;
#pragma omp simd reduction(+ : r1, r2)
      for (int64_t j = 0; j < hw; ++j) {
        double a, b;
        f(xr[j], orow[j], ch, a, b);
        r1 += a;
        r2 += b;
      }
      a1 += r1;
      a2 += r2;
    }
    s1[ch] = a1;
    s2[ch] = a2;
  });
}

// y = (x − sub[ch])·mul[ch] + add[ch] for every element.
static void channel_affine(const float* x, float* y, const float* sub, const float* mul, const float* add, int64_t n,
                           int64_t c, int64_t hw) {
  if (hw == 1) {
    parallel_for(n, [=](int64_t i) {
      const float* xr = x + i * c;
      float* yr = y + i * c;
      for (int64_t ch = 0; ch < c; ++ch) yr[ch] = (xr[ch] - sub[ch]) * mul[ch] + add[ch];
    });
    return;
  }
  parallel_for(n * c, [=](int64_t row) {
    int64_t ch = row % c;
    const float s = sub[ch], m = mul[ch], a = add[ch];
    const float* xr = x + row * hw;
    float* yr = y + row * hw;
    for (int64_t j = 0; j < hw; ++j) yr[j] = (xr[j] - s) * m + a;
  });
}

void batchnorm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                             float* invstd, float* run_mean, float* run_var, int64_t n, int64_t c, int64_t hw,
                             float momentum, float eps) {
  const double N = (double)n * (double)hw;
  std::vector<float> shift(c), mul(c);
  for (int64_t ch = 0; ch < c; ++ch) shift[ch] = x[ch * hw];  // first value of each channel (sample 0)
  std::vector<double> s(c), q(c);
  const float* K = shift.data();
  channel_sums(x, x, n, c, hw, s.data(), q.data(), [K](float v, float, int64_t ch, double& a, double& b) {
    double d = (double)v - (double)K[ch];
    a = d;
    b = d * d;
  });
  for (int64_t ch = 0; ch < c; ++ch) {
    double dm = s[ch] / N;                       // mean − K
    double var = q[ch] / N - dm * dm;            // biased
    if (var < 0.0) var = 0.0;
    double m = (double)K[ch] + dm, is = 1.0 / std::sqrt(var + (double)eps);
    mean[ch] = (float)m;
    invstd[ch] = (float)is;
    mul[ch] = (float)((double)gamma[ch] * is);
    double mo = momentum;
    run_mean[ch] = (float)((1.0 - mo) * (double)run_mean[ch] + mo * m);
    run_var[ch] = (float)((1.0 - mo) * (double)run_var[ch] + mo * var * N / (N - 1.0));
  }
  channel_affine(x, y, mean, mul.data(), beta, n, c, hw);
}

void batchnorm_forward_eval(const float* x, const float* gamma, const float* beta, const float* run_mean,
                            const float* run_var, float* y, int64_t n, int64_t c, int64_t hw, float eps) {
  std::vector<float> mul(c);
  for (int64_t ch = 0; ch < c; ++ch) mul[ch] = (float)((double)gamma[ch] / std::sqrt((double)run_var[ch] + (double)eps));
  channel_affine(x, y, run_mean, mul.data(), beta, n, c, hw);
}

void batchnorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* invstd,
                        float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
  const double N = (double)n * (double)hw;
  std::vector<double> sdy(c), sdyx(c);  // Σdy, Σdy·(x − mean)
  channel_sums(dy, x, n, c, hw, sdy.data(), sdyx.data(), [mean](float g, float v, int64_t ch, double& a, double& b) {
    a = g;
    b = (double)g * ((double)v - (double)mean[ch]);
  });
  // dx = dy·k − (x − mean)·k2 − k3 with k = γ·invstd, k2 = k·invstd²·Σdy(x − mean)/N, k3 = k·Σdy/N.
  std::vector<float> k(c), k2(c), k3(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    double is = invstd[ch], kk = (double)gamma[ch] * is;
    k[ch] = (float)kk;
    k2[ch] = (float)(kk * is * is * sdyx[ch] / N);
    k3[ch] = (float)(kk * sdy[ch] / N);
    dgamma[ch] += (float)(sdyx[ch] * is);
    dbeta[ch] += (float)sdy[ch];
  }
  const float *K = k.data(), *K2 = k2.data(), *K3 = k3.data();
  if (hw == 1) {
    parallel_for(n, [=](int64_t i) {
      const float *g = dy + i * c, *v = x + i * c;
      float* o = dx + i * c;
      for (int64_t ch = 0; ch < c; ++ch) o[ch] = g[ch] * K[ch] - (v[ch] - mean[ch]) * K2[ch] - K3[ch];
    });
    return;
  }
  parallel_for(n * c, [=](int64_t row) {
    int64_t ch = row % c;
    const float a = K[ch], b = K2[ch], d = K3[ch], m = mean[ch];
    const float *g = dy + row * hw, *v = x + row * hw;
    float* o = dx + row * hw;
    for (int64_t j = 0; j < hw; ++j) o[j] = g[j] * a - (v[j] - m) * b - d;
  });
}

}  // namespace mrigan::cpu
