// The convolution passes of the CUDA backend with an epilogue activation, in plain C++ (no CUDA types) so that the
// addon can call the fused forms (native/addon/cuda.cc). Defined in conv.cu; call only when MRIGAN_CUDA.
// Every pass takes the conv geometry s (cpu/ops.h ConvShape); the transpose reuses them with the roles of input and
// output swapped (conv_transpose.cu).
#pragma once
#include "cpu/ops.h"

namespace mrigan::cuda::conv {

// Epilogue activation applied after the bias in the output write.
enum Act : int { kNone = 0, kLeaky = 1, kTanh = 2, kSigmoid = 3 };

// y[n, k, p, q] = act(b[k] + Σ x·w)                         (conv forward; b may be null)
void forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope);
// dx[n, c, h, w] = act(b[c] + Σ dy·w)                       (conv backward-data = conv-transpose forward)
void backward_data(const float* dy, const float* w, const float* b, float* dx, const ConvShape& s, int act, float slope);
// dw[k, c, r, s] += Σ_{n,p,q} dy[n, k, p, q] · x[n, c, p·sh − pt + r, q·sw − pl + s]
void backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s);

}  // namespace mrigan::cuda::conv
