// Bindings of native/cpu/elementwise.cc: argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

// (a, b) → a op b, same shape and device.
template <int Op>
static Napi::Value Binary(const Napi::CallbackInfo& info) {
  const char* fn = Op == 0 ? "add" : "mul";
  need_args(info, 2, fn);
  Tensor& a = arg_tensor(info, 0, "a");
  Tensor& b = arg_tensor(info, 1, "b");
  check_like(b, "b", a, "a");
  Tensor y = empty(a.shape, a.device());
  if (Op == 0) MRIGAN_DISPATCH(a, add, a.data(), b.data(), y.data(), a.numel());
  else MRIGAN_DISPATCH(a, mul, a.data(), b.data(), y.data(), a.numel());
  return wrap(info.Env(), y);
}
static Napi::Value Add(const Napi::CallbackInfo& info) { return Binary<0>(info); }
static Napi::Value Mul(const Napi::CallbackInfo& info) { return Binary<1>(info); }

// (x, alpha) → alpha·x
static Napi::Value Scale(const Napi::CallbackInfo& info) {
  return unary_binding(info, "scale", "alpha", [](Tensor& x, Tensor& y, float alpha) {
    MRIGAN_DISPATCH(x, scale, x.data(), y.data(), x.numel(), alpha);
  });
}

// (alpha, x, y): y += alpha·x in place
static Napi::Value Axpy(const Napi::CallbackInfo& info) {
  need_args(info, 3, "axpy");
  float alpha = arg_float(info, 0, "alpha");
  Tensor& x = arg_tensor(info, 1, "x");
  Tensor& y = arg_tensor(info, 2, "y");
  check_like(x, "x", y, "y");
  MRIGAN_DISPATCH(y, axpy, alpha, x.data(), y.data(), y.numel());
  return info.Env().Undefined();
}

// (t, v): every element set to v in place
static Napi::Value Fill(const Napi::CallbackInfo& info) {
  need_args(info, 2, "fill");
  Tensor& t = arg_tensor(info, 0, "t");
  float v = arg_float(info, 1, "value");
  MRIGAN_DISPATCH(t, fill, t.data(), t.numel(), v);
  return info.Env().Undefined();
}

// (x) → Σx as a float64 number
static Napi::Value Sum(const Napi::CallbackInfo& info) {
  need_args(info, 1, "sum");
  Tensor& x = arg_tensor(info, 0, "x");
  double s = MRIGAN_DISPATCH(x, sum, x.data(), x.numel());
  return Napi::Number::New(info.Env(), s);
}

// (x) → Σx (sumTo, Op 0) or Σx / n (meanTo, Op 1) as a [1] tensor on x's device: float64 inside, no host sync.
template <int Op>
static Napi::Value ReduceTo(const Napi::CallbackInfo& info) {
  const char* fn = Op == 0 ? "sumTo" : "meanTo";
  need_args(info, 1, fn);
  Tensor& x = arg_tensor(info, 0, "x");
  if (Op == 1) MRIGAN_CHECK(x.numel() > 0, fn, ": x is empty (the mean of no values is undefined)");
  Tensor y = empty({1}, x.device());
  if (Op == 0) MRIGAN_DISPATCH(x, sum_to, x.data(), y.data(), x.numel());
  else MRIGAN_DISPATCH(x, mean_to, x.data(), y.data(), x.numel());
  return wrap(info.Env(), y);
}
static Napi::Value SumTo(const Napi::CallbackInfo& info) { return ReduceTo<0>(info); }
static Napi::Value MeanTo(const Napi::CallbackInfo& info) { return ReduceTo<1>(info); }

// (scalars[] of 1-element tensors, device?) → [count] tensor of their values on their device (one copy reads them all);
// device (default 'cpu') places the result of an empty list.
static Napi::Value GatherScalars(const Napi::CallbackInfo& info) {
  const char* fn = "gatherScalars";
  need_args(info, 1, fn);
  std::vector<Tensor*> ts = arg_tensor_list(info, 0, "scalars");
  if (ts.empty()) return wrap(info.Env(), empty({0}, arg_device(info, 1, "device")));
  std::vector<const float*> ptrs;
  for (size_t k = 0; k < ts.size(); ++k) {
    std::string name = cat(fn, ": scalars[", k, "]");
    check_same_device(*ts[k], name.c_str(), *ts[0], "scalars[0]");
    MRIGAN_CHECK(ts[k]->numel() == 1, name, " must have one element, got shape ", shape_str(ts[k]->shape));
    ptrs.push_back(ts[k]->data());
  }
  Tensor y = empty({(int64_t)ts.size()}, ts[0]->device());
  MRIGAN_DISPATCH(y, gather_scalars, ptrs.data(), y.data(), (int64_t)ts.size());
  return wrap(info.Env(), y);
}

// (tensors[]) → index of the first tensor holding a NaN or ±Inf, or −1 (one pass; on a GPU one sync)
static Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  need_args(info, 1, "firstNonFinite");
  std::vector<Tensor*> ts = arg_tensor_list(info, 0, "tensors");
  if (ts.empty()) return Napi::Number::New(info.Env(), -1);
  std::vector<const float*> ptrs;
  std::vector<int64_t> sizes;
  for (size_t k = 0; k < ts.size(); ++k) {
    std::string name = cat("tensors[", k, "]");
    check_same_device(*ts[k], name.c_str(), *ts[0], "tensors[0]");
    ptrs.push_back(ts[k]->data());
    sizes.push_back((int64_t)ts[k]->numel());
  }
  int64_t r = MRIGAN_DISPATCH(*ts[0], first_non_finite, ptrs.data(), sizes.data(), (int64_t)ts.size());
  return Napi::Number::New(info.Env(), (double)r);
}

// (y [n, c] or [n, c, h, w], b [c]): y += b per channel, in place (biasAdd, Op 0); (dy, db): db += Σ dy over n and
// space (biasGrad, Op 1).
template <int Op>
static Napi::Value PerChannel(const Napi::CallbackInfo& info) {
  const char* fn = Op == 0 ? "biasAdd" : "biasGrad";
  const char *tn = Op == 0 ? "y" : "dy", *vn = Op == 0 ? "b" : "db";
  need_args(info, 2, fn);
  Tensor& t = arg_tensor(info, 0, tn);
  Tensor& v = arg_tensor(info, 1, vn);
  NCHW g = nc_hw(t, fn, tn);
  check_per_channel(g.c, t, tn, {{&v, vn}});
  if (Op == 0) MRIGAN_DISPATCH(t, bias_add, t.data(), v.data(), g.n, g.c, g.hw);
  else MRIGAN_DISPATCH(t, bias_grad, t.data(), v.data(), g.n, g.c, g.hw);
  return info.Env().Undefined();
}
static Napi::Value BiasAdd(const Napi::CallbackInfo& info) { return PerChannel<0>(info); }
static Napi::Value BiasGrad(const Napi::CallbackInfo& info) { return PerChannel<1>(info); }

// (a, b, t) → b + t[i]·(a − b) row by row: a, b [n, ...] alike, t with n elements (one factor per row).
static Napi::Value LerpRows(const Napi::CallbackInfo& info) {
  need_args(info, 3, "lerpRows");
  Tensor& a = arg_tensor(info, 0, "a");
  Tensor& b = arg_tensor(info, 1, "b");
  Tensor& t = arg_tensor(info, 2, "t");
  check_like(b, "b", a, "a");
  MRIGAN_CHECK(a.ndim() >= 1 && a.shape[0] > 0, "lerpRows: a must have at least one row, got shape ", shape_str(a.shape));
  const int64_t n = a.shape[0];
  check_same_device(t, "t", a, "a");
  MRIGAN_CHECK((int64_t)t.numel() == n, "lerpRows: t must have one element per row of a (", n, "), got ", t.numel());
  Tensor y = empty(a.shape, a.device());
  MRIGAN_DISPATCH(a, lerp_rows, a.data(), b.data(), t.data(), y.data(), n, a.numel() / n);
  return wrap(info.Env(), y);
}

MRIGAN_EXPORT("add", Add);
MRIGAN_EXPORT("mul", Mul);
MRIGAN_EXPORT("scale", Scale);
MRIGAN_EXPORT("axpy", Axpy);
MRIGAN_EXPORT("fill", Fill);
MRIGAN_EXPORT("sum", Sum);
MRIGAN_EXPORT("sumTo", SumTo);
MRIGAN_EXPORT("meanTo", MeanTo);
MRIGAN_EXPORT("gatherScalars", GatherScalars);
MRIGAN_EXPORT("firstNonFinite", FirstNonFinite);
MRIGAN_EXPORT("lerpRows", LerpRows);
MRIGAN_EXPORT("biasAdd", BiasAdd);
MRIGAN_EXPORT("biasGrad", BiasGrad);

}  // namespace mrigan::addon
