// Binding of native/cpu/adam.cc: one call updates every parameter (torch.optim.Adam semantics).
#include <map>

#include "addon/ops_args.h"

namespace mrigan::addon {

// (params[], grads[], m[], v[], lr, beta1, beta2, eps, weightDecay, step): params, m, v updated in place.
static Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const char* fn = "adamStep";
  need_args(info, 10, fn);
  std::vector<Tensor*> p = arg_tensor_list(info, 0, "params"), g = arg_tensor_list(info, 1, "grads"),
                       m = arg_tensor_list(info, 2, "m"), v = arg_tensor_list(info, 3, "v");
  float lr = arg_float_in(info, 4, fn, "lr", ">= 0", [](float x) { return x >= 0.0f; });
  auto beta = [&](size_t i, const char* what) {  // double: 1 − β is formed before rounding to float
    double b = arg_number(info, i, what);
    if (!(b >= 0.0 && b < 1.0)) throw Napi::RangeError::New(info.Env(), cat(fn, ": ", what, " must be in [0, 1), got ", b));
    return b;
  };
  double beta1 = beta(5, "beta1");
  double beta2 = beta(6, "beta2");
  float eps = arg_float_in(info, 7, fn, "eps", "> 0", [](float x) { return x > 0.0f; });
  float wd = arg_float_in(info, 8, fn, "weightDecay", ">= 0", [](float x) { return x >= 0.0f; });
  int64_t step = arg_int(info, 9, "step", 1, 9007199254740991LL);
  MRIGAN_CHECK(g.size() == p.size() && m.size() == p.size() && v.size() == p.size(), fn,
               ": params, grads, m and v must have the same length, got ", p.size(), ", ", g.size(), ", ", m.size(),
               ", ", v.size());
  if (p.empty()) return info.Env().Undefined();

  std::vector<float*> pp, mp, vp;
  std::vector<const float*> gp;
  std::vector<int64_t> sizes;
  std::map<const Storage*, std::string> owner;
  for (size_t k = 0; k < p.size(); ++k) {
    std::string pn = cat("params[", k, "]"), gn = cat("grads[", k, "]"), mn = cat("m[", k, "]"), vn = cat("v[", k, "]");
    check_same_device(*p[k], pn.c_str(), *p[0], "params[0]");
    check_like(*g[k], gn.c_str(), *p[k], pn.c_str());
    check_like(*m[k], mn.c_str(), *p[k], pn.c_str());
    check_like(*v[k], vn.c_str(), *p[k], pn.c_str());
    // Every tensor must own its storage: a shared one would be updated twice, racing across threads.
    for (auto [t, name] : {std::pair{p[k], &pn}, {g[k], &gn}, {m[k], &mn}, {v[k], &vn}}) {
      auto [it, fresh] = owner.emplace(t->st.get(), *name);
      MRIGAN_CHECK(fresh, fn, ": ", *name, " shares storage with ", it->second, "; every tensor must be distinct");
    }
    pp.push_back(p[k]->data());
    gp.push_back(g[k]->data());
    mp.push_back(m[k]->data());
    vp.push_back(v[k]->data());
    sizes.push_back((int64_t)p[k]->numel());
  }
  MRIGAN_DISPATCH(*p[0], adam_step, pp.data(), gp.data(), mp.data(), vp.data(), sizes.data(), (int64_t)p.size(), lr,
                  beta1, beta2, eps, wd, step);
  return info.Env().Undefined();
}

MRIGAN_EXPORT("adamStep", AdamStep);

}  // namespace mrigan::addon
