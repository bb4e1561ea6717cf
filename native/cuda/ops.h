// Declarations of the CUDA twins of native/cpu (same names, same signatures, namespace mrigan::cuda), expanded from
// core/ops.def. Plain C++ (no CUDA types) so the addon can include it in every build; the definitions exist only when
// the build has CUDA, and MRIGAN_DISPATCH never references them otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/conv_shape.h"

namespace mrigan::cuda {
#define MRIGAN_OP(ret, name, ...) ret name(__VA_ARGS__);
#include "core/ops.def"
#undef MRIGAN_OP
}  // namespace mrigan::cuda
