// Conv2d forward / backward-data / backward-weight on the GPU (twins of native/cpu/conv.cc), PyTorch semantics:
// x [n, c, h, w], weight OIHW [k, c, r, s], y [n, k, p, q]; any kernel size, stride and (asymmetric) padding.
//
// All three passes are implicit GEMMs: the im2col matrix is never stored, each tile of it is gathered from the
// NCHW tensor straight into shared memory.
//   forward          C[m = (n,p,q), j = k]   = Σ_{kk = (c,r,s)}  x[n, c, p·sh − pt + r, q·sw − pl + s] · w[k, c, r, s]
//   backward-data    split by stride phase (h mod sh, w mod sw): in phase (φh, φw) only the taps r ≡ φh + pt (mod sh)
//                    reach an output row, so each phase is a dense GEMM with ⌈R/sh⌉·⌈S/sw⌉ taps and no zero insertion:
//                    C[m = (n,i,j), j' = c] = Σ_{kk = (k,t,u)} dy[n, k, i + dφh − t, j + dφw − u] · w[k, c, r0 + t·sh, s0 + u·sw]
//                    written to dx[n, c, φh + i·sh, φw + j·sw]. Phases are blockIdx.z of one launch.
//   backward-weight  C[m = k, j = (c,r,s)] += Σ_{kk = (n,p,q)} dy[n, k, p, q] · x[n, c, p·sh − pt + r, q·sw − pl + s]
// Forward and backward-data share one kernel (conv_dgrad_kernel: "gather a window of src, multiply by a weight
// slice, scatter to dst"); backward-weight has its own (conv_wgrad_kernel) because its reduction runs over pixels.
//
// Kernel shape (llm.c / CUTLASS style): a block computes a BM × BN tile of C with a k-loop of BK-deep slices.
// Each slice of A and B is loaded from global memory into registers (the next slice is fetched while the current
// one is multiplied), then stored k-major into double-buffered shared memory, one __syncthreads per slice.
//   fp32 (SIMT): each thread owns a TM × TN register block, read from shared memory as float4 (LDS.128).
//   TF32 (mma.sync.m16n8k8): each warp owns a WTM × WTN tile of m16n8 fragments; values are rounded to TF32
//   (cvt.rna) when stored to shared memory; shared rows are padded by 8 floats so fragment loads are bank-conflict
//   free. Accumulation is fp32 in both.
// 16-byte global loads where the layout allows: weight rows in forward (contiguous along (c,r,s) when C·R·S % 4 = 0)
// and dy rows in backward-weight (contiguous along (p,q) when P·Q % 4 = 0).
// Split-K: when the output has too few tiles to fill the GPU (deep layers at small batch; every backward-weight),
// gridDim.z also splits the reduction; partial tiles go to scratch laid out like the output and a second kernel adds
// the slices in order (deterministic) and applies bias/activation (or accumulates into dw).
// Epilogue: bias + activation (none / LeakyReLU / tanh / sigmoid) in the output write.
// Algorithms: "direct" (one thread per output element, int64 indexing: the reference and the fallback for tensors
// over 2^31 elements), SIMT tiles 128×128, 128×64, 64×128, 64×64, 128×32, TF32 tiles 128×128, 128×64, 64×128,
// 64×64, "n1" for a single output channel (forward / backward-data with N = 1: one thread per output pixel), and a
// 32×32 SIMT tile of 64 threads for small outputs with long reductions. The first call of each shape times the eligible ones (like cudnn.benchmark; MRIGAN_CONV_AUTOTUNE=0 uses
// a size heuristic instead); set_conv_algo() forces one for tests and benchmarks.
// Files: this one plans, chooses and launches (and adds split-K partials); conv_tile.cuh holds the tile math and
// argument blocks, conv_gemm.cuh the implicit-GEMM kernels, instantiated per family in conv_simt.cu and conv_tf32.cu;
// conv_direct.cu holds the direct and n1 kernels.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "cuda/conv_tile.cuh"

namespace mrigan::cuda {
namespace conv {

// ---------------------------------------------------------------------------------------------------- split-K reductions
__global__ void dgrad_reduce_kernel(const float* __restrict__ part, int splits, int numel, int DHW, int DC,
                                    const float* __restrict__ bias, int act, float slope, float* __restrict__ dst) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < numel; e += gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[(size_t)z * numel + e];
    if (bias) s += bias[(e / DHW) % DC];
    dst[e] = apply_act(s, act, slope);
  }
}

__global__ void wgrad_reduce_kernel(const float* __restrict__ part, int splits, int numel, float* __restrict__ dw) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < numel; e += gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[(size_t)z * numel + e];
    dw[e] += s;
  }
}

// ---------------------------------------------------------------------------------------------------- algorithm table
// Built once from the families, in AlgoIndex order.
static const std::vector<Algo>& algos() {
  static const std::vector<Algo> table = [] {
    std::vector<Algo> t;
    for (int i = 0; i < kNumAlgos; ++i)
      t.push_back(i == kDirect || i == kN1 ? direct_algo(i) : i >= kTf32_128x128 && i <= kTf32_64x64 ? tf32_algo(i) : simt_algo(i));
    return t;
  }();
  return table;
}

// ---------------------------------------------------------------------------------------------------- planning
constexpr int64_t kLim32 = int64_t(1) << 31;
constexpr int64_t kMaxScratchFloats = int64_t(1) << 26;  // 256 MiB of split-K partials at most

static bool fits32(const ConvShape& s) {
  return s.n * s.c * s.h * s.w < kLim32 && s.n * s.k * s.p * s.q < kLim32 && s.k * s.c * s.r * s.s < kLim32 &&
         s.stride_h >= 1 && s.stride_w >= 1 && s.stride_h * s.stride_w <= 4096;
}

static int imod(int64_t a, int64_t m) { return (int)(((a % m) + m) % m); }
static uint32_t u32(int64_t v) { return (uint32_t)(v < 1 ? 1 : v); }

static void forward_args(DgradArgs& a, const float* x, const float* w, const float* b, float* y, const ConvShape& s,
                         int act, float slope) {
  a = {};
  a.src = x; a.w = w; a.dst = y; a.bias = b;
  a.SC = (int)s.c; a.SH = (int)s.h; a.SW = (int)s.w; a.SHW = (int)(s.h * s.w);
  a.DC = (int)s.k; a.DHW = (int)(s.p * s.q);
  a.wj = (int)(s.c * s.r * s.s); a.wsc = (int)(s.r * s.s);
  a.splits = 1; a.dst_numel = (int)(s.n * s.k * s.p * s.q);
  a.act = act; a.slope = slope;
  a.nphase = 1;
  Phase& p = a.ph[0];
  p.M = (int)(s.n * s.p * s.q);
  p.TR = (int)s.r; p.TS = (int)s.s; p.K = (int)(s.c * s.r * s.s);
  p.ohow = FastDiv(u32(s.p * s.q)); p.ow = FastDiv(u32(s.q));
  p.trts = FastDiv(u32(s.r * s.s)); p.ts = FastDiv(u32(s.s));
  p.in_mul_h = (int)s.stride_h; p.in_mul_w = (int)s.stride_w; p.in_off_h = (int)-s.pad_t; p.in_off_w = (int)-s.pad_l;
  p.tap_h = 1; p.tap_w = 1;
  p.w_off = 0; p.w_th = (int)s.s; p.w_tw = 1;
  p.out_off = 0; p.out_mul_h = (int)s.q; p.out_mul_w = 1;
}

// All sh·sw phases (those with no output pixel are dropped); the caller launches them in groups of kMaxPhases.
static std::vector<Phase> backward_phases(const ConvShape& s) {
  std::vector<Phase> out;
  for (int64_t ph = 0; ph < s.stride_h; ++ph)
    for (int64_t pw = 0; pw < s.stride_w; ++pw) {
      int64_t OH = ph < s.h ? (s.h - ph + s.stride_h - 1) / s.stride_h : 0;
      int64_t OW = pw < s.w ? (s.w - pw + s.stride_w - 1) / s.stride_w : 0;
      if (OH * OW == 0 || s.n == 0) continue;
      int r0 = imod(ph + s.pad_t, s.stride_h), s0 = imod(pw + s.pad_l, s.stride_w);
      int64_t TR = r0 < s.r ? (s.r - r0 + s.stride_h - 1) / s.stride_h : 0;
      int64_t TS = s0 < s.s ? (s.s - s0 + s.stride_w - 1) / s.stride_w : 0;
      Phase p{};
      p.M = (int)(s.n * OH * OW);
      p.TR = (int)TR; p.TS = (int)TS; p.K = (int)(s.k * TR * TS);
      p.ohow = FastDiv(u32(OH * OW)); p.ow = FastDiv(u32(OW));
      p.trts = FastDiv(u32(TR * TS)); p.ts = FastDiv(u32(TS));
      p.in_mul_h = 1; p.in_mul_w = 1;
      p.in_off_h = (int)((ph + s.pad_t - r0) / s.stride_h);
      p.in_off_w = (int)((pw + s.pad_l - s0) / s.stride_w);
      p.tap_h = -1; p.tap_w = -1;
      p.w_off = (int)(r0 * s.s + s0); p.w_th = (int)(s.stride_h * s.s); p.w_tw = (int)s.stride_w;
      p.out_off = (int)(ph * s.w + pw); p.out_mul_h = (int)(s.stride_h * s.w); p.out_mul_w = (int)s.stride_w;
      out.push_back(p);
    }
  return out;
}

static void backward_args(DgradArgs& a, const float* dy, const float* w, const float* b, float* dx, const ConvShape& s,
                          int act, float slope) {
  a = {};
  a.src = dy; a.w = w; a.dst = dx; a.bias = b;
  a.SC = (int)s.k; a.SH = (int)s.p; a.SW = (int)s.q; a.SHW = (int)(s.p * s.q);
  a.DC = (int)s.c; a.DHW = (int)(s.h * s.w);
  a.wj = (int)(s.r * s.s); a.wsc = (int)(s.c * s.r * s.s);
  a.splits = 1; a.dst_numel = (int)(s.n * s.c * s.h * s.w);
  a.act = act; a.slope = slope;
}

static int choose_splits(int64_t blocks, int64_t kmax, int BK, int64_t out_numel) {
  int64_t target = 2 * (int64_t)sm_count();
  if (blocks >= target || kmax < 8 * BK) return 1;
  int64_t sp = (target + blocks - 1) / blocks;
  if (sp > kmax / (4 * BK)) sp = kmax / (4 * BK);
  if (sp > 64) sp = 64;
  if (out_numel > 0 && sp > kMaxScratchFloats / out_numel) sp = kMaxScratchFloats / out_numel;
  return (int)(sp < 1 ? 1 : sp);
}

// Runs the forward/backward-data GEMM for the given phases with one tile algorithm.
static void run_dgrad(const Algo& al, DgradArgs a, const std::vector<Phase>& phases, bool vec) {
  if (phases.empty()) return;
  DgradFn fn = vec && al.dgrad_vec ? al.dgrad_vec : al.dgrad;
  int64_t mt = 0, kmax = 0;
  for (const Phase& p : phases) {
    mt = std::max<int64_t>(mt, (p.M + al.BM - 1) / al.BM);
    kmax = std::max<int64_t>(kmax, p.K);
  }
  int64_t nt = (a.DC + al.BN - 1) / al.BN;
  MRIGAN_CHECK(nt <= 65535, "conv on the GPU: ", a.DC, " output channels is over the grid limit");
  int splits = choose_splits(mt * nt * (int64_t)phases.size(), kmax, al.BK, a.dst_numel);
  a.splits = splits;
  Scratch part(splits > 1 ? (size_t)splits * a.dst_numel : 1, current_device());
  a.part = splits > 1 ? part.p : nullptr;
  const Phase& p0 = phases[0];
  a.vec_store = phases.size() == 1 && p0.out_off == 0 && p0.out_mul_w == 1 && p0.out_mul_h == (int)p0.ow.d && (int)p0.ohow.d == a.DHW &&
                a.DHW % 4 == 0 && aligned16(a.dst);
  for (size_t first = 0; first < phases.size(); first += kMaxPhases) {
    a.nphase = (int)std::min<size_t>(kMaxPhases, phases.size() - first);
    for (int i = 0; i < a.nphase; ++i) a.ph[i] = phases[first + i];
    dim3 grid((unsigned)mt, (unsigned)nt, (unsigned)(a.nphase * splits));
    launch(al.name, fn, grid, al.threads, 0, a);
  }
  if (splits > 1)
    launch("conv_dgrad_reduce", dgrad_reduce_kernel, grid_for((size_t)a.dst_numel, 256), 256, 0, (const float*)a.part, splits,
           a.dst_numel, a.DHW, a.DC, a.bias, a.act, a.slope, a.dst);
}

static void run_wgrad(const Algo& al, const float* dy, const float* x, float* dw, const ConvShape& s, bool vec) {
  WgradArgs a{};
  a.dy = dy; a.x = x; a.dw = dw;
  a.K = (int)s.k; a.C = (int)s.c; a.H = (int)s.h; a.W = (int)s.w; a.P = (int)s.p; a.Q = (int)s.q;
  a.sh = (int)s.stride_h; a.sw = (int)s.stride_w; a.pt = (int)s.pad_t; a.pl = (int)s.pad_l;
  a.PQ = (int)(s.p * s.q); a.HW = (int)(s.h * s.w); a.CHW = (int)(s.c * s.h * s.w); a.KPQ = (int)(s.k * s.p * s.q);
  a.CRS = (int)(s.c * s.r * s.s); a.Ntot = (int)(s.n * s.p * s.q);
  a.pq = FastDiv(u32(s.p * s.q)); a.q = FastDiv(u32(s.q)); a.rs = FastDiv(u32(s.r * s.s)); a.s = FastDiv(u32(s.s));
  int64_t mt = (s.k + al.BM - 1) / al.BM, nt = (a.CRS + al.BN - 1) / al.BN;
  MRIGAN_CHECK(nt <= 65535, "conv backward-weight on the GPU: C·R·S = ", a.CRS, " is over the grid limit");
  int64_t numel = (int64_t)a.K * a.CRS;
  int splits = choose_splits(mt * nt, a.Ntot, al.BK, numel);
  a.splits = splits;
  WgradFn fn = vec && al.wgrad_vec ? al.wgrad_vec : al.wgrad;
  if (splits == 1) {
    launch(al.name, fn, dim3((unsigned)mt, (unsigned)nt, 1), al.threads, 0, a);
    return;
  }
  Scratch part((size_t)splits * numel, current_device());
  a.part = part.p;
  launch(al.name, fn, dim3((unsigned)mt, (unsigned)nt, (unsigned)splits), al.threads, 0, a);
  launch("conv_wgrad_reduce", wgrad_reduce_kernel, grid_for((size_t)numel, 256), 256, 0, (const float*)part.p, splits,
         (int)numel, dw);
}

// ---------------------------------------------------------------------------------------------------- choice
static int g_forced[3] = {-1, -1, -1};
static std::mutex g_mu;
static std::map<std::vector<int64_t>, int> g_chosen;

static bool autotune_on() {
#ifdef MRIGAN_CUDA_EMU
  return false;
#else
  static bool on = [] {
    const char* e = std::getenv("MRIGAN_CONV_AUTOTUNE");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
#endif
}

// Output channels of the pass's GEMM (N): filters for forward, input channels for backward-data.
static int64_t gemm_n(int pass, const ConvShape& s) { return pass == 0 ? s.k : pass == 1 ? s.c : s.c * s.r * s.s; }

static bool eligible(int algo, int pass, const ConvShape& s, bool allow_tf32) {
  const Algo& al = algos()[algo];
  if (algo == 0) return true;
  if (!fits32(s)) return false;
  if (algo == kN1) return pass != 2 && gemm_n(pass, s) == 1;
  if (al.tf32) return allow_tf32 && cc_major() >= 8;
  return true;
}

// Size heuristic (no timing): the largest tile that still gives a wave of blocks; narrow layers get 128×32.
static int heuristic(int pass, const ConvShape& s, bool use_tf32) {
  if (!fits32(s)) return 0;
  int64_t M = pass == 2 ? s.k : pass == 0 ? s.n * s.p * s.q : s.n * s.h * s.w;
  int64_t N = pass == 2 ? s.c * s.r * s.s : pass == 0 ? s.k : s.c;
  int64_t big = ((M + 127) / 128) * ((N + 127) / 128);
  if (pass != 2 && N == 1) return kN1;
  if (use_tf32 && cc_major() >= 8) return big >= sm_count() ? 6 : 9;
  if (N <= 32 && pass != 2) return 5;
  return big >= sm_count() ? 1 : 4;
}

// Picks the algorithm for this pass and shape: forced, cached, timed, or by heuristic. `run` executes one
// candidate into scratch output (never into the caller's tensors, so += outputs stay untouched).
template <typename F>
static int choose(int pass, const ConvShape& s, F&& run_into_scratch) {
  bool use_tf32 = tf32();
  {
    std::lock_guard<std::mutex> g(g_mu);
    // A forced kernel that cannot run this pass or shape (n1 with several output channels, TF32 before sm_80, a
    // tile on a tensor over 2^31 elements) leaves the choice to the automatic path.
    if (g_forced[pass] >= 0 && eligible(g_forced[pass], pass, s, true)) return g_forced[pass];
  }
  if (!autotune_on()) return heuristic(pass, s, use_tf32);
  std::vector<int64_t> key = {pass, use_tf32, current_device(), s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride_h,
                              s.stride_w, s.pad_t, s.pad_b, s.pad_l, s.pad_r, s.p, s.q};
  {
    std::lock_guard<std::mutex> g(g_mu);
    auto it = g_chosen.find(key);
    if (it != g_chosen.end()) return it->second;
  }
  int best = heuristic(pass, s, use_tf32);
  if (fits32(s)) {
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float best_ms = 1e30f;
    for (int a = 1; a < kNumAlgos; ++a) {
      if (!eligible(a, pass, s, use_tf32)) continue;
      if (!use_tf32 && algos()[a].tf32) continue;
      run_into_scratch(a);  // warm-up (and first-touch of scratch)
      CUDA_CHECK(cudaEventRecord(e0, stream()));
      run_into_scratch(a);
      run_into_scratch(a);
      CUDA_CHECK(cudaEventRecord(e1, stream()));
      CUDA_CHECK(cudaEventSynchronize(e1));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
      if (ms < best_ms) { best_ms = ms; best = a; }
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
  }
  std::lock_guard<std::mutex> g(g_mu);
  g_chosen[key] = best;
  return best;
}

static void check_geometry(const ConvShape& s) {
  MRIGAN_CHECK(s.stride_h >= 1 && s.stride_w >= 1 && s.r >= 1 && s.s >= 1, "conv on the GPU: bad geometry");
}

// ---------------------------------------------------------------------------------------------------- passes
static void forward_with(int algo, const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act,
                         float slope) {
  if (algo == kDirect) return direct_forward(x, w, b, y, s, act, slope);
  DgradArgs a;
  forward_args(a, x, w, b, y, s, act, slope);
  bool vec = (s.c * s.r * s.s) % 4 == 0 && aligned16(w);
  run_dgrad(algos()[algo], a, {a.ph[0]}, vec);
}

void forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope) {
  if (s.n * s.k * s.p * s.q == 0) return;
  check_geometry(s);
  use_device_of(y);
  int algo = choose(0, s, [&](int a) {
    Scratch out((size_t)(s.n * s.k * s.p * s.q), current_device());
    forward_with(a, x, w, b, out.p, s, act, slope);
  });
  forward_with(algo, x, w, b, y, s, act, slope);
}

static void backward_data_with(int algo, const float* dy, const float* w, const float* b, float* dx, const ConvShape& s,
                               int act, float slope) {
  if (algo == kDirect) return direct_backward_data(dy, w, b, dx, s, act, slope);
  DgradArgs a;
  backward_args(a, dy, w, b, dx, s, act, slope);
  run_dgrad(algos()[algo], a, backward_phases(s), false);
}

void backward_data(const float* dy, const float* w, const float* b, float* dx, const ConvShape& s, int act, float slope) {
  size_t total = (size_t)(s.n * s.c * s.h * s.w);
  if (!total) return;
  check_geometry(s);
  use_device_of(dx);
  int algo = choose(1, s, [&](int a) {
    Scratch out(total, current_device());
    backward_data_with(a, dy, w, b, out.p, s, act, slope);
  });
  backward_data_with(algo, dy, w, b, dx, s, act, slope);
}

static void backward_weight_with(int algo, const float* dy, const float* x, float* dw, const ConvShape& s) {
  if (algo == kDirect) return direct_backward_weight(dy, x, dw, s);
  bool vec = (s.p * s.q) % 4 == 0 && aligned16(dy);
  run_wgrad(algos()[algo], dy, x, dw, s, vec);
}

void backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  size_t total = (size_t)(s.k * s.c * s.r * s.s);
  if (!total || s.n * s.p * s.q == 0) return;
  check_geometry(s);
  use_device_of(dw);
  int algo = choose(2, s, [&](int a) {
    Scratch out(total, current_device());
    backward_weight_with(a, dy, x, out.p, s);
  });
  backward_weight_with(algo, dy, x, dw, s);
}

}  // namespace conv

// ---------------------------------------------------------------------------------------------------- ops.def
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const ConvShape& s) {
  conv::forward(x, w, b, y, s, kActNone, 0.f);
}
void conv2d_forward_act(const float* x, const float* w, const float* b, float* y, const ConvShape& s, int act, float slope) {
  conv::forward(x, w, b, y, s, act, slope);
}
void conv2d_backward_data(const float* dy, const float* w, float* dx, const ConvShape& s) {
  conv::backward_data(dy, w, nullptr, dx, s, kActNone, 0.f);
}
void conv2d_backward_weight(const float* dy, const float* x, float* dw, const ConvShape& s) {
  conv::backward_weight(dy, x, dw, s);
}

void set_conv_algo(int pass, int algo) {
  MRIGAN_CHECK(pass >= 0 && pass < 3, "conv pass must be 0 (forward), 1 (backward-data) or 2 (backward-weight)");
  MRIGAN_CHECK(algo >= -1 && algo < conv::kNumAlgos, "conv algorithm index ", algo, " out of range [-1, ",
               conv::kNumAlgos - 1, "]");
  std::lock_guard<std::mutex> g(conv::g_mu);
  conv::g_forced[pass] = algo;
}
int conv_algo_count(int) { return conv::kNumAlgos; }
const char* conv_algo_name(int, int algo) {
  return algo >= 0 && algo < conv::kNumAlgos ? conv::algos()[algo].name : "auto";
}

}  // namespace mrigan::cuda
