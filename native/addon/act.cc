// Bindings of native/cpu/act.cc: argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

// (x, slope) → y
static Napi::Value LeakyReluForward(const Napi::CallbackInfo& info) {
  return unary_binding(info, "leakyReluForward", "slope", [](Tensor& x, Tensor& y, float slope) {
    MRIGAN_DISPATCH(x, leaky_relu_forward, x.data(), y.data(), x.numel(), slope);
  });
}

// (dy, x, slope) → dx
static Napi::Value LeakyReluBackward(const Napi::CallbackInfo& info) {
  return grad_binding(info, "leakyReluBackward", "x", "slope", [](Tensor& dy, Tensor& x, Tensor& dx, float slope) {
    MRIGAN_DISPATCH(x, leaky_relu_backward, dy.data(), x.data(), dx.data(), x.numel(), slope);
  });
}

// (x) → y
static Napi::Value TanhForward(const Napi::CallbackInfo& info) {
  return unary_binding(info, "tanhForward", nullptr, [](Tensor& x, Tensor& y, float) {
    MRIGAN_DISPATCH(x, tanh_forward, x.data(), y.data(), x.numel());
  });
}
static Napi::Value SigmoidForward(const Napi::CallbackInfo& info) {
  return unary_binding(info, "sigmoidForward", nullptr, [](Tensor& x, Tensor& y, float) {
    MRIGAN_DISPATCH(x, sigmoid_forward, x.data(), y.data(), x.numel());
  });
}

// (dy, y) → dx, from the forward output y
static Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  return grad_binding(info, "tanhBackward", "y", nullptr, [](Tensor& dy, Tensor& y, Tensor& dx, float) {
    MRIGAN_DISPATCH(y, tanh_backward, dy.data(), y.data(), dx.data(), y.numel());
  });
}
static Napi::Value SigmoidBackward(const Napi::CallbackInfo& info) {
  return grad_binding(info, "sigmoidBackward", "y", nullptr, [](Tensor& dy, Tensor& y, Tensor& dx, float) {
    MRIGAN_DISPATCH(y, sigmoid_backward, dy.data(), y.data(), dx.data(), y.numel());
  });
}

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
