// Bindings of native/cpu/pool.cc: argument checks and dispatch only.
#include "addon/conv_args.h"
#include "addon/ops_args.h"

namespace mrigan::addon {

// (x [n,c,h,w], kernel [2], stride [2], padding [4]) → y [n, c, p, q]. Each pad must be smaller than the window so
// that every window holds an in-bounds cell.
template <bool Max>
static Napi::Value Pool2dForward(const Napi::CallbackInfo& info) {
  const char* fn = Max ? "maxPool2dForward" : "avgPool2dForward";
  need_args(info, 4, fn);
  Tensor& x = arg_tensor(info, 0, "x");
  std::vector<int64_t> k = arg_ints(info, 1, "kernel", 2, 2);
  for (int64_t d : k)
    MRIGAN_CHECK(d >= 1 && d <= kMaxGeom, fn, ": ", arg_label(1, "kernel"), " must hold integers in [1, ", kMaxGeom,
                 "], got [", k[0], ", ", k[1], "]");
  auto st = read_stride(info, 2, fn);
  auto pd = read_pads(info, 3, fn);
  MRIGAN_CHECK(pd[0] < k[0] && pd[1] < k[0] && pd[2] < k[1] && pd[3] < k[1], fn, ": ", arg_label(3, "padding"),
               " [", pd[0], ", ", pd[1], ", ", pd[2], ", ", pd[3], "] must be smaller than the window ", k[0], "x", k[1]);
  check_4d(x, fn, 0, "x", 1);
  ConvShape g = conv_geom(fn, x.shape, x.dim(1), k[0], k[1], st, pd);
  Tensor y = empty({g.n, g.c, g.p, g.q}, x.device());
  if (Max) MRIGAN_DISPATCH(x, max_pool2d_forward, x.data(), y.data(), g);
  else MRIGAN_DISPATCH(x, avg_pool2d_forward, x.data(), y.data(), g);
  return wrap(info.Env(), y);
}
static Napi::Value MaxPool2dForward(const Napi::CallbackInfo& info) { return Pool2dForward<true>(info); }
static Napi::Value AvgPool2dForward(const Napi::CallbackInfo& info) { return Pool2dForward<false>(info); }

// (x [n,c,h,w]) → y [n, c]
static Napi::Value GlobalAvgPool(const Napi::CallbackInfo& info) {
  need_args(info, 1, "globalAvgPool");
  Tensor& x = arg_tensor(info, 0, "x");
  check_4d(x, "globalAvgPool", 0, "x", 1);
  Tensor y = empty({x.dim(0), x.dim(1)}, x.device());
  MRIGAN_DISPATCH(x, global_avg_pool, x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2) * x.dim(3));
  return wrap(info.Env(), y);
}

// ([x0 [n,c0,h,w], x1 [n,c1,h,w], …]) → y [n, Σc, h, w]; all on one device with the same n, h, w.
static Napi::Value ConcatChannels(const Napi::CallbackInfo& info) {
  need_args(info, 1, "concatChannels");
  std::vector<Tensor*> xs = arg_tensor_list(info, 0, "xs");
  MRIGAN_CHECK(!xs.empty(), "concatChannels: argument 1 (xs) is an empty list");
  const Tensor& x0 = *xs[0];
  MRIGAN_CHECK(x0.ndim() == 4, "concatChannels: xs[0] must be 4-D, got shape ", shape_str(x0.shape));
  std::vector<const float*> ptrs;
  std::vector<int64_t> cs;
  int64_t total = 0;
  for (size_t j = 0; j < xs.size(); ++j) {
    const Tensor& t = *xs[j];
    const std::string name = cat("xs[", j, "]");
    check_same_device(t, name.c_str(), x0, "xs[0]");
    MRIGAN_CHECK(t.ndim() == 4 && t.dim(0) == x0.dim(0) && t.dim(2) == x0.dim(2) && t.dim(3) == x0.dim(3),
                 "concatChannels: ", name, " has shape ", shape_str(t.shape), " but xs[0] has ", shape_str(x0.shape),
                 " (n, h, w must match)");
    ptrs.push_back(t.data());
    cs.push_back(t.dim(1));
    total += t.dim(1);
  }
  Tensor y = empty({x0.dim(0), total, x0.dim(2), x0.dim(3)}, x0.device());
  MRIGAN_DISPATCH(x0, concat_channels, ptrs.data(), cs.data(), (int64_t)cs.size(), y.data(), x0.dim(0),
                  x0.dim(2) * x0.dim(3));
  return wrap(info.Env(), y);
}

MRIGAN_EXPORT("maxPool2dForward", MaxPool2dForward);
MRIGAN_EXPORT("avgPool2dForward", AvgPool2dForward);
MRIGAN_EXPORT("globalAvgPool", GlobalAvgPool);
MRIGAN_EXPORT("concatChannels", ConcatChannels);

}  // namespace mrigan::addon
