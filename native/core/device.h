// Device memory and queries. CPU is device -1; CUDA devices are 0..n-1. The CUDA side (native/cuda/runtime.cu)
// implements these when the build has CUDA; native/core/device_stub.cc answers "no GPU" otherwise.
#pragma once
#include <cstddef>

namespace mrigan {

constexpr int kCPU = -1;

int cuda_device_count();                 // 0 when built without CUDA, no driver, or no device
const char* cuda_status();               // why there is no GPU, or the device name(s)
void* cuda_alloc(size_t bytes, int dev); // from the caching allocator; throws mrigan::Error on failure
void cuda_free(void* p, int dev);        // back to the cache
void cuda_memset0(void* p, size_t bytes, int dev);
// Copies between host and device (either side may be kCPU); synchronous w.r.t. the host.
void cuda_copy(void* dst, int dst_dev, const void* src, int src_dev, size_t bytes);
void cuda_synchronize(int dev);
size_t cuda_peak_bytes(int dev);         // peak bytes handed out by the caching allocator

}  // namespace mrigan
