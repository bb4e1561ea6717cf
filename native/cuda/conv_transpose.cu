// ConvTranspose2d on the GPU (twin of native/cpu/conv_transpose.cc), PyTorch semantics, weight IOHW [k, c, r, s].
// s describes the equivalent conv: its input is the transpose's output [n, c, h, w], its output the transpose's input
// [n, k, p, q]. So, with no zero insertion anywhere (docs/design.md §3):
//   forward          = conv backward-data of dy := x  (stride-phase implicit GEMM, see conv.cu), bias in the epilogue
//   backward-data    = conv forward of x := dy
//   backward-weight  = conv backward-weight with the conv's dy := the transpose's input x and the conv's x := dy
// The launch shapes and algorithm choice are those of conv.cu's passes.
#include "cuda/common.cuh"
#include "cuda/conv.h"

namespace mrigan::cuda {

void conv_transpose2d_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s) {
  conv::backward_data(x, w, b, y, s, kActNone, 0.f);
}
void conv_transpose2d_forward_act(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act,
                                  float slope) {
  conv::backward_data(x, w, b, y, s, act, slope);
}
void conv_transpose2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  conv::forward(dy, w, nullptr, dx, s, kActNone, 0.f);
}
void conv_transpose2d_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  conv::backward_weight(x, dy, dw, s);
}

}  // namespace mrigan::cuda
