// The fused conv + bias + activation forwards on the CPU: the separate ops in sequence (the activation in place on
// the output), except (leaky) ReLU on the Winograd and direct conv kernels, which apply it in their output store. The CUDA twins (conv.cu, conv_transpose.cu) apply the activation in the output write; both give
// act(conv + b) with the activation of act.cc, so a layer can call the fused op on any device.
#include "cpu/conv_direct.h"
#include "cpu/conv_wino.h"
#include "cpu/ops.h"

namespace mrigan::cpu {

static void act_in_place(float* y, size_t n, int act, float slope) {
  if (act == kActLeaky) leaky_relu_forward(y, y, n, slope);
  else if (act == kActTanh) tanh_forward(y, y, n);
  else if (act == kActSigmoid) sigmoid_forward(y, y, n);
}

void conv2d_forward_act(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope) {
  // The direct kernel applies (leaky) ReLU as it stores each output row (no second pass over y); the same formula,
  // so the result is the same bits.
  if (act == kActLeaky && (conv_wino_forward(x, w, b, y, s, true, slope) || conv_direct_forward(x, w, b, y, s, true, slope))) return;
  conv2d_forward(x, w, b, y, s);
  act_in_place(y, (size_t)(s.n * s.k * s.p * s.q), act, slope);
}

void conv_transpose2d_forward_act(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act,
                                  float slope) {
  conv_transpose2d_forward(x, w, b, y, s);
  act_in_place(y, (size_t)(s.n * s.c * s.h * s.w), act, slope);
}

}  // namespace mrigan::cpu
