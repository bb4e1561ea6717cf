// BatchNorm over channel c of x viewed as [n, c, hw], PyTorch semantics. With N = n·hw values per channel:
//   train:   mean = Σx/N, var = Σ(x − mean)²/N (biased, normalises), invstd = 1/√(var + eps),
//            y = (x − mean)·γ·invstd + β; running_mean = (1 − m)·running_mean + m·mean,
//            running_var = (1 − m)·running_var + m·var·N/(N − 1) (unbiased). N = 1 is rejected by the binding.
//   eval:    y = (x − running_mean)·γ/√(running_var + eps) + β.
//   backward (training mode, through the batch statistics), x̂ = (x − mean)·invstd:
//            dβ += Σdy, dγ += Σdy·x̂, dx = γ·invstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N).
// Channel sums are float64. Statistics are accumulated around a per-channel shift K (the channel's first value),
// so Σ(x − K)² does not cancel when |mean| ≫ std; the forward affine runs in float64 too. Two layouts: hw > 1
// walks each channel's n rows of hw contiguous floats (parallel over channels); hw = 1 (after a Dense) walks the n
// rows of c floats with per-channel accumulators (parallel over channel ranges), keeping loads contiguous.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

// Per-channel pair of float64 sums over the channel's N elements, for the two reductions BatchNorm needs:
//   Stats: s1 = Σ(x − K), s2 = Σ(x − K)²                  (a = x, K[ch] the shift)
//   Dot:   s1 = Σ dy,     s2 = Σ dy·(x − mean)             (a = dy, b = x, K = mean)
// Written out per case: a generic per-element lambda here vectorised 2-4x worse.
enum class Sums { Stats, Dot };

template <Sums S>
static void channel_sums(const float* a, const float* b, const float* K, int64_t n, int64_t c, int64_t hw, double* s1,
                         double* s2) {
  if (hw == 1) {  // rows of c channels: per-channel accumulators, channel ranges in parallel
    parallel_chunks(c, 64, [=](int64_t c0, int64_t c1) {
      for (int64_t ch = c0; ch < c1; ++ch) s1[ch] = s2[ch] = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const float *ar = a + i * c, *br = b + i * c;
        for (int64_t ch = c0; ch < c1; ++ch) {
          if (S == Sums::Stats) {
            double d = (double)ar[ch] - (double)K[ch];
            s1[ch] += d;
            s2[ch] += d * d;
          } else {
            s1[ch] += (double)ar[ch];
            s2[ch] += (double)ar[ch] * ((double)br[ch] - (double)K[ch]);
          }
        }
      }
    });
    return;
  }
  parallel_for(c, [=](int64_t ch) {  // each channel: n rows of hw contiguous floats
    const double k = K[ch];
    double t1 = 0.0, t2 = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float *ar = a + (i * c + ch) * hw, *br = b + (i * c + ch) * hw;
      double r1 = 0.0, r2 = 0.0;
      if (S == Sums::Stats) {
#pragma omp simd reduction(+ : r1, r2)
        for (int64_t j = 0; j < hw; ++j) {
          double d = (double)ar[j] - k;
          r1 += d;
          r2 += d * d;
        }
      } else {
#pragma omp simd reduction(+ : r1, r2)
        for (int64_t j = 0; j < hw; ++j) {
          r1 += (double)ar[j];
          r2 += (double)ar[j] * ((double)br[j] - k);
        }
      }
      t1 += r1;
      t2 += r2;
    }
    s1[ch] = t1;
    s2[ch] = t2;
  });
}

// y = (x − sub[ch])·mul[ch] + add[ch] in float64, rounded once: x − mean does not lose the float32 resolution of
// x when |mean| ≫ std (memory-bound, so the double arithmetic is free).
static void channel_affine(const float* x, float* y, const double* sub, const double* mul, const double* add,
                           int64_t n, int64_t c, int64_t hw) {
  if (hw == 1) {
    parallel_for(n, [=](int64_t i) {
      const float* xr = x + i * c;
      float* yr = y + i * c;
      for (int64_t ch = 0; ch < c; ++ch) yr[ch] = (float)(((double)xr[ch] - sub[ch]) * mul[ch] + add[ch]);
    });
    return;
  }
  parallel_for(n * c, [=](int64_t row) {
    const int64_t ch = row % c;
    const double s = sub[ch], m = mul[ch], a = add[ch];
    const float* xr = x + row * hw;
    float* yr = y + row * hw;
    for (int64_t j = 0; j < hw; ++j) yr[j] = (float)(((double)xr[j] - s) * m + a);
  });
}

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                             float* invstd, float* run_mean, float* run_var, int64_t n, int64_t c, int64_t hw,
                             float momentum, float eps) {
  const double N = (double)n * (double)hw, mo = momentum;
  std::vector<float> shift(c);
  for (int64_t ch = 0; ch < c; ++ch) shift[ch] = x[ch * hw];  // the channel's first value (sample 0)
  std::vector<double> s(c), q(c), m(c), mul(c), add(c);
  channel_sums<Sums::Stats>(x, x, shift.data(), n, c, hw, s.data(), q.data());
  for (int64_t ch = 0; ch < c; ++ch) {
    double dm = s[ch] / N;                              // mean − K
    double var = std::max(q[ch] / N - dm * dm, 0.0);    // biased
    double is = 1.0 / std::sqrt(var + (double)eps);
    m[ch] = (double)shift[ch] + dm;
    mean[ch] = (float)m[ch];
    invstd[ch] = (float)is;
    mul[ch] = (double)gamma[ch] * is;
    add[ch] = beta[ch];
    run_mean[ch] = (float)((1.0 - mo) * (double)run_mean[ch] + mo * m[ch]);
    run_var[ch] = (float)((1.0 - mo) * (double)run_var[ch] + mo * var * N / (N - 1.0));
  }
  channel_affine(x, y, m.data(), mul.data(), add.data(), n, c, hw);
}

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* run_mean,
                            const float* run_var, float* y, int64_t n, int64_t c, int64_t hw, float eps) {
  std::vector<double> m(c), mul(c), add(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    m[ch] = run_mean[ch];
    mul[ch] = (double)gamma[ch] / std::sqrt((double)run_var[ch] + (double)eps);
    add[ch] = beta[ch];
  }
  channel_affine(x, y, m.data(), mul.data(), add.data(), n, c, hw);
}

void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* invstd,
                        float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c, int64_t hw) {
  const double N = (double)n * (double)hw;
  std::vector<double> sdy(c), sdyx(c);  // Σdy, Σdy·(x − mean)
  channel_sums<Sums::Dot>(dy, x, mean, n, c, hw, sdy.data(), sdyx.data());
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
    const int64_t ch = row % c;
    const float a = K[ch], b = K2[ch], d = K3[ch], m = mean[ch];
    const float *g = dy + row * hw, *v = x + row * hw;
    float* o = dx + row * hw;
    for (int64_t j = 0; j < hw; ++j) o[j] = g[j] * a - (v[j] - m) * b - d;
  });
}

}  // namespace mrigan::cpu
