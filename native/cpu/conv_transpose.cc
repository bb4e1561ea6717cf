// ConvTranspose2d, PyTorch semantics, weight IOHW [k, c, r, s] (k = transpose input channels, c = output channels):
//   y[b, co, i·sh − pt + a, j·sw − pl + e] += x[b, ki, i, j] · w[ki, co, a, e]  (scatter; positions outside y dropped),
// plus bias[co]; output size h = (p − 1)·sh − pt − pb + r + output_padding (the binding computes it).
// This is exactly the backward-data of the conv whose input is y [n, c, h, w] and whose output is x [n, k, p, q]
// (ConvShape s describes that conv), so no zero insertion is needed:
//   forward          y  = conv2d_backward_data(x, w) + bias
//   backward-data    dx = conv2d_forward(dy, w)             (no bias)
//   backward-weight  dw += conv2d_backward_weight with the roles of x and dy swapped.
#include "core/parallel.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

void conv_transpose2d_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s) {
  conv2d_backward_data(x, w, y, s);
  if (b) bias_add(y, b, s.n, s.c, s.h * s.w);
}

void conv_transpose2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  conv2d_forward(dy, w, nullptr, dx, s);
}

void conv_transpose2d_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  conv2d_backward_weight(x, dy, dw, s);
}

}  // namespace mrigan::cpu
