// Small argument helpers shared by the op bindings (elementwise, act, rng, norm, loss, adam, gp, dense, conv). No math
// here.
#pragma once
#include <cfloat>
#include <initializer_list>

#include "addon/binding.h"

namespace mrigan::addon {

// A finite number that fits a float32 (the kernels take float scalars).
inline float arg_float(const Napi::CallbackInfo& info, size_t i, const char* what) {
  double d = arg_number(info, i, what);
  if (std::fabs(d) > (double)FLT_MAX)
    throw Napi::RangeError::New(info.Env(), cat(arg_label(i, what), " does not fit a float32: ", d));
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

// a (argument ia + 1) and b (argument ib + 1) on one device.
inline void same_device(const Tensor& a, int ia, const char* an, const Tensor& b, int ib, const char* bn) {
  check_same_device(a, arg_label(ia, an).c_str(), b, arg_label(ib, bn).c_str());
}

// The optional bias b (argument 3) of a layer's forward with input x (argument 1): [n_out] on x's device.
inline void check_bias(const Tensor* b, int64_t n_out, const Tensor& x, const char* fn) {
  if (!b) return;
  check_shape(*b, {n_out}, cat(fn, ": argument 3 (b)").c_str());
  same_device(x, 0, "x", *b, 2, "b");
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

// The frame of an elementwise binding (x[, s]) → y of x's shape on x's device; sname names the float scalar
// argument 2, or is null when there is none. run(x, y, s) dispatches the kernel.
template <typename Run>
inline Napi::Value unary_binding(const Napi::CallbackInfo& info, const char* fn, const char* sname, Run run) {
  need_args(info, sname ? 2 : 1, fn);
  Tensor& x = arg_tensor(info, 0, "x");
  float s = sname ? arg_float(info, 1, sname) : 0.0f;
  Tensor y = empty(x.shape, x.device());
  run(x, y, s);
  return wrap(info.Env(), y);
}

// The frame of its gradient (dy, x[, s]) → dx, dy like x; xn names argument 2 ("x", or "y" for ops whose backward
// reads the forward output).
template <typename Run>
inline Napi::Value grad_binding(const Napi::CallbackInfo& info, const char* fn, const char* xn, const char* sname, Run run) {
  need_args(info, sname ? 3 : 2, fn);
  Tensor& dy = arg_tensor(info, 0, "dy");
  Tensor& x = arg_tensor(info, 1, xn);
  float s = sname ? arg_float(info, 2, sname) : 0.0f;
  check_like(dy, "dy", x, xn);
  Tensor dx = empty(x.shape, x.device());
  run(dy, x, dx, s);
  return wrap(info.Env(), dx);
}

// A JS array of results.
inline Napi::Array result(Napi::Env env, std::initializer_list<Napi::Value> vs) {
  Napi::Array r = Napi::Array::New(env, vs.size());
  uint32_t k = 0;
  for (const Napi::Value& v : vs) r[k++] = v;
  return r;
}

}  // namespace mrigan::addon
