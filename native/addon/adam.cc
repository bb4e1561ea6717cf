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
  auto beta_ok = [](float x) { return x >= 0.0f && x < 1.0f; };
  float beta1 = arg_float_in(info, 5, fn, "beta1", "in [0, 1)", beta_ok);
  float beta2 = arg_float_in(info, 6, fn, "beta2", "in [0, 1)", beta_ok);
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
