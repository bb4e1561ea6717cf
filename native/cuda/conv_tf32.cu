// The TF32 tensor-core tiles of the implicit-GEMM convolution (conv_gemm.cuh kernels instantiated for Mma<> tiles;
// the same tile serves backward-weight). Chosen only with TF32 on (set_tf32) and compute capability 8.0 or newer.
#include "cuda/conv_gemm.cuh"

namespace mrigan::cuda::conv {

using T128x128 = Mma<128, 128, 16, 2, 4>;
using T128x64 = Mma<128, 64, 16, 4, 2>;
using T64x128 = Mma<64, 128, 16, 2, 4>;
using T64x64 = Mma<64, 64, 16, 2, 2>;

Algo tf32_algo(int index) {
  switch (index) {
    case kTf32_128x128: return make_algo<T128x128, T128x128>("tf32_128x128");
    case kTf32_128x64: return make_algo<T128x64, T128x64>("tf32_128x64");
    case kTf32_64x128: return make_algo<T64x128, T64x128>("tf32_64x128");
    case kTf32_64x64: return make_algo<T64x64, T64x64>("tf32_64x64");
    default: throw Error(cat("conv: no TF32 algorithm with index ", index));
  }
}

}  // namespace mrigan::cuda::conv
