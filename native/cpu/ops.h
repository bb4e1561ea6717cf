// Declarations of every kernel entry point (namespace mrigan::cpu). The list itself is core/ops.def, shared with
// native/cuda/ops.h so both backends keep one signature per op. Pointers are device pointers of the tensor's device;
// all arrays are float32, contiguous, NCHW. Parameter-gradient outputs accumulate (+=) so layers can sum passes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/conv_shape.h"

namespace mrigan::cpu {
#define MRIGAN_OP(ret, name, ...) ret name(__VA_ARGS__);
#include "core/ops.def"
#undef MRIGAN_OP
}  // namespace mrigan::cpu
