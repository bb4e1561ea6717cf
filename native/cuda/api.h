// CUDA-backend controls beyond core/device.h, in plain C++ (no CUDA types) so that native/addon/cuda.cc and the
// communicator can include it in every build. Defined in native/cuda/runtime.cu; only call when MRIGAN_CUDA.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mrigan::cuda {

struct MemStats {
  size_t in_use = 0;     // bytes handed out now (bucket sizes)
  size_t peak = 0;       // most bytes handed out at once since the last reset
  size_t reserved = 0;   // bytes held from cudaMalloc (in use + cached)
  uint64_t mallocs = 0;  // cudaMalloc calls so far: constant across steady-state training steps
  uint64_t frees = 0;    // cudaFree calls (only when an allocation failed and the cache was emptied)
};
MemStats mem_stats(int dev);
void reset_peak(int dev);
void empty_cache(int dev);      // returns cached blocks to the driver (after a sync)

void* stream_handle(int dev);   // the process's cudaStream_t on dev (for NCCL)

// TF32 tensor cores for convolutions: MRIGAN_TF32=1 at start-up, or set_tf32 at run time. Off by default.
void set_tf32(bool on);
bool tf32();

// Convolution kernel choice per pass (0 forward, 1 backward-data, 2 backward-weight): -1 = automatic
// (first call of each shape times the candidates, like cudnn.benchmark), otherwise a fixed index into
// conv_algo_names(pass). For tests and benchmarks.
void set_conv_algo(int pass, int algo);
int conv_algo_count(int pass);
const char* conv_algo_name(int pass, int algo);

}  // namespace mrigan::cuda
