// Conv argument readers and geometry shared by the conv bindings (conv.cc) and the fused conv + activation
// bindings (cuda.cc): stride, padding, 4-D checks and the ConvShape with its output size.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "addon/ops_args.h"

namespace mrigan::addon {

inline constexpr int64_t kMaxGeom = int64_t(1) << 20;  // bound on stride and padding (keeps index math far from overflow)

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

// The validated forward arguments of a conv or conv-transpose binding and the conv geometry they imply.
struct ConvForwardArgs {
  Tensor* x;
  Tensor* w;
  Tensor* b;  // null when no bias
  ConvShape g;
};

// Arguments 1-5 of both forwards, read in order: x, w, b | null, stride [2], padding [4].
struct ConvForwardInputs {
  Tensor *x, *w, *b;
  std::array<int64_t, 2> st;
  std::array<int64_t, 4> pd;
};
inline ConvForwardInputs read_conv_forward_inputs(const Napi::CallbackInfo& info, const char* fn) {
  Tensor& x = arg_tensor(info, 0, "x");
  Tensor& w = arg_tensor(info, 1, "w");
  Tensor* b = arg_tensor_or_null(info, 2, "b");
  return {&x, &w, b, read_stride(info, 3, fn), read_pads(info, 4, fn)};  // braced lists evaluate left to right
}

// x and w 4-D on one device; x's channels match w's input-channel dimension (1 of a conv's OIHW w, 0 of a
// conv-transpose's IOHW w); b, if given, [the other channel dimension of w].
inline void check_conv_forward_inputs(const ConvForwardInputs& in, const char* fn, bool iohw) {
  const Tensor &x = *in.x, &w = *in.w;
  const int wc = iohw ? 0 : 1;
  check_4d(x, fn, 0, "x", 1);
  check_4d(w, fn, 1, "w", 0);
  MRIGAN_CHECK(w.dim(wc) == x.dim(1), fn, ": argument 2 (w) ", shape_str(w.shape), iohw ? " (IOHW) expects " : " expects ",
               w.dim(wc), " input channels but argument 1 (x) ", shape_str(x.shape), " has ", x.dim(1));
  same_device(x, 0, "x", w, 1, "w");
  check_bias(in.b, w.dim(1 - wc), x, fn);
}

// (x [n,c,h,w], w [k,c,r,s], b [k] | null, stride [2], padding [4]) → output [n, k, p, q] by g.
inline ConvForwardArgs read_conv_forward(const Napi::CallbackInfo& info, const char* fn) {
  ConvForwardInputs in = read_conv_forward_inputs(info, fn);
  check_conv_forward_inputs(in, fn, false);
  const Tensor& w = *in.w;
  return {in.x, in.w, in.b, conv_geom(fn, in.x->shape, w.dim(0), w.dim(2), w.dim(3), in.st, in.pd)};
}

// (x [n,k,p,q], w [k,c,r,s] IOHW, b [c] | null, stride [2], padding [4], outputPadding [2]) → output [n, c, h, w] by g,
// g being the conv from the transpose's output to its input.
inline ConvForwardArgs read_conv_transpose_forward(const Napi::CallbackInfo& info, const char* fn) {
  ConvForwardInputs in = read_conv_forward_inputs(info, fn);
  const std::array<int64_t, 2>& st = in.st;
  const std::array<int64_t, 4>& pd = in.pd;
  std::vector<int64_t> op = arg_ints(info, 5, "outputPadding", 2, 2);
  for (int d = 0; d < 2; ++d)
    MRIGAN_CHECK(op[d] >= 0 && op[d] < st[d], fn, ": argument 6 (outputPadding) [", op[0], ", ", op[1],
                 "] must be non-negative and smaller than the stride [", st[0], ", ", st[1], "]");
  check_conv_forward_inputs(in, fn, true);
  const Tensor &x = *in.x, &w = *in.w;
  const int64_t h = (x.dim(2) - 1) * st[0] - pd[0] - pd[1] + w.dim(2) + op[0];
  const int64_t wd = (x.dim(3) - 1) * st[1] - pd[2] - pd[3] + w.dim(3) + op[1];
  MRIGAN_CHECK(h >= 1 && wd >= 1, fn, ": output size ", h, "x", wd, " is empty (input ", x.dim(2), "x", x.dim(3),
               ", kernel ", w.dim(2), "x", w.dim(3), ", padding [", pd[0], ", ", pd[1], ", ", pd[2], ", ", pd[3], "])");
  ConvShape g = conv_geom(fn, {x.dim(0), w.dim(1), h, wd}, w.dim(0), w.dim(2), w.dim(3), st, pd);
  MRIGAN_CHECK(g.p == x.dim(2) && g.q == x.dim(3), fn, ": internal geometry mismatch");
  return {in.x, in.w, in.b, g};
}

}  // namespace mrigan::addon
