// Bindings of native/cpu/rop.cc (exact gradient penalty, DESIGN §5): argument checks and dispatch only.
#include "addon/binding.h"

namespace mrigan::addon {

static void same(const Tensor& t, const char* tn, const Tensor& ref, const char* rn) {
  check_shape(t, ref.shape, tn);
  check_same_device(t, tn, ref, rn);
}

// (ybar | null, ydotbar, y, xdot) → [xbar, xdotbar]
template <bool Tanh>
static Napi::Value ActPairBackward(const Napi::CallbackInfo& info) {
  const char* fn = Tanh ? "tanhPairBackward" : "sigmoidPairBackward";
  need_args(info, 4, fn);
  Tensor* yb = arg_tensor_or_null(info, 0, "ybar");
  Tensor& ydb = arg_tensor(info, 1, "ydotbar");
  Tensor& y = arg_tensor(info, 2, "y");
  Tensor& xd = arg_tensor(info, 3, "xdot");
  if (yb) same(*yb, "ybar", y, "y");
  same(ydb, "ydotbar", y, "y");
  same(xd, "xdot", y, "y");
  Tensor xb = empty(y.shape, y.device()), xdb = empty(y.shape, y.device());
  const float* ybp = yb ? yb->data() : nullptr;
  if (Tanh) MRIGAN_DISPATCH(y, tanh_pair_backward, ybp, ydb.data(), y.data(), xd.data(), xb.data(), xdb.data(), y.numel());
  else MRIGAN_DISPATCH(y, sigmoid_pair_backward, ybp, ydb.data(), y.data(), xd.data(), xb.data(), xdb.data(), y.numel());
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r[0u] = wrap(info.Env(), xb);
  r[1u] = wrap(info.Env(), xdb);
  return r;
}

struct BnGeom { int64_t n, c, hw; };

// x [n, c, ...]; every per-channel tensor [c] on x's device.
static BnGeom bn_geom(const Tensor& x, std::initializer_list<std::pair<const Tensor*, const char*>> per_channel) {
  MRIGAN_CHECK(x.ndim() >= 2, "x must be [n, c] or [n, c, h, w], got shape ", shape_str(x.shape));
  BnGeom g{x.dim(0), x.dim(1), 1};
  for (int i = 2; i < x.ndim(); ++i) g.hw *= x.dim(i);
  MRIGAN_CHECK(g.n * g.hw > 1, "batchnorm in training mode needs more than one value per channel, got x ", shape_str(x.shape));
  for (auto& [t, name] : per_channel) {
    check_shape(*t, {g.c}, name);
    check_same_device(*t, name, x, "x");
  }
  return g;
}

// (xdot, x, gamma, mean, invstd) → ydot
static Napi::Value BatchNormJvp(const Napi::CallbackInfo& info) {
  need_args(info, 5, "batchNormJvp");
  Tensor& xd = arg_tensor(info, 0, "xdot");
  Tensor& x = arg_tensor(info, 1, "x");
  Tensor& gamma = arg_tensor(info, 2, "gamma");
  Tensor& mean = arg_tensor(info, 3, "mean");
  Tensor& invstd = arg_tensor(info, 4, "invstd");
  same(xd, "xdot", x, "x");
  BnGeom g = bn_geom(x, {{&gamma, "gamma"}, {&mean, "mean"}, {&invstd, "invstd"}});
  Tensor yd = empty(x.shape, x.device());
  MRIGAN_DISPATCH(x, batch_norm_jvp, xd.data(), x.data(), gamma.data(), mean.data(), invstd.data(), yd.data(), g.n, g.c, g.hw);
  return wrap(info.Env(), yd);
}

// (ybar | null, ydotbar, x, xdot, gamma, mean, invstd, dgamma, dbeta) → [xbar, xdotbar]; dgamma, dbeta +=
static Napi::Value BatchNormPairBackward(const Napi::CallbackInfo& info) {
  need_args(info, 9, "batchNormPairBackward");
  Tensor* yb = arg_tensor_or_null(info, 0, "ybar");
  Tensor& ydb = arg_tensor(info, 1, "ydotbar");
  Tensor& x = arg_tensor(info, 2, "x");
  Tensor& xd = arg_tensor(info, 3, "xdot");
  Tensor& gamma = arg_tensor(info, 4, "gamma");
  Tensor& mean = arg_tensor(info, 5, "mean");
  Tensor& invstd = arg_tensor(info, 6, "invstd");
  Tensor& dgamma = arg_tensor(info, 7, "dgamma");
  Tensor& dbeta = arg_tensor(info, 8, "dbeta");
  if (yb) same(*yb, "ybar", x, "x");
  same(ydb, "ydotbar", x, "x");
  same(xd, "xdot", x, "x");
  BnGeom g = bn_geom(x, {{&gamma, "gamma"}, {&mean, "mean"}, {&invstd, "invstd"}, {&dgamma, "dgamma"}, {&dbeta, "dbeta"}});
  Tensor xb = empty(x.shape, x.device()), xdb = empty(x.shape, x.device());
  MRIGAN_DISPATCH(x, batch_norm_pair_backward, yb ? yb->data() : nullptr, ydb.data(), x.data(), xd.data(), gamma.data(),
                  mean.data(), invstd.data(), xb.data(), xdb.data(), dgamma.data(), dbeta.data(), g.n, g.c, g.hw);
  Napi::Array r = Napi::Array::New(info.Env(), 2);
  r[0u] = wrap(info.Env(), xb);
  r[1u] = wrap(info.Env(), xdb);
  return r;
}

static Napi::Value TanhPairBackward(const Napi::CallbackInfo& info) { return ActPairBackward<true>(info); }
static Napi::Value SigmoidPairBackward(const Napi::CallbackInfo& info) { return ActPairBackward<false>(info); }

MRIGAN_EXPORT("tanhPairBackward", TanhPairBackward);
MRIGAN_EXPORT("sigmoidPairBackward", SigmoidPairBackward);
MRIGAN_EXPORT("batchNormJvp", BatchNormJvp);
MRIGAN_EXPORT("batchNormPairBackward", BatchNormPairBackward);

}  // namespace mrigan::addon
