// CUDA-backend controls and the fused conv epilogues. JS names: lib/engine/cuda.ts.
//   cudaSetTf32(on) / cudaTf32()            TF32 tensor cores for convolutions (also MRIGAN_TF32=1)
//   cudaSetConvAlgo(pass, algo)              force a conv kernel (-1 = automatic); cudaConvAlgos() lists them
//   cudaMemStats(device) / cudaResetPeak / cudaEmptyCache / cudaSynchronize
//   conv2dForwardAct / convTranspose2dForwardAct   conv (+ bias) + activation in one output write on the GPU; on the
//                                             CPU the same result from the separate ops, so a layer can call it anywhere.
// In a build without CUDA the controls answer "no CUDA" (getters return neutral values, setters throw).
#include <array>
#include <string>

#include "addon/binding.h"
#include "addon/conv_args.h"
#include "cuda/api.h"
#include "cuda/conv.h"

namespace mrigan::addon {

static void need_cuda(const char* fn) {
#ifndef MRIGAN_CUDA
  throw Error(cat(fn, ": this mrigan build has no CUDA support"));
#else
  (void)fn;
#endif
}

static Napi::Value SetTf32(const Napi::CallbackInfo& info) {
  need_args(info, 1, "cudaSetTf32");
  bool on = arg_bool(info, 0, "on");
  need_cuda("cudaSetTf32");
#ifdef MRIGAN_CUDA
  cuda::set_tf32(on);
#else
  (void)on;
#endif
  return info.Env().Undefined();
}

static Napi::Value GetTf32(const Napi::CallbackInfo& info) {
#ifdef MRIGAN_CUDA
  return Napi::Boolean::New(info.Env(), cuda::tf32());
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

static Napi::Value SetConvAlgo(const Napi::CallbackInfo& info) {
  need_args(info, 2, "cudaSetConvAlgo");
  int pass = (int)arg_int(info, 0, "pass", 0, 2);
  int algo = (int)arg_int(info, 1, "algo", -1, 1000);
  need_cuda("cudaSetConvAlgo");
#ifdef MRIGAN_CUDA
  cuda::set_conv_algo(pass, algo);
#else
  (void)pass;
  (void)algo;
#endif
  return info.Env().Undefined();
}

static Napi::Value ConvAlgos(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env());
#ifdef MRIGAN_CUDA
  for (int i = 0; i < cuda::conv_algo_count(0); ++i) a[(uint32_t)i] = Napi::String::New(info.Env(), cuda::conv_algo_name(0, i));
#endif
  return a;
}

static int gpu_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  int dev = arg_device(info, i, "device");
  MRIGAN_CHECK(dev != kCPU, fn, ": argument ", i + 1, " (device) must be a GPU ('cuda' or 'cuda:N')");
  return dev;
}

static Napi::Value MemStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  int dev = gpu_arg(info, 0, "cudaMemStats");
#ifdef MRIGAN_CUDA
  cuda::MemStats s = cuda::mem_stats(dev);
  o.Set("inUse", (double)s.in_use);
  o.Set("peak", (double)s.peak);
  o.Set("reserved", (double)s.reserved);
  o.Set("mallocs", (double)s.mallocs);
  o.Set("frees", (double)s.frees);
#else
  (void)dev;
#endif
  return o;
}

static Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  int dev = gpu_arg(info, 0, "cudaResetPeak");
#ifdef MRIGAN_CUDA
  cuda::reset_peak(dev);
#else
  (void)dev;
#endif
  return info.Env().Undefined();
}

static Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  int dev = gpu_arg(info, 0, "cudaEmptyCache");
#ifdef MRIGAN_CUDA
  cuda::empty_cache(dev);
#else
  (void)dev;
#endif
  return info.Env().Undefined();
}

static Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  int dev = arg_device(info, 0, "device");
  if (dev != kCPU) cuda_synchronize(dev);
  return info.Env().Undefined();
}

// ---- fused conv + bias + activation ----
using cuda::conv::kLeaky;
using cuda::conv::kNone;
using cuda::conv::kSigmoid;
using cuda::conv::kTanh;

static int arg_act(const Napi::CallbackInfo& info, size_t i, float& slope, size_t slope_i) {
  if (i >= info.Length() || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), cat("argument ", i + 1, " (act) must be 'none', 'relu', 'leaky_relu', 'tanh' or 'sigmoid'"));
  std::string a = info[i].As<Napi::String>();
  slope = 0.f;
  if (a == "none") return kNone;
  if (a == "relu") return kLeaky;
  if (a == "leaky_relu") {
    slope = (float)arg_number(info, slope_i, "slope");
    return kLeaky;
  }
  if (a == "tanh") return kTanh;
  if (a == "sigmoid") return kSigmoid;
  throw Napi::TypeError::New(info.Env(), cat("argument ", i + 1, " (act) must be 'none', 'relu', 'leaky_relu', 'tanh' or 'sigmoid', got '", a, "'"));
}

// The activation in place on the CPU (the CPU twin of the fused epilogue).
static void cpu_act(float* y, size_t n, int act, float slope) {
  if (act == kLeaky) cpu::leaky_relu_forward(y, y, n, slope);
  else if (act == kTanh) cpu::tanh_forward(y, y, n);
  else if (act == kSigmoid) cpu::sigmoid_forward(y, y, n);
}

// conv2dForwardAct(x, w, b | null, stride [2], padding [4], act, slope?) → y
static Napi::Value Conv2dForwardAct(const Napi::CallbackInfo& info) {
  const char* fn = "conv2dForwardAct";
  need_args(info, 6, fn);
  ConvForwardArgs a = read_conv_forward(info, fn);
  Tensor &x = *a.x, &w = *a.w;
  Tensor* b = a.b;
  const ConvShape& g = a.g;
  float slope;
  int act = arg_act(info, 5, slope, 6);
  Tensor y = empty({g.n, g.k, g.p, g.q}, x.device());
  if (x.on_cpu()) {
    cpu::conv2d_forward(x.data(), w.data(), b ? b->data() : nullptr, y.data(), g);
    cpu_act(y.data(), y.numel(), act, slope);
  } else {
#ifdef MRIGAN_CUDA
    cuda::conv::forward(x.data(), w.data(), b ? b->data() : nullptr, y.data(), g, act, slope);
#endif
  }
  return wrap(info.Env(), y);
}

// convTranspose2dForwardAct(x, w, b | null, stride, padding, outputPadding [2], act, slope?) → y
static Napi::Value ConvTranspose2dForwardAct(const Napi::CallbackInfo& info) {
  const char* fn = "convTranspose2dForwardAct";
  need_args(info, 7, fn);
  ConvForwardArgs a = read_conv_transpose_forward(info, fn);
  Tensor &x = *a.x, &w = *a.w;
  Tensor* b = a.b;
  const ConvShape& g = a.g;
  float slope;
  int act = arg_act(info, 6, slope, 7);
  Tensor y = empty({g.n, g.c, g.h, g.w}, x.device());
  if (x.on_cpu()) {
    cpu::conv_transpose2d_forward(x.data(), w.data(), b ? b->data() : nullptr, y.data(), g);
    cpu_act(y.data(), y.numel(), act, slope);
  } else {
#ifdef MRIGAN_CUDA
    cuda::conv::backward_data(x.data(), w.data(), b ? b->data() : nullptr, y.data(), g, act, slope);
#endif
  }
  return wrap(info.Env(), y);
}

MRIGAN_EXPORT("cudaSetTf32", SetTf32);
MRIGAN_EXPORT("cudaTf32", GetTf32);
MRIGAN_EXPORT("cudaSetConvAlgo", SetConvAlgo);
MRIGAN_EXPORT("cudaConvAlgos", ConvAlgos);
MRIGAN_EXPORT("cudaMemStats", MemStats);
MRIGAN_EXPORT("cudaResetPeak", ResetPeak);
MRIGAN_EXPORT("cudaEmptyCache", EmptyCache);
MRIGAN_EXPORT("cudaSynchronize", Synchronize);
MRIGAN_EXPORT("conv2dForwardAct", Conv2dForwardAct);
MRIGAN_EXPORT("convTranspose2dForwardAct", ConvTranspose2dForwardAct);

}  // namespace mrigan::addon
