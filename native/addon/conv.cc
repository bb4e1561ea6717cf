// Conv2d / ConvTranspose2d bindings: read and validate arguments, derive the conv geometry and output shape,
// dispatch to mrigan::cpu or mrigan::cuda. JS names and argument order: lib/engine/ops/conv.ts.
// Geometry: ConvShape always describes the conv; for conv-transpose that conv runs from the transpose's output
// [n, c, h, w] to its input [n, k, p, q] (native/cpu/conv_transpose.cc).
#include <array>
#include <string>

#include "addon/binding.h"
#include "addon/conv_args.h"
#include "cpu/gemm.h"

namespace mrigan::addon {

// conv2dBackwardData(dy [n,k,p,q], w [k,c,r,s], xShape [n,c,h,w], stride, padding) → dx [n,c,h,w]
static Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  const char* fn = "conv2dBackwardData";
  need_args(info, 5, fn);
  Tensor& dy = arg_tensor(info, 0, "dy");
  Tensor& w = arg_tensor(info, 1, "w");
  Shape xs = arg_shape(info, 2, "xShape");
  auto st = read_stride(info, 3, fn);
  auto pd = read_pads(info, 4, fn);
  MRIGAN_CHECK(xs.size() == 4, fn, ": argument 3 (xShape) must have 4 entries [n, c, h, w], got ", shape_str(xs));
  for (int d = 1; d < 4; ++d) MRIGAN_CHECK(xs[d] >= 1, fn, ": argument 3 (xShape) has an empty dimension: ", shape_str(xs));
  check_4d(w, fn, 1, "w", 0);
  MRIGAN_CHECK(w.dim(1) == xs[1], fn, ": argument 2 (w) ", shape_str(w.shape), " expects ", w.dim(1),
               " input channels but argument 3 (xShape) ", shape_str(xs), " has ", xs[1]);
  same_device(dy, 0, "dy", w, 1, "w");
  ConvShape g = conv_geom(fn, xs, w.dim(0), w.dim(2), w.dim(3), st, pd);
  check_shape(dy, {g.n, g.k, g.p, g.q}, cat(fn, ": argument 1 (dy)").c_str());
  Tensor dx = empty(xs, dy.device());
  MRIGAN_DISPATCH(dy, conv2d_backward_data, dy.data(), w.data(), dx.data(), g);
  return wrap(info.Env(), dx);
}

// Backward-weight arguments (dy, x, dw, stride, padding), validated alike for conv (the geometry comes from x, and dy
// must be its output) and conv-transpose (the geometry comes from dy, and x must be the equivalent conv's output).
static Napi::Value BackwardWeight(const Napi::CallbackInfo& info, const char* fn, bool transpose) {
  need_args(info, 5, fn);
  Tensor& dy = arg_tensor(info, 0, "dy");
  Tensor& x = arg_tensor(info, 1, "x");
  Tensor& dw = arg_tensor(info, 2, "dw");
  auto st = read_stride(info, 3, fn);
  auto pd = read_pads(info, 4, fn);
  Tensor& src = transpose ? dy : x;  // sets the geometry
  Tensor& out = transpose ? x : dy;  // must have the geometry's output shape
  check_4d(src, fn, transpose ? 0 : 1, transpose ? "dy" : "x", 1);
  check_4d(dw, fn, 2, "dw", 0);
  MRIGAN_CHECK(dw.dim(1) == src.dim(1), fn, ": argument 3 (dw) ", shape_str(dw.shape),
               transpose ? " (IOHW) has " : " expects ", dw.dim(1),
               transpose ? " output channels but argument 1 (dy) " : " input channels but argument 2 (x) ",
               shape_str(src.shape), " has ", src.dim(1));
  same_device(dy, 0, "dy", x, 1, "x");
  same_device(dy, 0, "dy", dw, 2, "dw");
  ConvShape g = conv_geom(fn, src.shape, dw.dim(0), dw.dim(2), dw.dim(3), st, pd);
  check_shape(out, {g.n, g.k, g.p, g.q}, cat(fn, transpose ? ": argument 2 (x)" : ": argument 1 (dy)").c_str());
  if (transpose) MRIGAN_DISPATCH(dy, conv_transpose2d_backward_weight, dy.data(), x.data(), dw.data(), g);
  else MRIGAN_DISPATCH(dy, conv2d_backward_weight, dy.data(), x.data(), dw.data(), g);
  return info.Env().Undefined();
}

// conv2dBackwardWeight(dy [n,k,p,q], x [n,c,h,w], dw [k,c,r,s], stride, padding): dw += ∂L/∂w
static Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  return BackwardWeight(info, "conv2dBackwardWeight", false);
}

// convTranspose2dBackwardData(dy [n,c,h,w], w [k,c,r,s], stride, padding) → dx [n,k,p,q], p by the conv formula
static Napi::Value ConvTranspose2dBackwardData(const Napi::CallbackInfo& info) {
  const char* fn = "convTranspose2dBackwardData";
  need_args(info, 4, fn);
  Tensor& dy = arg_tensor(info, 0, "dy");
  Tensor& w = arg_tensor(info, 1, "w");
  auto st = read_stride(info, 2, fn);
  auto pd = read_pads(info, 3, fn);
  check_4d(dy, fn, 0, "dy", 1);
  check_4d(w, fn, 1, "w", 0);
  MRIGAN_CHECK(w.dim(1) == dy.dim(1), fn, ": argument 2 (w) ", shape_str(w.shape), " (IOHW) has ", w.dim(1),
               " output channels but argument 1 (dy) ", shape_str(dy.shape), " has ", dy.dim(1));
  same_device(dy, 0, "dy", w, 1, "w");
  ConvShape g = conv_geom(fn, dy.shape, w.dim(0), w.dim(2), w.dim(3), st, pd);
  Tensor dx = empty({g.n, g.k, g.p, g.q}, dy.device());
  MRIGAN_DISPATCH(dy, conv_transpose2d_backward_data, dy.data(), w.data(), dx.data(), g);
  return wrap(info.Env(), dx);
}

// convTranspose2dBackwardWeight(dy [n,c,h,w], x [n,k,p,q], dw [k,c,r,s], stride, padding): dw += ∂L/∂w
static Napi::Value ConvTranspose2dBackwardWeight(const Napi::CallbackInfo& info) {
  return BackwardWeight(info, "convTranspose2dBackwardWeight", true);
}

// The fused epilogue's activation: 'none' | 'relu' | 'leaky_relu' (slope from argument slope_i) | 'tanh' | 'sigmoid'.
static int arg_act(const Napi::CallbackInfo& info, size_t i, float& slope, size_t slope_i) {
  const char* names = "'none', 'relu', 'leaky_relu', 'tanh' or 'sigmoid'";
  if (i >= info.Length() || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), cat("argument ", i + 1, " (act) must be ", names));
  std::string a = info[i].As<Napi::String>();
  slope = 0.f;
  if (a == "none") return kActNone;
  if (a == "relu") return kActLeaky;
  if (a == "leaky_relu") {
    slope = (float)arg_number(info, slope_i, "slope");
    return kActLeaky;
  }
  if (a == "tanh") return kActTanh;
  if (a == "sigmoid") return kActSigmoid;
  throw Napi::TypeError::New(info.Env(), cat("argument ", i + 1, " (act) must be ", names, ", got '", a, "'"));
}

// The four forward bindings, conv (y [n, k, p, q]) or conv-transpose (y [n, c, h, w] by the conv geometry g, see the
// top), with or without the fused epilogue activation read after the layout arguments:
//   conv2dForward(x [n,c,h,w], w [k,c,r,s], b [k] | null, stride [2], padding [4]) → y
//   convTranspose2dForward(x [n,k,p,q], w [k,c,r,s] (IOHW), b [c] | null, stride, padding, outputPadding [2])
//     → y [n, c, (p−1)·sh − pt − pb + r + oph, (q−1)·sw − pl − pr + s + opw]
//   conv2dForwardAct(..., act, slope?) / convTranspose2dForwardAct(..., act, slope?) → y = act(forward(x, w) + b)
static Napi::Value ForwardAny(const Napi::CallbackInfo& info, const char* fn, bool transpose, bool fused) {
  const size_t n_layout = transpose ? 6 : 5;  // arguments before act
  need_args(info, n_layout + (fused ? 1 : 0), fn);
  ConvForwardArgs a = transpose ? read_conv_transpose_forward(info, fn) : read_conv_forward(info, fn);
  Tensor &x = *a.x, &w = *a.w;
  const float* b = a.b ? a.b->data() : nullptr;
  const ConvShape& g = a.g;
  float slope = 0.f;
  int act = fused ? arg_act(info, n_layout, slope, n_layout + 1) : kActNone;
  Tensor y = transpose ? empty({g.n, g.c, g.h, g.w}, x.device()) : empty({g.n, g.k, g.p, g.q}, x.device());
  if (transpose && fused)
    MRIGAN_DISPATCH(x, conv_transpose2d_forward_act, x.data(), w.data(), b, y.data(), g, act, slope);
  else if (transpose) MRIGAN_DISPATCH(x, conv_transpose2d_forward, x.data(), w.data(), b, y.data(), g);
  else if (fused) MRIGAN_DISPATCH(x, conv2d_forward_act, x.data(), w.data(), b, y.data(), g, act, slope);
  else MRIGAN_DISPATCH(x, conv2d_forward, x.data(), w.data(), b, y.data(), g);
  return wrap(info.Env(), y);
}
static Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  return ForwardAny(info, "conv2dForward", false, false);
}
static Napi::Value ConvTranspose2dForward(const Napi::CallbackInfo& info) {
  return ForwardAny(info, "convTranspose2dForward", true, false);
}
static Napi::Value Conv2dForwardAct(const Napi::CallbackInfo& info) {
  return ForwardAny(info, "conv2dForwardAct", false, true);
}
static Napi::Value ConvTranspose2dForwardAct(const Napi::CallbackInfo& info) {
  return ForwardAny(info, "convTranspose2dForwardAct", true, true);
}

// convTuning({tileCols?, serialMacs?, kernel?, winoTile?}?) → the previous CPU tuning (tests and benchmarks; see
// cpu/gemm.h). kernel: 'auto' | 'gemm' | 'direct' | 'wino'; winoTile: 0 (per pass and shape), 3 or 4.
static Napi::Value ConvTuning(const Napi::CallbackInfo& info) {
  cpu::ConvTuning old = cpu::conv_tuning(), t = old;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "convTuning: argument 1 must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto field = [&](const char* name, int64_t lo, int64_t& dst) {
      if (!o.Has(name) || o.Get(name).IsUndefined()) return;
      Napi::Value v = o.Get(name);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      MRIGAN_CHECK(d == std::floor(d) && d >= (double)lo && d <= 1e15, "convTuning: ", name, " must be an integer >= ", lo);
      dst = (int64_t)d;
    };
    field("tileCols", 1, t.tile_cols);
    field("serialMacs", 0, t.serial_macs);
    field("winoTile", 0, t.wino_tile);
    MRIGAN_CHECK(t.wino_tile == 0 || t.wino_tile == 3 || t.wino_tile == 4, "convTuning: winoTile must be 0, 3 or 4");
    if (o.Has("kernel") && !o.Get("kernel").IsUndefined()) {
      Napi::Value v = o.Get("kernel");
      const std::string k = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
      MRIGAN_CHECK(k == "auto" || k == "gemm" || k == "direct" || k == "wino", "convTuning: kernel must be 'auto', 'gemm', 'direct' or 'wino'");
      t.kernel = k == "gemm" ? cpu::kConvGemm : k == "direct" ? cpu::kConvDirect : k == "wino" ? cpu::kConvWino : cpu::kConvAuto;
    }
    cpu::conv_set_tuning(t);
  }
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("tileCols", (double)old.tile_cols);
  r.Set("serialMacs", (double)old.serial_macs);
  r.Set("winoTile", (double)old.wino_tile);
  r.Set("kernel", old.kernel == cpu::kConvGemm ? "gemm" : old.kernel == cpu::kConvDirect ? "direct" : old.kernel == cpu::kConvWino ? "wino" : "auto");
  return r;
}

MRIGAN_EXPORT("conv2dForward", Conv2dForward);
MRIGAN_EXPORT("conv2dBackwardData", Conv2dBackwardData);
MRIGAN_EXPORT("conv2dBackwardWeight", Conv2dBackwardWeight);
MRIGAN_EXPORT("convTranspose2dForward", ConvTranspose2dForward);
MRIGAN_EXPORT("convTranspose2dBackwardData", ConvTranspose2dBackwardData);
MRIGAN_EXPORT("convTranspose2dBackwardWeight", ConvTranspose2dBackwardWeight);
MRIGAN_EXPORT("conv2dForwardAct", Conv2dForwardAct);
MRIGAN_EXPORT("convTranspose2dForwardAct", ConvTranspose2dForwardAct);
MRIGAN_EXPORT("convTuning", ConvTuning);

}  // namespace mrigan::addon
