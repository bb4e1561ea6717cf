// Direct (channel-blocked, AVX-512) conv2d forward and backward-data (conv_direct.cc) and backward-weight
// (conv_direct_wgrad.cc), hooked at the top of the three passes in conv.cc. Each returns false, having done nothing, when the tuning knob
// (gemm.h ConvTuning::kernel) or the shape sends the call to the implicit-GEMM path instead.
#pragma once
#include "cpu/ops.h"

namespace mrigan::cpu {

// leaky: y = v > 0 ? v : slope·v applied as the rows are stored (conv2d_forward_act's ReLU / LeakyReLU).
bool conv_direct_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s,
                         bool leaky = false, float slope = 0.0f);
bool conv_direct_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s);
bool conv_direct_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s);  // dw +=

}  // namespace mrigan::cpu
