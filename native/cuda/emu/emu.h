// A small CUDA emulator so that the kernels in native/cuda/*.cu can be run and checked on a machine without a GPU.
// Not part of the addon: native/cuda/emu/build.sh compiles the same .cu files as C++ with MRIGAN_CUDA_EMU defined,
// and common.cuh then includes this header instead of <cuda_runtime.h>.
//
// Model: a launch runs its blocks one after another; the threads of a block are fibers (ucontext) on one OS thread,
// switched only at __syncthreads() / warp primitives, so plain C++ code sees exactly the CUDA program order per
// thread. __shared__ becomes a function-local static (one copy, shared by the fibers of the running block).
// Warp shuffles and mma.sync go through per-warp slots with a warp barrier. Host API: a subset of the runtime
// (malloc-backed "device" memory, synchronous copies, events that measure nothing). Build it with ASan to catch
// out-of-bounds global or shared accesses; MRIGAN_EMU_ORDER=reverse runs the fibers in reverse order between
// barriers, which exposes a missing __syncthreads().
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

// ---- language ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static

struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(8) int2 { int x, y; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;

namespace emu {
void syncthreads();
void syncwarp();
uint64_t exchange(uint64_t v, int src_lane);  // all lanes of the warp post v; returns lane src_lane's
void check_align(const void* p, size_t a, const char* what);
// D(16x8) += A(16x8) B(8x8), TF32 inputs, fragments distributed as by mma.sync.m16n8k8.row.col (PTX ISA).
void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]);
void launch(dim3 grid, dim3 block, const std::function<void()>& body);
void fail(const char* what);
}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::syncwarp(); }
template <typename T>
inline T emu_shfl(T v, int src) {
  static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  u = emu::exchange(u, src & 31);
  T r;
  std::memcpy(&r, &u, sizeof(T));
  return r;
}
template <typename T> inline T __shfl_sync(unsigned, T v, int src, int = 32) { return emu_shfl(v, src); }
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int m, int = 32) {
  return emu_shfl(v, (int)(threadIdx.x % 32) ^ m);
}
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned d, int = 32) {
  int l = (int)(threadIdx.x % 32) + (int)d;
  return emu_shfl(v, l < 32 ? l : (int)(threadIdx.x % 32));
}

// One OS thread runs every fiber, so read-modify-write is atomic.
inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
inline double atomicAdd(double* p, double v) { double o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline int atomicMin(int* p, int v) { int o = *p; if (v < o) *p = v; return o; }
using std::isfinite;
template <typename T> inline T __ldg(const T* p) { return *p; }

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }

// ---- runtime API subset ----
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
};
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
typedef struct emu_stream* cudaStream_t;
typedef struct emu_event* cudaEvent_t;
constexpr unsigned cudaStreamNonBlocking = 1;
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor, multiProcessorCount;
  size_t sharedMemPerBlock;
};
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaGetDevice(int* dev);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b);
cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t bytes, cudaMemcpyKind k, cudaStream_t st = nullptr);
cudaError_t cudaMemcpyPeerAsync(void* d, int dd, const void* s, int sd, size_t bytes, cudaStream_t st = nullptr);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b);
