// N-API plumbing shared by every binding file: the Tensor wrapper class, argument readers that validate and
// throw JS errors naming the argument, device dispatch, and a registry so each native/addon/<family>.cc adds its
// own functions with MRIGAN_EXPORT(name, fn) without touching a central list. No math here.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "cpu/ops.h"
#include "cuda/ops.h"

namespace mrigan::addon {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

struct Registrar {
  Registrar(const char* name, Binding fn);
};
#define MRIGAN_EXPORT(name, fn) static ::mrigan::addon::Registrar mrigan_reg_##fn(name, fn)

// The JS-visible native tensor. dispose() drops the storage now; the GC finaliser drops it otherwise.
class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::FunctionReference* ctor;
  explicit TensorWrap(const Napi::CallbackInfo& info);
  Tensor t;
  bool disposed = false;
  int64_t external = 0;  // bytes reported to V8 so that forgotten tensors raise GC pressure
  void Finalize(Napi::Env env) override;
  void Release(Napi::Env env);

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value SameStorage(const Napi::CallbackInfo& info);
};

// ---- argument readers: each throws a JS TypeError/Error that names `what` ----
std::string arg_label(size_t i, const char* what);  // "argument <i+1> (<what>)", the prefix of every message
void need_args(const Napi::CallbackInfo& info, size_t n, const char* fn);
Tensor& arg_tensor(const Napi::CallbackInfo& info, size_t i, const char* what);
// Arguments first, first+1, ... as tensors named by `names`, read in order (the first bad one throws).
template <size_t N>
std::array<Tensor*, N> arg_tensors(const Napi::CallbackInfo& info, size_t first, const char* const (&names)[N]) {
  std::array<Tensor*, N> r;
  for (size_t k = 0; k < N; ++k) r[k] = &arg_tensor(info, first + k, names[k]);
  return r;
}
Tensor* arg_tensor_or_null(const Napi::CallbackInfo& info, size_t i, const char* what);  // null/undefined → nullptr
double arg_number(const Napi::CallbackInfo& info, size_t i, const char* what);             // finite
int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t lo, int64_t hi);
bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* what);
uint64_t arg_u64(const Napi::CallbackInfo& info, size_t i, const char* what);  // number (safe integer) or bigint
std::vector<int64_t> arg_ints(const Napi::CallbackInfo& info, size_t i, const char* what, size_t n_min, size_t n_max);
Shape arg_shape(const Napi::CallbackInfo& info, size_t i, const char* what);
int arg_device(const Napi::CallbackInfo& info, size_t i, const char* what);  // "cpu" | "cuda" | "cuda:N" | -1 | N
std::vector<Tensor*> arg_tensor_list(const Napi::CallbackInfo& info, size_t i, const char* what);

Napi::Value wrap(Napi::Env env, Tensor t);

// ---- shape checks used by bindings ----
void check_ndim(const Tensor& t, int nd, const char* what);
void check_shape(const Tensor& t, const Shape& s, const char* what);
void check_same_device(const Tensor& a, const char* an, const Tensor& b, const char* bn);

}  // namespace mrigan::addon

// Calls mrigan::cpu::fn or mrigan::cuda::fn by the device of tensor t. Without CUDA in the build a GPU tensor
// cannot exist, but the check keeps the message clear anyway.
#ifdef MRIGAN_CUDA
#define MRIGAN_DISPATCH(t, fn, ...) \
  ((t).on_cpu() ? ::mrigan::cpu::fn(__VA_ARGS__) : ::mrigan::cuda::fn(__VA_ARGS__))
#else
#define MRIGAN_DISPATCH(t, fn, ...) \
  ((t).on_cpu() ? ::mrigan::cpu::fn(__VA_ARGS__) : throw ::mrigan::Error("this mrigan build has no CUDA support"))
#endif
