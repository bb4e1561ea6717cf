// Conv argument readers and geometry shared by the conv bindings (conv.cc) and the fused conv + activation
// bindings (cuda.cc): stride, padding, 4-D checks and the ConvShape with its output size.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "addon/binding.h"

namespace mrigan::addon {

inline constexpr int64_t kMaxGeom = int64_t(1) << 20;  // bound on stride and padding (keeps index math far from overflow)

inline std::string arg_label(int i, const char* what) { return cat("argument ", i + 1, " (", what, ")"); }

inline std::array<int64_t, 2> read_stride(const Napi::CallbackInfo& info, int i, const char* fn) {
  std::vector<int64_t> v = arg_ints(info, i, "stride", 2, 2);
  for (int64_t d : v)
    MRIGAN_CHECK(d >= 1 && d <= kMaxGeom, fn, ": ", arg_label(i, "stride"), " must hold integers in [1, ", kMaxGeom,
                 "], got [", v[0], ", ", v[1], "]");
  return {v[0], v[1]};
}

inline std::array<int64_t, 4> read_pads(const Napi::CallbackInfo& info, int i, const char* fn) {
  std::vector<int64_t> v = arg_ints(info, i, "padding", 4, 4);
  for (int64_t d : v)
    MRIGAN_CHECK(d >= 0 && d <= kMaxGeom, fn, ": ", arg_label(i, "padding"), " [top, bottom, left, right] must hold integers in [0, ",
                 kMaxGeom, "], got [", v[0], ", ", v[1], ", ", v[2], ", ", v[3], "]");
  return {v[0], v[1], v[2], v[3]};
}

// 4-D with every dimension ≥ 1 except possibly the batch (dims from `first`).
inline void check_4d(const Tensor& t, const char* fn, int i, const char* what, int first) {
  MRIGAN_CHECK(t.ndim() == 4, fn, ": ", arg_label(i, what), " must be 4-D, got shape ", shape_str(t.shape));
  for (int d = first; d < 4; ++d)
    MRIGAN_CHECK(t.dim(d) >= 1, fn, ": ", arg_label(i, what), " has an empty dimension: ", shape_str(t.shape));
}

inline void same_device(const Tensor& a, int ia, const char* an, const Tensor& b, int ib, const char* bn) {
  check_same_device(a, arg_label(ia, an).c_str(), b, arg_label(ib, bn).c_str());
}

// The conv from input [n, c, h, w] with k filters of r×s; throws when the padded input is smaller than the kernel.
inline ConvShape conv_geom(const char* fn, const Shape& x, int64_t k, int64_t r, int64_t s, std::array<int64_t, 2> st,
                           std::array<int64_t, 4> pd) {
  ConvShape g{};
  g.n = x[0]; g.c = x[1]; g.h = x[2]; g.w = x[3];
  g.k = k; g.r = r; g.s = s;
  g.stride_h = st[0]; g.stride_w = st[1];
  g.pad_t = pd[0]; g.pad_b = pd[1]; g.pad_l = pd[2]; g.pad_r = pd[3];
  const int64_t hp = g.h + g.pad_t + g.pad_b, wp = g.w + g.pad_l + g.pad_r;
  MRIGAN_CHECK(hp >= r && wp >= s, fn, ": kernel ", r, "x", s, " is larger than the padded input ", hp, "x", wp,
               " (input ", g.h, "x", g.w, ", padding [", pd[0], ", ", pd[1], ", ", pd[2], ", ", pd[3], "])");
  g.p = (hp - r) / g.stride_h + 1;
  g.q = (wp - s) / g.stride_w + 1;
  return g;
}

}  // namespace mrigan::addon
