// Built without CUDA: every query says "no GPU" and every allocation on a GPU is a clear error.
#ifndef MRIGAN_CUDA
#include "core/device.h"
#include "core/error.h"

namespace mrigan {
int cuda_device_count() { return 0; }
const char* cuda_status() { return "this build has no CUDA (nvcc not found at build time, or MRIGAN_NO_CUDA)"; }
void* cuda_alloc(size_t, int) { throw Error("this mrigan build has no CUDA support"); }
void cuda_free(void*, int) {}
void cuda_memset0(void*, size_t, int) { throw Error("this mrigan build has no CUDA support"); }
void cuda_copy(void*, int, const void*, int, size_t) { throw Error("this mrigan build has no CUDA support"); }
void cuda_synchronize(int) {}
size_t cuda_peak_bytes(int) { return 0; }
}  // namespace mrigan
#endif
