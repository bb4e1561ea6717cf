// Dense (PyTorch Linear) and gemm / matmul bindings: validate, allocate, dispatch. JS names: lib/engine/ops/dense.ts.
#include "addon/ops_args.h"
#include "cpu/gemm.h"

namespace mrigan::addon {

// Arguments 1 (a) and 2 (b) are 2-D: the operand pair of every dense and gemm binding.
static void check_2d(const char* fn, const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  for (int i = 0; i < 2; ++i)
    MRIGAN_CHECK((i ? b : a).ndim() == 2, fn, ": ", arg_label(i, i ? bn : an), " must be 2-D, got shape ",
                 shape_str((i ? b : a).shape));
}

// denseForward(x [n,in], w [out,in], b [out] | null) → y [n,out] = x·wᵀ + b
static Napi::Value DenseForward(const Napi::CallbackInfo& info) {
  const char* fn = "denseForward";
  need_args(info, 3, fn);
  Tensor& x = arg_tensor(info, 0, "x");
  Tensor& w = arg_tensor(info, 1, "w");
  Tensor* b = arg_tensor_or_null(info, 2, "b");
  check_2d(fn, x, "x", w, "w");
  MRIGAN_CHECK(w.dim(1) == x.dim(1), fn, ": argument 2 (w) ", shape_str(w.shape), " expects ", w.dim(1),
               " input features but argument 1 (x) ", shape_str(x.shape), " has ", x.dim(1));
  same_device(x, 0, "x", w, 1, "w");
  check_bias(b, w.dim(0), x, fn);
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  Tensor y = empty({n, out}, x.device());
  MRIGAN_DISPATCH(x, dense_forward, x.data(), w.data(), b ? b->data() : nullptr, y.data(), n, in, out);
  return wrap(info.Env(), y);
}

// denseBackwardData(dy [n,out], w [out,in]) → dx [n,in] = dy·w
static Napi::Value DenseBackwardData(const Napi::CallbackInfo& info) {
  const char* fn = "denseBackwardData";
  need_args(info, 2, fn);
  auto [dy, w] = arg_tensors(info, 0, {"dy", "w"});
  check_2d(fn, *dy, "dy", *w, "w");
  MRIGAN_CHECK(w->dim(0) == dy->dim(1), fn, ": argument 2 (w) ", shape_str(w->shape), " has ", w->dim(0),
               " output features but argument 1 (dy) ", shape_str(dy->shape), " has ", dy->dim(1));
  same_device(*dy, 0, "dy", *w, 1, "w");
  const int64_t n = dy->dim(0), in = w->dim(1), out = w->dim(0);
  Tensor dx = empty({n, in}, dy->device());
  MRIGAN_DISPATCH(*dy, dense_backward_data, dy->data(), w->data(), dx.data(), n, in, out);
  return wrap(info.Env(), dx);
}

// denseBackwardWeight(dy [n,out], x [n,in], dw [out,in]): dw += dyᵀ·x
static Napi::Value DenseBackwardWeight(const Napi::CallbackInfo& info) {
  const char* fn = "denseBackwardWeight";
  need_args(info, 3, fn);
  auto [dy, x, dw] = arg_tensors(info, 0, {"dy", "x", "dw"});
  check_2d(fn, *dy, "dy", *x, "x");
  MRIGAN_CHECK(x->dim(0) == dy->dim(0), fn, ": argument 1 (dy) ", shape_str(dy->shape), " and argument 2 (x) ",
               shape_str(x->shape), " have different batch sizes");
  check_shape(*dw, {dy->dim(1), x->dim(1)}, cat(fn, ": argument 3 (dw)").c_str());
  same_device(*dy, 0, "dy", *x, 1, "x");
  same_device(*dy, 0, "dy", *dw, 2, "dw");
  const int64_t n = dy->dim(0), in = x->dim(1), out = dy->dim(1);
  MRIGAN_DISPATCH(*dy, dense_backward_weight, dy->data(), x->data(), dw->data(), n, in, out);
  return info.Env().Undefined();
}

// gemm(a, b, transA, transB, alpha?, beta?, c?) → c = alpha·op(a)·op(b) + beta·c, 2-D row-major; without c (null or
// absent) a new [m, n] tensor (beta unused). matmul(a, b, transA, transB) is gemm with alpha 1 and a new c.
static Napi::Value GemmAny(const Napi::CallbackInfo& info, const char* fn) {
  need_args(info, 4, fn);
  Tensor& a = arg_tensor(info, 0, "a");
  Tensor& b = arg_tensor(info, 1, "b");
  const bool ta = arg_bool(info, 2, "transA"), tb = arg_bool(info, 3, "transB");
  check_2d(fn, a, "a", b, "b");
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t kb = tb ? b.dim(1) : b.dim(0), n = tb ? b.dim(0) : b.dim(1);
  MRIGAN_CHECK(k == kb, fn, ": inner dimensions differ: op(a) is ", m, "x", k, " (a ", shape_str(a.shape),
               ta ? " transposed" : "", "), op(b) is ", kb, "x", n, " (b ", shape_str(b.shape), tb ? " transposed" : "", ")");
  same_device(a, 0, "a", b, 1, "b");
  float alpha = info.Length() > 4 && !info[4].IsUndefined() ? arg_float(info, 4, "alpha") : 1.0f;
  float beta = info.Length() > 5 && !info[5].IsUndefined() ? arg_float(info, 5, "beta") : 0.0f;
  Tensor* cin = arg_tensor_or_null(info, 6, "c");
  if (cin) {
    check_shape(*cin, {m, n}, cat(fn, ": argument 7 (c)").c_str());
    same_device(a, 0, "a", *cin, 6, "c");
    MRIGAN_CHECK(cin->st != a.st && cin->st != b.st, fn, ": argument 7 (c) must not share storage with a or b");
    MRIGAN_DISPATCH(a, gemm, ta, tb, m, n, k, alpha, a.data(), a.dim(1), b.data(), b.dim(1), beta, cin->data(), n);
    return info[6];
  }
  Tensor c = empty({m, n}, a.device());
  MRIGAN_DISPATCH(a, gemm, ta, tb, m, n, k, alpha, a.data(), a.dim(1), b.data(), b.dim(1), 0.0f, c.data(), n);
  return wrap(info.Env(), c);
}
static Napi::Value Gemm(const Napi::CallbackInfo& info) { return GemmAny(info, "gemm"); }
static Napi::Value Matmul(const Napi::CallbackInfo& info) { return GemmAny(info, "matmul"); }

// gemmBackend(name?) → the CPU GEMM in use, "openblas" or "builtin"; with a name, selects it first.
static Napi::Value GemmBackend(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "gemmBackend: argument 1 (name) must be a string");
    std::string name = info[0].As<Napi::String>();
#ifdef MRIGAN_OPENBLAS
    const char* choices = "'builtin' or 'openblas'";
#else
    const char* choices = "'builtin' (this build has no OpenBLAS)";
#endif
    MRIGAN_CHECK(cpu::gemm_set_backend(name.c_str()), "gemmBackend: argument 1 (name) must be ", choices, ", got '", name, "'");
  }
  return Napi::String::New(info.Env(), cpu::gemm_backend());
}

MRIGAN_EXPORT("denseForward", DenseForward);
MRIGAN_EXPORT("denseBackwardData", DenseBackwardData);
MRIGAN_EXPORT("denseBackwardWeight", DenseBackwardWeight);
MRIGAN_EXPORT("gemm", Gemm);
MRIGAN_EXPORT("matmul", Matmul);
MRIGAN_EXPORT("gemmBackend", GemmBackend);

}  // namespace mrigan::addon
