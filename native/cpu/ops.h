// Declarations of every kernel entry point (namespace mrigan::cpu). The list itself is cpu/ops.def, shared with
// native/cuda/ops.h so both backends keep one signature per op. Pointers are device pointers of the tensor's device;
// all arrays are float32, contiguous, NCHW. Parameter-gradient outputs accumulate (+=) so layers can sum passes.
#pragma once
#include <cstddef>
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

namespace cpu {
#define MRIGAN_OP(ret, name, ...) ret name(__VA_ARGS__);
#include "cpu/ops.def"
#undef MRIGAN_OP
}  // namespace cpu

}  // namespace mrigan
