// Binding of native/cpu/gp.cc (gradient penalty, docs/design.md §5): argument checks and dispatch only.
#include "addon/ops_args.h"

namespace mrigan::addon {

// (g [n, ...], lambda) → [gp (number), v (g's shape), norms [n]] (gpNormV), or with gp a [1] tensor on g's device
// and no host sync (gpNormVTo, ToDevice).
template <bool ToDevice>
static Napi::Value GpNormVAny(const Napi::CallbackInfo& info) {
  const char* fn = ToDevice ? "gpNormVTo" : "gpNormV";
  need_args(info, 2, fn);
  Tensor& g = arg_tensor(info, 0, "g");
  float lambda = arg_float_in(info, 1, fn, "lambda", "finite and >= 0", [](float x) { return x >= 0.0f; });
  MRIGAN_CHECK(g.ndim() >= 1 && g.numel() > 0, fn, ": g must be a non-empty [n, ...] tensor, got shape ",
               shape_str(g.shape));
  int64_t n = g.dim(0), d = (int64_t)g.numel() / n;
  Tensor v = empty(g.shape, g.device()), norms = empty({n}, g.device());
  Napi::Env env = info.Env();
  if (ToDevice) {
    Tensor gp = empty({1}, g.device());
    MRIGAN_DISPATCH(g, gp_norm_v_to, g.data(), v.data(), norms.data(), gp.data(), n, d, lambda);
    return result(env, {wrap(env, gp), wrap(env, v), wrap(env, norms)});
  }
  double gp = MRIGAN_DISPATCH(g, gp_norm_v, g.data(), v.data(), norms.data(), n, d, lambda);
  return result(env, {Napi::Number::New(env, gp), wrap(env, v), wrap(env, norms)});
}
static Napi::Value GpNormV(const Napi::CallbackInfo& info) { return GpNormVAny<false>(info); }
static Napi::Value GpNormVTo(const Napi::CallbackInfo& info) { return GpNormVAny<true>(info); }

MRIGAN_EXPORT("gpNormV", GpNormV);
MRIGAN_EXPORT("gpNormVTo", GpNormVTo);

}  // namespace mrigan::addon
