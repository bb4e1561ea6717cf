// Activations and dropout, elementwise over n floats.
//   leaky_relu: y = x > 0 ? x : slope·x; dx = x > 0 ? dy : slope·dy (PyTorch: the slope side at x = 0).
//   tanh, sigmoid: backward from the forward output y: dx = dy·(1 − y²), dx = dy·y·(1 − y).
//   dropout: keep i iff philox_uniform(seed, stream, offset, i) >= p; mask = keep / (1 − p); y = x·mask.
// Memory-bound loops split into large chunks per thread; lambdas capture by value so that stores through y cannot
// alias the scalars (which would block vectorisation). tanh and sigmoid use exp_approx below instead of libm:
// glibc's scalar tanhf costs ~12 ns/element, while this plain-C version vectorises (~1 ulp for exp, a few ulp
// for tanh/sigmoid: far below the 1e-4 float32 budget).
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "core/philox.h"
#include "cpu/ops.h"
#include "cpu/philox_blocks.h"

namespace mrigan::cpu {

static constexpr int64_t kChunk = 1 << 14;

template <typename F>
static void chunks(size_t n, F&& f) {
  parallel_chunks((int64_t)n, kChunk, [&](int64_t lo, int64_t hi) { f((size_t)lo, (size_t)hi); });
}

// e^x for float x, branch-free so loops vectorise. x = k·ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2),
// e^r by its degree-7 Taylor polynomial (truncation < 1e-8 relative), 2^k put straight into the exponent bits.
// x is clamped to [ln FLT_MIN, 88] so 2^k stays a normal float: below FLT_MIN the result is 0 (no subnormals),
// above 88 it saturates at ~1.65e38 (callers never need more). NaN stays NaN.
static inline float exp_approx(float x0) {
  const float lo = -87.33654f;  // ln FLT_MIN
  float x = x0 < lo ? lo : (x0 > 88.0f ? 88.0f : x0);
  const float shifter = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
  float t = x * 1.44269504088896341f + shifter;
  float k = t - shifter;
  float r = x - k * 0.693359375f - k * -2.12194440e-4f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
            r * (1.0f / 720 + r * (1.0f / 5040)))))));
  uint32_t tb;
  std::memcpy(&tb, &t, 4);
  uint32_t sb = (tb - 0x4B400000u + 127u) << 23;  // (k + 127) << 23: the float 2^k
  float s;
  std::memcpy(&s, &sb, 4);
  return x0 < lo ? 0.0f : p * s;
}

// tanh: odd Taylor series to x^15 below |x| = 0.4 (relative truncation ~4e-9), (1 − e^{−2|x|}) / (1 + e^{−2|x|})
// above (no cancellation there since e^{−0.8} < 0.45).
static inline float tanh_approx(float x) {
  float a = std::fabs(x), a2 = a * a;
  float small = a * (1.0f + a2 * (-1.0f / 3 + a2 * (2.0f / 15 + a2 * (-17.0f / 315 + a2 * (62.0f / 2835 +
                a2 * (-1382.0f / 155925 + a2 * (21844.0f / 6081075 + a2 * (-929569.0f / 638512875))))))));
  float e = exp_approx(-2.0f * a);
  float big = (1.0f - e) / (1.0f + e);
  return std::copysign(a < 0.4f ? small : big, x);
}

// sigmoid from e = e^{−|x|} ∈ (0, 1]: 1/(1+e) for x >= 0 and e/(1+e) for x < 0, accurate on both tails.
static inline float sigmoid_approx(float x) {
  float e = exp_approx(-std::fabs(x));
  float d = 1.0f / (1.0f + e);
  return x >= 0.0f ? d : e * d;
}

void leaky_relu_forward(const float* x, float* y, size_t n, float slope) {
  chunks(n, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {  // both sides computed, then selected: the compiler won't speculate a multiply
      float v = x[i], s = slope * v;
      y[i] = v > 0.0f ? v : s;
    }
  });
}

void leaky_relu_backward(const float* dy, const float* x, float* dx, size_t n, float slope) {
  chunks(n, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) {
      float g = dy[i], s = slope * g;
      dx[i] = x[i] > 0.0f ? g : s;
    }
  });
}

void tanh_forward(const float* x, float* y, size_t n) {
  chunks(n, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) y[i] = tanh_approx(x[i]);
  });
}

void tanh_backward(const float* dy, const float* y, float* dx, size_t n) {
  chunks(n, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
  });
}

void sigmoid_forward(const float* x, float* y, size_t n) {
  chunks(n, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) y[i] = sigmoid_approx(x[i]);
  });
}

void sigmoid_backward(const float* dy, const float* y, float* dx, size_t n) {
  chunks(n, [=](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
  });
}

// Element i is kept iff its Philox uniform (philox_blocks.h walks the draw a block of 4 at a time) is >= p.
void dropout_forward(const float* x, float* y, float* mask, size_t n, float p, uint64_t seed, uint32_t stream,
                     uint64_t offset) {
  const float keep_scale = 1.0f / (1.0f - p);
  auto lane = [=](const Philox4& r, size_t i, int l) {  // by value: stores through y/mask cannot alias p
    float mk = philox_u01(r.v[l]) >= p ? keep_scale : 0.0f;
    mask[i] = mk;
    y[i] = x[i] * mk;
  };
  philox_for_each(n, seed, stream, offset, lane);
}

}  // namespace mrigan::cpu
