// Bindings of native/cpu/norm.cc (BatchNorm, PyTorch semantics): argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

static float arg_eps(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return arg_float_in(info, i, fn, "eps", "> 0", [](float v) { return v > 0.0f; });
}

// The forward pack (x, gamma, beta, runMean, runVar), arguments 1-5, shared by training and eval.
static std::array<Tensor*, 5> bn_forward_args(const Napi::CallbackInfo& info) {
  return arg_tensors(info, 0, {"x", "gamma", "beta", "runMean", "runVar"});
}

// x [n, c] or [n, c, h, w] viewed as [n, c, hw]; gamma, beta, runMean, runVar [c] on x's device.
static NCHW bn_forward_geom(const std::array<Tensor*, 5>& a, const char* fn) {
  auto [x, gamma, beta, rm, rv] = a;
  NCHW g = nc_hw(*x, fn, "x");
  check_per_channel(g.c, *x, "x", {{gamma, "gamma"}, {beta, "beta"}, {rm, "runMean"}, {rv, "runVar"}});
  return g;
}

// (x, gamma, beta, runMean, runVar, momentum, eps) → [y, mean, invstd]; runMean/runVar updated in place.
// Like PyTorch, a channel with a single value (n·h·w = 1) is an error: its unbiased variance is undefined.
static Napi::Value BatchNormForwardTrain(const Napi::CallbackInfo& info) {
  const char* fn = "batchNormForwardTrain";
  need_args(info, 7, fn);
  auto a = bn_forward_args(info);
  float momentum = arg_float_in(info, 5, fn, "momentum", "in [0, 1]", [](float v) { return v >= 0.0f && v <= 1.0f; });
  float eps = arg_eps(info, 6, fn);
  NCHW g = bn_forward_geom(a, fn);
  auto [x, gamma, beta, rm, rv] = a;
  MRIGAN_CHECK(g.n * g.hw > 1, fn, ": expected more than 1 value per channel in training mode, got x ",
               shape_str(x->shape), " (n·h·w = ", g.n * g.hw, "); use a larger batch or eval mode");
  Tensor y = empty(x->shape, x->device()), mean = empty({g.c}, x->device()), invstd = empty({g.c}, x->device());
  MRIGAN_DISPATCH(*x, batch_norm_forward_train, x->data(), gamma->data(), beta->data(), y.data(), mean.data(),
                  invstd.data(), rm->data(), rv->data(), g.n, g.c, g.hw, momentum, eps);
  Napi::Env env = info.Env();
  return result(env, {wrap(env, y), wrap(env, mean), wrap(env, invstd)});
}

// (x, gamma, beta, runMean, runVar, eps) → y
static Napi::Value BatchNormForwardEval(const Napi::CallbackInfo& info) {
  const char* fn = "batchNormForwardEval";
  need_args(info, 6, fn);
  auto a = bn_forward_args(info);
  float eps = arg_eps(info, 5, fn);
  NCHW g = bn_forward_geom(a, fn);
  auto [x, gamma, beta, rm, rv] = a;
  Tensor y = empty(x->shape, x->device());
  MRIGAN_DISPATCH(*x, batch_norm_forward_eval, x->data(), gamma->data(), beta->data(), rm->data(), rv->data(), y.data(),
                  g.n, g.c, g.hw, eps);
  return wrap(info.Env(), y);
}

// (dy, x, gamma, mean, invstd, dgamma, dbeta) → dx; dgamma, dbeta accumulate.
static Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* fn = "batchNormBackward";
  need_args(info, 7, fn);
  auto [dy, x, gamma, mean, invstd, dgamma, dbeta] =
      arg_tensors(info, 0, {"dy", "x", "gamma", "mean", "invstd", "dgamma", "dbeta"});
  NCHW g = nc_hw(*x, fn, "x");
  check_like(*dy, "dy", *x, "x");
  check_per_channel(g.c, *x, "x", {{gamma, "gamma"}, {mean, "mean"}, {invstd, "invstd"}, {dgamma, "dgamma"}, {dbeta, "dbeta"}});
  MRIGAN_CHECK(g.n * g.hw > 0, fn, ": x is empty, shape ", shape_str(x->shape));
  Tensor dx = empty(x->shape, x->device());
  MRIGAN_DISPATCH(*x, batch_norm_backward, dy->data(), x->data(), gamma->data(), mean->data(), invstd->data(), dx.data(),
                  dgamma->data(), dbeta->data(), g.n, g.c, g.hw);
  return wrap(info.Env(), dx);
}

MRIGAN_EXPORT("batchNormForwardTrain", BatchNormForwardTrain);
MRIGAN_EXPORT("batchNormForwardEval", BatchNormForwardEval);
MRIGAN_EXPORT("batchNormBackward", BatchNormBackward);

}  // namespace mrigan::addon
