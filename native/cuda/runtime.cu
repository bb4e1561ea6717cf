// The CUDA runtime side of core/device.h: device detection, one stream per device for the whole process, a caching
// allocator, host<->device copies, and the launch/error checks of common.cuh.
//
// Detection: the CUDA runtime is linked statically, so on a machine without a driver cudaGetDeviceCount fails
// with cudaErrorInsufficientDriver (no libcuda.so) or cudaErrorNoDevice; both mean "0 GPUs", and cuda_status()
// says which. Nothing here aborts: every CUDA error becomes a mrigan::Error with the call and its location.
//
// Allocator: requests are rounded to size buckets (512 B steps below 1 MiB, then 1/8 of the next power of two,
// so at most 12.5% waste) and freed blocks wait in a per-bucket free list of their device. A steady-state
// training step asks for the same sizes every time, so after the first step there is no cudaMalloc/cudaFree
// (mem_stats().mallocs stays constant). Blocks are reused in stream order (one stream per device), which needs no
// events. When cudaMalloc fails the cache is returned to the driver and the allocation retried once.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/common.cuh"

namespace mrigan::cuda {

// ------------------------------------------------------------------ detection
namespace {
struct Detect {
  int count = 0;
  std::string status;
  Detect() {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      int drv = 0;
      cudaDriverGetVersion(&drv);
      cudaGetLastError();  // clear the sticky error of the failed query
      if (e == cudaErrorInsufficientDriver && drv == 0)
        status = "no CUDA driver on this machine (libcuda.so not found): running on CPU";
      else if (e == cudaErrorInsufficientDriver)
        status = cat("the NVIDIA driver (CUDA ", drv / 1000, ".", drv % 1000 / 10,
                     ") is older than this build's CUDA runtime: update the driver to use the GPU");
      else if (e == cudaErrorNoDevice)
        status = "no CUDA-capable GPU found (or CUDA_VISIBLE_DEVICES hides them)";
      else
        status = cat("CUDA unavailable: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
      return;
    }
    count = n;
    if (n == 0) {
      status = "no CUDA-capable GPU found";
      return;
    }
    for (int d = 0; d < n; ++d) {
      cudaDeviceProp p;
      if (cudaGetDeviceProperties(&p, d) != cudaSuccess) {
        cudaGetLastError();
        status += cat(d ? "; " : "", "cuda:", d, " (properties unavailable)");
        continue;
      }
      status += cat(d ? "; " : "", "cuda:", d, " ", p.name, " (sm_", p.major, p.minor, ", ",
                    (p.totalGlobalMem + (1 << 29)) >> 30, " GiB, ", p.multiProcessorCount, " SMs)");
    }
  }
};
Detect& detect() {
  static Detect* d = new Detect();  // leaked on purpose: usable during static destruction
  return *d;
}

bool env_flag(const char* name) {
  const char* e = std::getenv(name);
  return e && *e && std::strcmp(e, "0") != 0;
}

// ------------------------------------------------------------------ per-device state
struct Block { size_t bucket; int dev; };
struct DeviceState {
  cudaStream_t stream = nullptr;
  std::map<size_t, std::vector<void*>> free_lists;  // bucket size -> cached blocks
  MemStats stats;
};
struct State {
  std::mutex mu;
  std::vector<DeviceState> devs;
  std::unordered_map<void*, Block> live;
  int current = -1;
};
State& state() {
  static State* s = new State();  // leaked on purpose (see detect())
  return *s;
}

size_t bucket_of(size_t bytes) {
  if (bytes == 0) bytes = 1;
#ifdef MRIGAN_CUDA_EMU
  return bytes;  // exact sizes, so that AddressSanitizer sees every overrun
#else
  if (bytes < (size_t(1) << 20)) return (bytes + 511) & ~size_t(511);
  size_t p = size_t(1) << 20;
  while (p < bytes) p <<= 1;
  size_t step = p / 8;  // bytes is in (p/2, p]
  return (bytes + step - 1) / step * step;
#endif
}

void check_dev(int dev) {
  MRIGAN_CHECK(dev >= 0 && dev < detect().count, "device cuda:", dev, " is not available (", detect().status, ")");
}

// Makes dev current and creates its stream on first use. Caller holds the lock.
DeviceState& activate(State& s, int dev) {
  check_dev(dev);
  if ((int)s.devs.size() < detect().count) s.devs.resize(detect().count);
  if (s.current != dev) {
    CUDA_CHECK(cudaSetDevice(dev));
    s.current = dev;
  }
  DeviceState& d = s.devs[dev];
  if (!d.stream) CUDA_CHECK(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking));
  return d;
}
}  // namespace

void fail(cudaError_t e, const char* what, const char* file, int line) {
  cudaGetLastError();
  const char* f = std::strrchr(file, '/');
  throw Error(cat("CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in ", what, " at ",
                  f ? f + 1 : file, ":", line));
}

bool debug() {
  static bool d = env_flag("MRIGAN_CUDA_DEBUG");
  return d;
}

static int g_tf32 = -1;
bool tf32() {
  if (g_tf32 < 0) g_tf32 = env_flag("MRIGAN_TF32") ? 1 : 0;
  return g_tf32 == 1;
}
void set_tf32(bool on) { g_tf32 = on ? 1 : 0; }

int current_device() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  if (s.current < 0) activate(s, 0);
  return s.current;
}

namespace {
struct Props { int sms = 0, major = 0; };
Props& props(int dev) {
  static Props* p = new Props[64];
  Props& r = p[dev & 63];
  if (!r.sms) {
    cudaDeviceProp d;
    CUDA_CHECK(cudaGetDeviceProperties(&d, dev));
    r.sms = d.multiProcessorCount;
    r.major = d.major;
  }
  return r;
}
}  // namespace
int sm_count() { return props(current_device()).sms; }
int cc_major() { return props(current_device()).major; }

cudaStream_t stream() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  return activate(s, s.current < 0 ? 0 : s.current).stream;
}

void* stream_handle(int dev) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  return (void*)activate(s, dev).stream;
}

void use_device_of(const void* p) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  auto it = s.live.find(const_cast<void*>(p));
  int dev = it != s.live.end() ? it->second.dev : (s.current < 0 ? 0 : s.current);
  activate(s, dev);
}

void after_launch(const char* name) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(e, cat("launch of ", name).c_str(), __FILE__, __LINE__);
  if (debug()) {
    e = cudaStreamSynchronize(stream());
    if (e != cudaSuccess) fail(e, cat("kernel ", name, " (MRIGAN_CUDA_DEBUG sync)").c_str(), __FILE__, __LINE__);
  }
}

void to_host(void* dst, const void* src, size_t bytes) {
  cudaStream_t st = stream();
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, st));
  CUDA_CHECK(cudaStreamSynchronize(st));
}

// ------------------------------------------------------------------ allocator
MemStats mem_stats(int dev) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  check_dev(dev);
  if ((int)s.devs.size() <= dev) return MemStats{};
  return s.devs[dev].stats;
}

void reset_peak(int dev) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  DeviceState& d = activate(s, dev);
  d.stats.peak = d.stats.in_use;
}

static void release_cache(DeviceState& d) {
  CUDA_CHECK(cudaStreamSynchronize(d.stream));
  for (auto& [size, list] : d.free_lists) {
    for (void* p : list) {
      cudaFree(p);
      d.stats.reserved -= size;
      d.stats.frees++;
    }
    list.clear();
  }
}

void empty_cache(int dev) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  release_cache(activate(s, dev));
}

}  // namespace mrigan::cuda

namespace mrigan {
using namespace mrigan::cuda;

int cuda_device_count() { return detect().count; }
const char* cuda_status() { return detect().status.c_str(); }

void* cuda_alloc(size_t bytes, int dev) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  DeviceState& d = activate(s, dev);
  size_t b = bucket_of(bytes);
  void* p = nullptr;
  auto it = d.free_lists.find(b);
  if (it != d.free_lists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    cudaError_t e = cudaMalloc(&p, b);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cache(d);
      e = cudaMalloc(&p, b);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      cudaGetLastError();
      throw Error(cat("out of GPU memory on cuda:", dev, " allocating ", bytes, " bytes (", d.stats.in_use >> 20,
                      " MiB in use by mrigan, ", free_b >> 20, " of ", total_b >> 20, " MiB free on the device): ",
                      cudaGetErrorString(e)));
    }
    d.stats.reserved += b;
    d.stats.mallocs++;
  }
  s.live[p] = Block{b, dev};
  d.stats.in_use += b;
  if (d.stats.in_use > d.stats.peak) d.stats.peak = d.stats.in_use;
  return p;
}

void cuda_free(void* p, int dev) {
  if (!p) return;
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  auto it = s.live.find(p);
  if (it == s.live.end()) return;  // not ours: never happens unless memory was freed twice
  Block b = it->second;
  s.live.erase(it);
  DeviceState& d = s.devs[b.dev];
  d.stats.in_use -= b.bucket;
  d.free_lists[b.bucket].push_back(p);
  (void)dev;
}

void cuda_memset0(void* p, size_t bytes, int dev) {
  if (!bytes) return;
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  DeviceState& d = activate(s, dev);
  CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, d.stream));
  if (debug()) CUDA_CHECK(cudaStreamSynchronize(d.stream));
}

void cuda_copy(void* dst, int dst_dev, const void* src, int src_dev, size_t bytes) {
  if (!bytes) return;
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  if (dst_dev == kCPU && src_dev == kCPU) {
    std::memmove(dst, src, bytes);
  } else if (src_dev == kCPU) {  // pageable host memory: synchronous so the caller may reuse it at once
    DeviceState& d = activate(s, dst_dev);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, d.stream));
    CUDA_CHECK(cudaStreamSynchronize(d.stream));
  } else if (dst_dev == kCPU) {
    DeviceState& d = activate(s, src_dev);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, d.stream));
    CUDA_CHECK(cudaStreamSynchronize(d.stream));
  } else if (src_dev == dst_dev) {  // stream-ordered like a kernel
    DeviceState& d = activate(s, dst_dev);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, d.stream));
    if (debug()) CUDA_CHECK(cudaStreamSynchronize(d.stream));
  } else {  // across devices: order after both streams' work
    DeviceState& dd = activate(s, dst_dev);
    CUDA_CHECK(cudaStreamSynchronize(dd.stream));
    DeviceState& sd = activate(s, src_dev);
    CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev, src, src_dev, bytes, sd.stream));
    CUDA_CHECK(cudaStreamSynchronize(sd.stream));
  }
}

void cuda_synchronize(int dev) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  if (dev == kCPU) return;
  CUDA_CHECK(cudaStreamSynchronize(activate(s, dev).stream));
}

size_t cuda_peak_bytes(int dev) { return mem_stats(dev).peak; }

}  // namespace mrigan
