// Winograd F(3×3, 2×2) and F(4×4, 2×2) convolution for 4×4 stride-2 layers (conv_wino.cc), hooked ahead of the direct kernels in
// conv2d_forward and conv2d_forward_act (so also conv-transpose backward-data) and in conv2d_backward_data (so also
// conv-transpose forward) and conv2d_backward_weight (so also conv-transpose backward-weight). Each returns false, having done nothing, unless the tuning knob (gemm.h
// ConvTuning::kernel: 'wino' forces it, 'auto' where it pays) and the shape choose it.
#pragma once
#include "cpu/ops.h"

namespace mrigan::cpu {

bool wino_applies(const ConvShape& s);  // 4×4 stride 2, AVX-512 build
bool wino_chosen(const ConvShape& s);  // the knob and shape pick it
// leaky: y = v > 0 ? v : slope·v applied as the rows are stored (conv2d_forward_act's ReLU / LeakyReLU).
bool conv_wino_forward(const float* x, const float* w, const float* bias, float* y, const ConvShape& s, bool leaky = false,
                       float slope = 0.0f);
bool conv_wino_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s);
bool conv_wino_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s);  // dw +=

}  // namespace mrigan::cpu
