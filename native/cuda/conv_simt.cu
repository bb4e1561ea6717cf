// The fp32 SIMT tiles of the implicit-GEMM convolution (conv_gemm.cuh kernels instantiated for Simt<> tiles).
#include "cuda/conv_gemm.cuh"

namespace mrigan::cuda::conv {

using S128x128 = Simt<128, 128, 8, 8, 8, false>;
using S128x64 = Simt<128, 64, 8, 8, 4, false>;
using S64x128 = Simt<64, 128, 8, 4, 8, false>;
using S64x64 = Simt<64, 64, 16, 4, 4, false>;
using S128x32 = Simt<128, 32, 8, 4, 4, false>;
using S32x32 = Simt<32, 32, 32, 4, 4, false>;  // 64 threads: small layers with a long reduction (D1/G7 weights)
// backward-weight: the output is contiguous along N, so SIMT threads step along N.
using W128x128 = Simt<128, 128, 8, 8, 8, true>;
using W128x64 = Simt<128, 64, 8, 8, 4, true>;
using W64x128 = Simt<64, 128, 8, 4, 8, true>;
using W64x64 = Simt<64, 64, 16, 4, 4, true>;
using W128x32 = Simt<128, 32, 8, 4, 4, true>;
using W32x32 = Simt<32, 32, 32, 4, 4, true>;

Algo simt_algo(int index) {
  switch (index) {
    case kSimt128x128: return make_algo<S128x128, W128x128>("simt128x128");
    case kSimt128x64: return make_algo<S128x64, W128x64>("simt128x64");
    case kSimt64x128: return make_algo<S64x128, W64x128>("simt64x128");
    case kSimt64x64: return make_algo<S64x64, W64x64>("simt64x64");
    case kSimt128x32: return make_algo<S128x32, W128x32>("simt128x32");
    case kSimt32x32: return make_algo<S32x32, W32x32>("simt32x32");
    default: throw Error(cat("conv: no SIMT algorithm with index ", index));
  }
}

}  // namespace mrigan::cuda::conv
