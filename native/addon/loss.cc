// Bindings of native/cpu/loss.cc: argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

// (logits, targets) → [mean loss (number), grad]; targets any finite reals (label noise makes them soft)
static Napi::Value BceWithLogits(const Napi::CallbackInfo& info) {
  need_args(info, 2, "bceWithLogits");
  Tensor& x = arg_tensor(info, 0, "logits");
  Tensor& t = arg_tensor(info, 1, "targets");
  check_like(t, "targets", x, "logits");
  MRIGAN_CHECK(x.numel() > 0, "bceWithLogits: logits is empty (the mean of no values is undefined)");
  Tensor grad = empty(x.shape, x.device());
  double loss = MRIGAN_DISPATCH(x, bce_with_logits, x.data(), t.data(), grad.data(), x.numel());
  Napi::Env env = info.Env();
  return result(env, {Napi::Number::New(env, loss), wrap(env, grad)});
}

// (logits, targets) → [loss ([1] tensor on the logits' device, no host sync), grad]
static Napi::Value BceWithLogitsTo(const Napi::CallbackInfo& info) {
  need_args(info, 2, "bceWithLogitsTo");
  Tensor& x = arg_tensor(info, 0, "logits");
  Tensor& t = arg_tensor(info, 1, "targets");
  check_like(t, "targets", x, "logits");
  MRIGAN_CHECK(x.numel() > 0, "bceWithLogitsTo: logits is empty (the mean of no values is undefined)");
  Tensor grad = empty(x.shape, x.device()), loss = empty({1}, x.device());
  MRIGAN_DISPATCH(x, bce_with_logits_to, x.data(), t.data(), grad.data(), loss.data(), x.numel());
  Napi::Env env = info.Env();
  return result(env, {wrap(env, loss), wrap(env, grad)});
}

MRIGAN_EXPORT("bceWithLogits", BceWithLogits);
MRIGAN_EXPORT("bceWithLogitsTo", BceWithLogitsTo);

}  // namespace mrigan::addon
