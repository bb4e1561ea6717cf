// Bindings of native/cpu/loss.cc: argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

// (logits, targets), targets like logits and logits not empty: the arguments of both BCE bindings.
static std::array<Tensor*, 2> bce_args(const Napi::CallbackInfo& info, const char* fn) {
  need_args(info, 2, fn);
  auto [x, t] = arg_tensors(info, 0, {"logits", "targets"});
  check_like(*t, "targets", *x, "logits");
  MRIGAN_CHECK(x->numel() > 0, fn, ": logits is empty (the mean of no values is undefined)");
  return {x, t};
}

// (logits, targets) → [mean loss (number), grad]; targets any finite reals (label noise makes them soft)
static Napi::Value BceWithLogits(const Napi::CallbackInfo& info) {
  auto [x, t] = bce_args(info, "bceWithLogits");
  Tensor grad = empty(x->shape, x->device());
  double loss = MRIGAN_DISPATCH(*x, bce_with_logits, x->data(), t->data(), grad.data(), x->numel());
  Napi::Env env = info.Env();
  return result(env, {Napi::Number::New(env, loss), wrap(env, grad)});
}

// (logits, targets) → [loss ([1] tensor on the logits' device, no host sync), grad]
static Napi::Value BceWithLogitsTo(const Napi::CallbackInfo& info) {
  auto [x, t] = bce_args(info, "bceWithLogitsTo");
  Tensor grad = empty(x->shape, x->device()), loss = empty({1}, x->device());
  MRIGAN_DISPATCH(*x, bce_with_logits_to, x->data(), t->data(), grad.data(), loss.data(), x->numel());
  Napi::Env env = info.Env();
  return result(env, {wrap(env, loss), wrap(env, grad)});
}

MRIGAN_EXPORT("bceWithLogits", BceWithLogits);
MRIGAN_EXPORT("bceWithLogitsTo", BceWithLogitsTo);

}  // namespace mrigan::addon
