// Conv geometry and the fused-epilogue activation, shared by both backends (native/cpu, native/cuda) and the addon.
#pragma once
#include <cstdint>

namespace mrigan {

// Conv geometry shared by conv2d and conv-transpose2d. For conv: input x [n, c, h, w], weight [k, c, r, s],
// output y [n, k, p, q] with p = (h + pad_t + pad_b - r) / stride_h + 1. Conv-transpose swaps the roles of x and y:
// its input has the conv's output shape and its weight is the same [c_in=k ... ] IOHW tensor (see conv_transpose.cc).
struct ConvShape {
  int64_t n, c, h, w;      // conv input
  int64_t k, r, s;         // filters, kernel height, kernel width
  int64_t stride_h, stride_w;
  int64_t pad_t, pad_b, pad_l, pad_r;
  int64_t p, q;            // conv output height, width
};

// Activation of the fused conv epilogue (conv2d_forward_act, conv_transpose2d_forward_act), applied after the bias.
// ReLU is kActLeaky with slope 0. An int in the op signatures so that both backends and the addon share one list.
enum Act : int { kActNone = 0, kActLeaky = 1, kActTanh = 2, kActSigmoid = 3 };

}  // namespace mrigan
