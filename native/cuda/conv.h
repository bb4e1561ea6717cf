// The convolution passes of the CUDA backend with an epilogue activation (core/conv_shape.h Act), in plain C++.
// Defined in conv.cu (algorithm choice and launches; kernels in conv_gemm.cuh, conv_simt.cu, conv_tf32.cu,
// conv_direct.cu). Every pass takes the conv geometry s (core/conv_shape.h ConvShape); the transpose reuses them with
// the roles of input and output swapped (conv_transpose.cu).
#pragma once
#include "core/conv_shape.h"

namespace mrigan::cuda::conv {

// y[n, k, p, q] = act(b[k] + Σ x·w)                         (conv forward; b may be null)
void forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope);
// dx[n, c, h, w] = act(b[c] + Σ dy·w)                       (conv backward-data = conv-transpose forward)
void backward_data(const float* dy, const float* w, const float* b, float* dx, const ConvShape& s, int act, float slope);
// dw[k, c, r, s] += Σ_{n,p,q} dy[n, k, p, q] · x[n, c, p·sh − pt + r, q·sw − pl + s]
void backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s);

}  // namespace mrigan::cuda::conv
