// Bindings of native/cpu/act.cc: argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

// (x, slope) → y
static Napi::Value LeakyReluForward(const Napi::CallbackInfo& info) {
  need_args(info, 2, "leakyReluForward");
  Tensor& x = arg_tensor(info, 0, "x");
  float slope = arg_float(info, 1, "slope");
  Tensor y = empty(x.shape, x.device());
  MRIGAN_DISPATCH(x, leaky_relu_forward, x.data(), y.data(), x.numel(), slope);
  return wrap(info.Env(), y);
}

// (dy, x, slope) → dx
static Napi::Value LeakyReluBackward(const Napi::CallbackInfo& info) {
  need_args(info, 3, "leakyReluBackward");
  Tensor& dy = arg_tensor(info, 0, "dy");
  Tensor& x = arg_tensor(info, 1, "x");
  float slope = arg_float(info, 2, "slope");
  check_like(dy, "dy", x, "x");
  Tensor dx = empty(x.shape, x.device());
  MRIGAN_DISPATCH(x, leaky_relu_backward, dy.data(), x.data(), dx.data(), x.numel(), slope);
  return wrap(info.Env(), dx);
}

// (x) → y for tanh (Op 0) and sigmoid (Op 1)
template <int Op>
static Napi::Value UnaryForward(const Napi::CallbackInfo& info) {
  need_args(info, 1, Op == 0 ? "tanhForward" : "sigmoidForward");
  Tensor& x = arg_tensor(info, 0, "x");
  Tensor y = empty(x.shape, x.device());
  if (Op == 0) MRIGAN_DISPATCH(x, tanh_forward, x.data(), y.data(), x.numel());
  else MRIGAN_DISPATCH(x, sigmoid_forward, x.data(), y.data(), x.numel());
  return wrap(info.Env(), y);
}

// (dy, y) → dx, from the forward output y
template <int Op>
static Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  need_args(info, 2, Op == 0 ? "tanhBackward" : "sigmoidBackward");
  Tensor& dy = arg_tensor(info, 0, "dy");
  Tensor& y = arg_tensor(info, 1, "y");
  check_like(dy, "dy", y, "y");
  Tensor dx = empty(y.shape, y.device());
  if (Op == 0) MRIGAN_DISPATCH(y, tanh_backward, dy.data(), y.data(), dx.data(), y.numel());
  else MRIGAN_DISPATCH(y, sigmoid_backward, dy.data(), y.data(), dx.data(), y.numel());
  return wrap(info.Env(), dx);
}
static Napi::Value TanhForward(const Napi::CallbackInfo& info) { return UnaryForward<0>(info); }
static Napi::Value SigmoidForward(const Napi::CallbackInfo& info) { return UnaryForward<1>(info); }
static Napi::Value TanhBackward(const Napi::CallbackInfo& info) { return UnaryBackward<0>(info); }
static Napi::Value SigmoidBackward(const Napi::CallbackInfo& info) { return UnaryBackward<1>(info); }

// (x, p, seed, stream, offset) → [y, mask]. p is checked as the float the kernel uses (p = 1 − 1e-9 rounds to 1).
static Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  need_args(info, 5, "dropoutForward");
  Tensor& x = arg_tensor(info, 0, "x");
  float p = arg_float_in(info, 1, "dropoutForward", "p", "in [0, 1) (as a float32)",
                         [](float v) { return v >= 0.0f && v < 1.0f; });
  uint64_t seed = arg_u64(info, 2, "seed");
  uint32_t stream = (uint32_t)arg_int(info, 3, "stream", 0, 4294967295LL);
  uint64_t offset = arg_u64(info, 4, "offset");
  Tensor y = empty(x.shape, x.device()), mask = empty(x.shape, x.device());
  MRIGAN_DISPATCH(x, dropout_forward, x.data(), y.data(), mask.data(), x.numel(), p, seed, stream, offset);
  return result(info.Env(), {wrap(info.Env(), y), wrap(info.Env(), mask)});
}

MRIGAN_EXPORT("leakyReluForward", LeakyReluForward);
MRIGAN_EXPORT("leakyReluBackward", LeakyReluBackward);
MRIGAN_EXPORT("tanhForward", TanhForward);
MRIGAN_EXPORT("tanhBackward", TanhBackward);
MRIGAN_EXPORT("sigmoidForward", SigmoidForward);
MRIGAN_EXPORT("sigmoidBackward", SigmoidBackward);
MRIGAN_EXPORT("dropoutForward", DropoutForward);

}  // namespace mrigan::addon
