// Small argument helpers shared by the op bindings (elementwise, act, rng, norm, loss, adam, gp). No math here.
#pragma once
#include <cfloat>
#include <initializer_list>

#include "addon/binding.h"

namespace mrigan::addon {

// A finite number that fits a float32 (the kernels take float scalars).
inline float arg_float(const Napi::CallbackInfo& info, size_t i, const char* what) {
  double d = arg_number(info, i, what);
  if (std::fabs(d) > (double)FLT_MAX)
    throw Napi::RangeError::New(info.Env(), cat("argument ", i + 1, " (", what, ") does not fit a float32: ", d));
  return (float)d;
}

// A float scalar with a range check; the message names the function, the argument and the allowed range.
template <typename Ok>
inline float arg_float_in(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, const char* range,
                          Ok ok) {
  float v = arg_float(info, i, what);
  if (!ok(v)) throw Napi::RangeError::New(info.Env(), cat(fn, ": ", what, " must be ", range, ", got ", v));
  return v;
}

// t has ref's shape and device.
inline void check_like(const Tensor& t, const char* tn, const Tensor& ref, const char* rn) {
  check_same_device(t, tn, ref, rn);
  check_shape(t, ref.shape, tn);
}

// Every listed tensor is [c] on ref's device.
inline void check_per_channel(int64_t c, const Tensor& ref, const char* rn,
                              std::initializer_list<std::pair<const Tensor*, const char*>> ts) {
  for (auto& [t, name] : ts) {
    check_same_device(*t, name, ref, rn);
    check_shape(*t, {c}, name);
  }
}

// x viewed as [n, c, hw]: x must be [n, c] or [n, c, h, w].
struct NCHW { int64_t n, c, hw; };
inline NCHW nc_hw(const Tensor& x, const char* fn, const char* what) {
  MRIGAN_CHECK(x.ndim() == 2 || x.ndim() == 4, fn, ": ", what, " must be [n, c] or [n, c, h, w], got shape ",
               shape_str(x.shape));
  return {x.dim(0), x.dim(1), x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1};
}

// A JS array of results.
inline Napi::Array result(Napi::Env env, std::initializer_list<Napi::Value> vs) {
  Napi::Array r = Napi::Array::New(env, vs.size());
  uint32_t k = 0;
  for (const Napi::Value& v : vs) r[k++] = v;
  return r;
}

}  // namespace mrigan::addon
