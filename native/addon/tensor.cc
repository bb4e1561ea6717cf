// Tensor creation, movement and engine information.
#include <cstring>

#include "addon/binding.h"
#include "core/host_alloc.h"
#include "core/parallel.h"

namespace mrigan::addon {

static Napi::Value FromArray(const Napi::CallbackInfo& info) {
  need_args(info, 2, "tensorFromArray");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), "argument 1 (data) must be a Float32Array");
  Napi::Float32Array a = info[0].As<Napi::Float32Array>();
  Shape s = arg_shape(info, 1, "shape");
  int dev = arg_device(info, 2, "device");
  MRIGAN_CHECK(shape_numel(s) == a.ElementLength(), "tensorFromArray: shape ", shape_str(s), " holds ", shape_numel(s),
               " values but the data has ", a.ElementLength());
  Tensor t = empty(s, dev);
  if (a.ElementLength() == 0) return wrap(info.Env(), t);  // an empty array's Data() may be null: no memcpy from it
  if (dev == kCPU) std::memcpy(t.data(), a.Data(), a.ElementLength() * sizeof(float));
  else cuda_copy(t.data(), dev, a.Data(), kCPU, a.ElementLength() * sizeof(float));
  return wrap(info.Env(), t);
}

static Napi::Value Zeros(const Napi::CallbackInfo& info) {
  need_args(info, 1, "tensorZeros");
  return wrap(info.Env(), zeros(arg_shape(info, 0, "shape"), arg_device(info, 1, "device")));
}

static Napi::Value Full(const Napi::CallbackInfo& info) {
  need_args(info, 2, "tensorFull");
  Shape s = arg_shape(info, 0, "shape");
  float v = (float)arg_number(info, 1, "value");
  Tensor t = empty(s, arg_device(info, 2, "device"));
  MRIGAN_DISPATCH(t, fill, t.data(), t.numel(), v);
  return wrap(info.Env(), t);
}

static Napi::Value Reshape(const Napi::CallbackInfo& info) {
  need_args(info, 2, "reshape");
  return wrap(info.Env(), reshape(arg_tensor(info, 0, "x"), arg_shape(info, 1, "shape")));
}

static Napi::Value Clone(const Napi::CallbackInfo& info) {
  need_args(info, 1, "clone");
  return wrap(info.Env(), clone(arg_tensor(info, 0, "x")));
}

static Napi::Value To(const Napi::CallbackInfo& info) {
  need_args(info, 2, "to");
  return wrap(info.Env(), to_device(arg_tensor(info, 0, "x"), arg_device(info, 1, "device")));
}

// copyInto(dst, src): same shape, any devices.
static Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  need_args(info, 2, "copyInto");
  Tensor& d = arg_tensor(info, 0, "dst");
  Tensor& s = arg_tensor(info, 1, "src");
  check_shape(s, d.shape, "src");
  size_t bytes = d.numel() * sizeof(float);
  if (d.on_cpu() && s.on_cpu()) std::memmove(d.data(), s.data(), bytes);
  else cuda_copy(d.data(), d.device(), s.data(), s.device(), bytes);
  return info.Env().Undefined();
}

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", num_threads());
  o.Set("cudaDevices", cuda_device_count());
  o.Set("cudaStatus", cuda_status());
#ifdef MRIGAN_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
#ifdef MRIGAN_OPENBLAS
  o.Set("blas", "openblas");
#else
  o.Set("blas", "builtin");
#endif
#ifdef MRIGAN_MPI
  o.Set("mpi", true);
#else
  o.Set("mpi", false);
#endif
  return o;
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  need_args(info, 1, "setThreads");
  set_num_threads((int)arg_int(info, 0, "threads", 1, 4096));
  return info.Env().Undefined();
}

static Napi::Value PeakBytes(const Napi::CallbackInfo& info) {
  int dev = arg_device(info, 0, "device");
  return Napi::Number::New(info.Env(), dev == kCPU ? (double)host_mem_stats().peak_bytes : (double)cuda_peak_bytes(dev));
}

// Host tensor memory (core/host_alloc.h): bytes live / peak / cached, the cache's limit, large blocks taken from the
// system and from the cache.
static Napi::Value HostMemStats(const Napi::CallbackInfo& info) {
  const mrigan::HostMemStats s = host_mem_stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveBytes", (double)s.live_bytes);
  o.Set("peakBytes", (double)s.peak_bytes);
  o.Set("cachedBytes", (double)s.cached_bytes);
  o.Set("cacheLimit", (double)s.cache_limit);
  o.Set("systemAllocs", (double)s.system_allocs);
  o.Set("cacheHits", (double)s.cache_hits);
  return o;
}
static Napi::Value HostEmptyCache(const Napi::CallbackInfo& info) {
  host_empty_cache();
  return info.Env().Undefined();
}
static Napi::Value HostResetPeak(const Napi::CallbackInfo& info) {
  host_reset_peak();
  return info.Env().Undefined();
}

MRIGAN_EXPORT("tensorFromArray", FromArray);
MRIGAN_EXPORT("tensorZeros", Zeros);
MRIGAN_EXPORT("tensorFull", Full);
MRIGAN_EXPORT("reshape", Reshape);
MRIGAN_EXPORT("clone", Clone);
MRIGAN_EXPORT("to", To);
MRIGAN_EXPORT("copyInto", CopyInto);
MRIGAN_EXPORT("info", Info);
MRIGAN_EXPORT("setThreads", SetThreads);
MRIGAN_EXPORT("peakBytes", PeakBytes);
MRIGAN_EXPORT("hostMemStats", HostMemStats);
MRIGAN_EXPORT("hostEmptyCache", HostEmptyCache);
MRIGAN_EXPORT("hostResetPeak", HostResetPeak);

}  // namespace mrigan::addon
