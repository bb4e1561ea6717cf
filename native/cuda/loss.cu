// Mean BCE-with-logits on the GPU (twin of native/cpu/loss.cc):
//   loss = (1/n) Σ max(x, 0) − x t + log(1 + e^{−|x|}),   grad_i = (σ(x_i) − t_i) / n.
// The logits of a GAN step are a handful of values (one per sample), so one block of 256 threads does it all:
// each thread computes its terms and gradients in double (as the CPU does), then a block reduction and one
// 8-byte copy back (bce_with_logits) or a float written in place on the device (bce_with_logits_to, no sync).
// Larger n still works (the loop strides), just on one SM.
#include "cuda/common.cuh"

namespace mrigan::cuda {

template <typename Out>
__global__ void bce_kernel(const float* __restrict__ x, const float* __restrict__ t, float* __restrict__ grad, size_t n,
                           Out* __restrict__ out) {
  __shared__ double red[32];
  double s = 0;
  double inv_n = 1.0 / (double)n;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    double v = x[i], tv = t[i], e = exp(-fabs(v));
    s += (v > 0.0 ? v : 0.0) - v * tv + log1p(e);
    double sig = v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    grad[i] = (float)((sig - tv) * inv_n);
  }
  s = block_sum(s, red);
  if (threadIdx.x == 0) *out = (Out)(s * inv_n);
}

double bce_with_logits(const float* logits, const float* targets, float* grad, size_t n) {
  if (!n) return 0.0;
  use_device_of(grad);
  Scratch out(2, current_device());
  double* d = reinterpret_cast<double*>(out.p);
  launch("bce_with_logits", bce_kernel<double>, 1, 256, 0, logits, targets, grad, n, d);
  double r = 0;
  to_host(&r, d, sizeof r);
  return r;
}

void bce_with_logits_to(const float* logits, const float* targets, float* grad, float* loss, size_t n) {
  use_device_of(loss);
  launch("bce_with_logits_to", bce_kernel<float>, 1, 256, 0, logits, targets, grad, n, loss);
}

}  // namespace mrigan::cuda
