// Bindings of native/cpu/rop.cc (exact gradient penalty, docs/design.md §5): argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

static void same(const Tensor& t, const char* tn, const Tensor& ref, const char* rn) {
  check_shape(t, ref.shape, tn);
  check_same_device(t, tn, ref, rn);
}

// The pack every pair backward starts with: (ybar | null, ydotbar, ref, xdot), ref being the forward's y for the
// activations and its x for BatchNorm. check() wants ybar, ydotbar and xdot shaped like ref on ref's device.
struct PairArgs {
  Tensor *yb, *ydb, *ref, *xd;
  const char* rn;
  void check() const {
    if (yb) same(*yb, "ybar", *ref, rn);
    same(*ydb, "ydotbar", *ref, rn);
    same(*xd, "xdot", *ref, rn);
  }
};
static PairArgs pair_args(const Napi::CallbackInfo& info, const char* rn) {
  Tensor* yb = arg_tensor_or_null(info, 0, "ybar");
  auto [ydb, ref, xd] = arg_tensors(info, 1, {"ydotbar", rn, "xdot"});
  return {yb, ydb, ref, xd, rn};
}

// (ybar | null, ydotbar, y, xdot) → [xbar, xdotbar]
template <bool Tanh>
static Napi::Value ActPairBackward(const Napi::CallbackInfo& info) {
  const char* fn = Tanh ? "tanhPairBackward" : "sigmoidPairBackward";
  need_args(info, 4, fn);
  PairArgs p = pair_args(info, "y");
  p.check();
  Tensor &ydb = *p.ydb, &y = *p.ref, &xd = *p.xd;
  Tensor xb = empty(y.shape, y.device()), xdb = empty(y.shape, y.device());
  const float* ybp = p.yb ? p.yb->data() : nullptr;
  if (Tanh) MRIGAN_DISPATCH(y, tanh_pair_backward, ybp, ydb.data(), y.data(), xd.data(), xb.data(), xdb.data(), y.numel());
  else MRIGAN_DISPATCH(y, sigmoid_pair_backward, ybp, ydb.data(), y.data(), xd.data(), xb.data(), xdb.data(), y.numel());
  return result(info.Env(), {wrap(info.Env(), xb), wrap(info.Env(), xdb)});
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
  auto [xd, x, gamma, mean, invstd] = arg_tensors(info, 0, {"xdot", "x", "gamma", "mean", "invstd"});
  same(*xd, "xdot", *x, "x");
  BnGeom g = bn_geom(*x, {{gamma, "gamma"}, {mean, "mean"}, {invstd, "invstd"}});
  Tensor yd = empty(x->shape, x->device());
  MRIGAN_DISPATCH(*x, batch_norm_jvp, xd->data(), x->data(), gamma->data(), mean->data(), invstd->data(), yd.data(), g.n,
                  g.c, g.hw);
  return wrap(info.Env(), yd);
}

// (ybar | null, ydotbar, x, xdot, gamma, mean, invstd, dgamma, dbeta) → [xbar, xdotbar]; dgamma, dbeta +=
static Napi::Value BatchNormPairBackward(const Napi::CallbackInfo& info) {
  need_args(info, 9, "batchNormPairBackward");
  PairArgs p = pair_args(info, "x");
  auto [gamma, mean, invstd, dgamma, dbeta] = arg_tensors(info, 4, {"gamma", "mean", "invstd", "dgamma", "dbeta"});
  p.check();
  Tensor &ydb = *p.ydb, &x = *p.ref, &xd = *p.xd;
  BnGeom g = bn_geom(x, {{gamma, "gamma"}, {mean, "mean"}, {invstd, "invstd"}, {dgamma, "dgamma"}, {dbeta, "dbeta"}});
  Tensor xb = empty(x.shape, x.device()), xdb = empty(x.shape, x.device());
  MRIGAN_DISPATCH(x, batch_norm_pair_backward, p.yb ? p.yb->data() : nullptr, ydb.data(), x.data(), xd.data(),
                  gamma->data(), mean->data(), invstd->data(), xb.data(), xdb.data(), dgamma->data(), dbeta->data(), g.n,
                  g.c, g.hw);
  return result(info.Env(), {wrap(info.Env(), xb), wrap(info.Env(), xdb)});
}

static Napi::Value TanhPairBackward(const Napi::CallbackInfo& info) { return ActPairBackward<true>(info); }
static Napi::Value SigmoidPairBackward(const Napi::CallbackInfo& info) { return ActPairBackward<false>(info); }

MRIGAN_EXPORT("tanhPairBackward", TanhPairBackward);
MRIGAN_EXPORT("sigmoidPairBackward", SigmoidPairBackward);
MRIGAN_EXPORT("batchNormJvp", BatchNormJvp);
MRIGAN_EXPORT("batchNormPairBackward", BatchNormPairBackward);

}  // namespace mrigan::addon
