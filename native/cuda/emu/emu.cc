// The CUDA emulator's scheduler and runtime subset (see emu.h). One OS thread: the threads of a block are
// ucontext fibers, resumed round-robin until each reaches a barrier or returns; a barrier opens when every live
// thread of its scope (warp or block) waits on it. A fiber blocked on a barrier no live peer can reach is a
// deadlock in CUDA terms and fails the launch with a message.
#include "cuda/emu/emu.h"

#include <ucontext.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace emu {

enum State { RUN, AT_BLOCK, AT_WARP, DONE };
struct Fiber {
  ucontext_t ctx;
  std::vector<char> stack;
  State state = RUN;
};

static constexpr size_t kStack = 256 * 1024;
static ucontext_t g_sched;
static std::vector<Fiber> g_fibers;
static int g_cur = -1;
static unsigned g_nthreads = 0;
static const std::function<void()>* g_body = nullptr;
static uint64_t g_slots[1024];            // per-thread exchange slots (shuffles)
static uint32_t g_mma[1024][6];           // per-thread mma fragments
static std::string g_error;
#ifdef EMU_ASAN
// AddressSanitizer must be told about every stack switch (sanitizer/common_interface_defs.h): the scheduler's stack
// bounds are learnt on a fiber's first entry and given back on every switch to the scheduler.
static const void* g_main_bottom = nullptr;
static size_t g_main_size = 0;
#endif

void fail(const char* what) { throw std::runtime_error(std::string("CUDA emulator: ") + what); }

static void set_tid(unsigned t) {
  threadIdx.x = t % blockDim.x;
  threadIdx.y = (t / blockDim.x) % blockDim.y;
  threadIdx.z = t / (blockDim.x * blockDim.y);
}
static unsigned linear_tid() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }

static void to_scheduler() {
  Fiber& f = g_fibers[g_cur];
#ifdef EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, g_main_bottom, g_main_size);
#endif
  swapcontext(&f.ctx, &g_sched);
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

static void fiber_main() {
#ifdef EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &g_main_bottom, &g_main_size);
#endif
  try {
    (*g_body)();
  } catch (const std::exception& e) {
    if (g_error.empty()) g_error = e.what();
  }
  g_fibers[g_cur].state = DONE;
#ifdef EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, g_main_bottom, g_main_size);
#endif
  setcontext(&g_sched);
}

void syncthreads() {
  if (g_cur < 0) fail("__syncthreads outside a kernel");
  g_fibers[g_cur].state = AT_BLOCK;
  to_scheduler();
}
void syncwarp() {
  if (g_cur < 0) fail("__syncwarp outside a kernel");
  g_fibers[g_cur].state = AT_WARP;
  to_scheduler();
}

uint64_t exchange(uint64_t v, int src_lane) {
  unsigned t = linear_tid();
  g_slots[t] = v;
  syncwarp();
  unsigned src = (t & ~31u) + (unsigned)src_lane;
  uint64_t r = src < g_nthreads ? g_slots[src] : v;
  syncwarp();
  return r;
}

void check_align(const void* p, size_t a, const char* what) {
  if ((uintptr_t)p % a) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "misaligned %s at %p (needs %zu bytes)", what, p, a);
    fail(buf);
  }
}

static float tf32_value(uint32_t u) { return __uint_as_float(u & 0xffffe000u); }

void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2]) {
  unsigned t = linear_tid(), base = t & ~31u, lane = t & 31u;
  if (base + 32 > g_nthreads) fail("mma.sync needs a full warp");
  for (int i = 0; i < 4; ++i) g_mma[t][i] = a[i];
  g_mma[t][4] = b[0];
  g_mma[t][5] = b[1];
  syncwarp();
  // Rebuild the operands: lane = 4 g + q holds A[g][q], A[g+8][q], A[g][q+4], A[g+8][q+4] and B[q][g], B[q+4][g].
  float A[16][8], B[8][8];
  for (unsigned l = 0; l < 32; ++l) {
    unsigned g = l / 4, q = l % 4;
    const uint32_t* f = g_mma[base + l];
    A[g][q] = tf32_value(f[0]);
    A[g + 8][q] = tf32_value(f[1]);
    A[g][q + 4] = tf32_value(f[2]);
    A[g + 8][q + 4] = tf32_value(f[3]);
    B[q][g] = tf32_value(f[4]);
    B[q + 4][g] = tf32_value(f[5]);
  }
  unsigned g = lane / 4, q = lane % 4;
  for (int r = 0; r < 4; ++r) {
    unsigned row = g + 8 * (r / 2), col = 2 * q + (r % 2);
    float s = 0;
    for (int k = 0; k < 8; ++k) s += A[row][k] * B[k][col];
    d[r] += s;
  }
  syncwarp();
}

static bool reverse_order() {
  static int r = [] {
    const char* e = std::getenv("MRIGAN_EMU_ORDER");
    return e && std::string(e) == "reverse" ? 1 : 0;
  }();
  return r;
}

static void run_block() {
  unsigned n = g_nthreads;
  for (unsigned t = 0; t < n; ++t) {
    Fiber& f = g_fibers[t];
    f.state = RUN;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack.data();
    f.ctx.uc_stack.ss_size = f.stack.size();
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, fiber_main, 0);
  }
  bool rev = reverse_order();
  for (;;) {
    for (unsigned k = 0; k < n; ++k) {
      unsigned t = rev ? n - 1 - k : k;
      if (g_fibers[t].state != RUN) continue;
      g_cur = (int)t;
      set_tid(t);
#ifdef EMU_ASAN
      void* fake = nullptr;
      __sanitizer_start_switch_fiber(&fake, g_fibers[t].stack.data(), g_fibers[t].stack.size());
#endif
      swapcontext(&g_sched, &g_fibers[t].ctx);
#ifdef EMU_ASAN
      __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
      g_cur = -1;
      if (!g_error.empty()) return;
    }
    // Everyone is waiting or done: open the barriers whose scope has fully arrived.
    bool any_live = false, released = false;
    for (unsigned w = 0; w < n; w += 32) {
      unsigned end = w + 32 < n ? w + 32 : n;
      bool all_warp = true, some = false;
      for (unsigned t = w; t < end; ++t) {
        if (g_fibers[t].state == DONE) continue;
        some = true;
        if (g_fibers[t].state != AT_WARP) all_warp = false;
      }
      if (some && all_warp) {
        for (unsigned t = w; t < end; ++t)
          if (g_fibers[t].state == AT_WARP) g_fibers[t].state = RUN;
        released = true;
      }
    }
    if (released) continue;
    bool all_block = true;
    for (unsigned t = 0; t < n; ++t) {
      if (g_fibers[t].state == DONE) continue;
      any_live = true;
      if (g_fibers[t].state != AT_BLOCK) all_block = false;
    }
    if (!any_live) return;
    if (!all_block) {
      g_error = "deadlock: threads wait on different barriers (warp primitive with part of a warp, or "
                "__syncthreads in divergent code)";
      return;
    }
    for (unsigned t = 0; t < n; ++t)
      if (g_fibers[t].state == AT_BLOCK) g_fibers[t].state = RUN;
  }
}

void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  if (g_body) fail("nested launch");
  unsigned n = block.x * block.y * block.z;
  if (n == 0 || n > 1024) fail("block size must be 1..1024 threads");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) fail("empty grid");
  if (grid.y > 65535 || grid.z > 65535) fail("grid.y/z over 65535");
  if (g_fibers.size() < n) {
    g_fibers.resize(n);
    for (auto& f : g_fibers)
      if (f.stack.empty()) f.stack.resize(kStack);
  }
  g_nthreads = n;
  blockDim = block;
  gridDim = grid;
  g_body = &body;
  g_error.clear();
  for (unsigned z = 0; z < grid.z && g_error.empty(); ++z)
    for (unsigned y = 0; y < grid.y && g_error.empty(); ++y)
      for (unsigned x = 0; x < grid.x && g_error.empty(); ++x) {
        blockIdx = {x, y, z};
        run_block();
      }
  g_body = nullptr;
  if (!g_error.empty()) fail(g_error.c_str());
}

}  // namespace emu

// ---- runtime API subset: one emulated device backed by host memory ----
static cudaError_t g_last = cudaSuccess;
static cudaError_t ret(cudaError_t e) {
  if (e != cudaSuccess) g_last = e;
  return e;
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "emulated error";
  }
}
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
  }
}
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int dev) {
  if (dev != 0) return ret(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "mrigan CUDA emulator (CPU)");
  p->totalGlobalMem = size_t(1) << 32;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 4;
  p->sharedMemPerBlock = 48 * 1024;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev) { return dev == 0 ? cudaSuccess : ret(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int* dev) { *dev = 0; return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = reinterpret_cast<cudaStream_t>(uintptr_t(1));
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::malloc(bytes ? bytes : 1);
  return *p ? cudaSuccess : ret(cudaErrorMemoryAllocation);
}
cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { *f = *t = size_t(1) << 32; return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* p, int v, size_t bytes, cudaStream_t) { std::memset(p, v, bytes); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memmove(d, s, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeerAsync(void* d, int, const void* s, int, size_t bytes, cudaStream_t) {
  std::memmove(d, s, bytes);
  return cudaSuccess;
}
cudaError_t cudaGetLastError() { cudaError_t e = g_last; g_last = cudaSuccess; return e; }
cudaError_t cudaPeekAtLastError() { return g_last; }
struct emu_event { double t; };
static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = new emu_event{0}; return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) { e->t = now_ms(); return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) { *ms = (float)(b->t - a->t); return cudaSuccess; }
