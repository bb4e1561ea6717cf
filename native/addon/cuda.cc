// CUDA-backend controls. JS names: lib/engine/cuda.ts. (The fused conv + activation ops are registry ops:
// native/addon/conv.cc.)
//   cudaSetTf32(on) / cudaTf32()            TF32 tensor cores for convolutions (also MRIGAN_TF32=1)
//   cudaSetConvAlgo(pass, algo)              force a conv kernel (-1 = automatic); cudaConvAlgos() lists them
//   cudaMemStats(device) / cudaResetPeak / cudaEmptyCache / cudaSynchronize
// In a build without CUDA the controls answer "no CUDA" (getters return neutral values, setters throw).
#include "addon/binding.h"
#include "cuda/api.h"

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

// (device) → undefined: an allocator action on one GPU (act is null in a build without CUDA, where no GPU passes
// gpu_arg).
static Napi::Value OnGpu(const Napi::CallbackInfo& info, const char* fn, void (*act)(int)) {
  int dev = gpu_arg(info, 0, fn);
  if (act) act(dev);
  return info.Env().Undefined();
}
#ifdef MRIGAN_CUDA
#define MRIGAN_CUDA_FN(f) &cuda::f
#else
#define MRIGAN_CUDA_FN(f) nullptr
#endif
static Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  return OnGpu(info, "cudaResetPeak", MRIGAN_CUDA_FN(reset_peak));
}
static Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  return OnGpu(info, "cudaEmptyCache", MRIGAN_CUDA_FN(empty_cache));
}

static Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  int dev = arg_device(info, 0, "device");
  if (dev != kCPU) cuda_synchronize(dev);
  return info.Env().Undefined();
}

MRIGAN_EXPORT("cudaSetTf32", SetTf32);
MRIGAN_EXPORT("cudaTf32", GetTf32);
MRIGAN_EXPORT("cudaSetConvAlgo", SetConvAlgo);
MRIGAN_EXPORT("cudaConvAlgos", ConvAlgos);
MRIGAN_EXPORT("cudaMemStats", MemStats);
MRIGAN_EXPORT("cudaResetPeak", ResetPeak);
MRIGAN_EXPORT("cudaEmptyCache", EmptyCache);
MRIGAN_EXPORT("cudaSynchronize", Synchronize);

}  // namespace mrigan::addon
