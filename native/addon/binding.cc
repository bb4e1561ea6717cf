// Module init, the Tensor wrapper and the argument readers. See binding.h.
#include "addon/binding.h"

#include <cstring>
#include <map>

namespace mrigan::addon {

static std::map<std::string, Binding>& registry() {
  static std::map<std::string, Binding> r;
  return r;
}
Registrar::Registrar(const char* name, Binding fn) { registry()[name] = fn; }

// Every export runs inside this guard: library errors become JS Errors with the same message.
static Napi::Value call_registered(const Napi::CallbackInfo& info) {
  auto fn = reinterpret_cast<Binding>(info.Data());
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// ---------------------------------------------------------------- TensorWrap
Napi::FunctionReference* TensorWrap::ctor = nullptr;

Napi::Function TensorWrap::Define(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeTensor",
                                 {InstanceAccessor<&TensorWrap::Shape>("shape"),
                                  InstanceAccessor<&TensorWrap::Device>("device"),
                                  InstanceAccessor<&TensorWrap::Disposed>("disposed"),
                                  InstanceMethod<&TensorWrap::Dispose>("dispose"),
                                  InstanceMethod<&TensorWrap::ToArray>("toFloat32Array"),
                                  InstanceMethod<&TensorWrap::SameStorage>("sharesStorageWith")});
  ctor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

// Only native code creates tensors (wrap()); `new NativeTensor()` from JS gives a disposed, empty handle.
TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) { disposed = true; }

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), t.shape.size());
  for (size_t i = 0; i < t.shape.size(); ++i) a[i] = Napi::Number::New(info.Env(), (double)t.shape[i]);
  return a;
}
Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), device_str(t.device()));
}
Napi::Value TensorWrap::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed); }
void TensorWrap::Release(Napi::Env env) {
  if (external) Napi::MemoryManagement::AdjustExternalMemory(env, -external);
  external = 0;
  t = Tensor();
  disposed = true;
}
void TensorWrap::Finalize(Napi::Env env) { Release(env); }
Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}
Napi::Value TensorWrap::ToArray(const Napi::CallbackInfo& info) {
  if (disposed) throw Napi::Error::New(info.Env(), "tensor has been disposed");
  size_t n = t.numel();
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), n);
  try {
    if (n == 0) return out;  // an empty array may have no buffer to copy into
    if (t.on_cpu()) std::memcpy(out.Data(), t.data(), n * sizeof(float));
    else cuda_copy(out.Data(), kCPU, t.data(), t.device(), n * sizeof(float));
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return out;
}
Napi::Value TensorWrap::SameStorage(const Napi::CallbackInfo& info) {
  Tensor& o = arg_tensor(info, 0, "other");
  return Napi::Boolean::New(info.Env(), !disposed && o.st == t.st);
}

Napi::Value wrap(Napi::Env env, Tensor t) {
  Napi::Object o = TensorWrap::ctor->New({});
  TensorWrap* w = TensorWrap::Unwrap(o);
  w->t = std::move(t);
  w->disposed = false;
  w->external = (int64_t)(w->t.numel() * sizeof(float));
  if (w->external) Napi::MemoryManagement::AdjustExternalMemory(env, w->external);
  return o;
}

// ---------------------------------------------------------------- argument readers
std::string arg_label(size_t i, const char* what) { return cat("argument ", i + 1, " (", what, ")"); }

void need_args(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) throw Napi::TypeError::New(info.Env(), cat(fn, ": expected ", n, " arguments, got ", info.Length()));
}

Tensor& arg_tensor(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TensorWrap::ctor->Value()))
    throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be a Tensor");
  TensorWrap* w = TensorWrap::Unwrap(v.As<Napi::Object>());
  if (w->disposed) throw Napi::Error::New(info.Env(), arg_label(i, what) + " is a disposed tensor");
  return w->t;
}

Tensor* arg_tensor_or_null(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return &arg_tensor(info, i, what);
}

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(info.Env(), arg_label(i, what) + " must be finite, got " + std::to_string(d));
  return d;
}

int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t lo, int64_t hi) {
  double d = arg_number(info, i, what);
  if (d != std::floor(d) || d < (double)lo || d > (double)hi)
    throw Napi::RangeError::New(info.Env(), cat(arg_label(i, what), " must be an integer in [", lo, ", ", hi, "], got ", d));
  return (int64_t)d;
}

bool arg_bool(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

uint64_t arg_u64(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = true;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), arg_label(i, what) + " must fit in 64 unsigned bits");
    return v;
  }
  return (uint64_t)arg_int(info, i, what, 0, 9007199254740991LL);
}

std::vector<int64_t> arg_ints(const Napi::CallbackInfo& info, size_t i, const char* what, size_t n_min, size_t n_max) {
  if (i >= info.Length() || !info[i].IsArray()) throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be an array of integers");
  Napi::Array a = info[i].As<Napi::Array>();
  if (a.Length() < n_min || a.Length() > n_max)
    throw Napi::RangeError::New(info.Env(), cat(arg_label(i, what), " must have ", n_min, (n_min == n_max ? "" : cat("..", n_max)), " entries, got ", a.Length()));
  std::vector<int64_t> r;
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a[k];
    if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must contain only integers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740991.0)
      throw Napi::RangeError::New(info.Env(), arg_label(i, what) + " must contain only integers");
    r.push_back((int64_t)d);
  }
  return r;
}

Shape arg_shape(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Shape s = arg_ints(info, i, what, 0, 8);
  for (int64_t d : s)
    if (d < 0) throw Napi::RangeError::New(info.Env(), arg_label(i, what) + " has a negative dimension: " + shape_str(s));
  try {
    shape_numel(s);
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(info.Env(), arg_label(i, what) + ": " + e.what());
  }
  return s;
}

int arg_device(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsUndefined()) return kCPU;
  int dev;
  if (info[i].IsString()) {
    std::string s = info[i].As<Napi::String>();
    if (s == "cpu") return kCPU;
    if (s == "cuda") dev = 0;
    else if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.find_first_not_of("0123456789", 5) == std::string::npos) dev = std::stoi(s.substr(5));
    else throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be 'cpu', 'cuda' or 'cuda:N', got '" + s + "'");
  } else {
    dev = (int)arg_int(info, i, what, -1, 1024);
    if (dev == kCPU) return kCPU;
  }
  if (dev >= cuda_device_count())
    throw Napi::Error::New(info.Env(), cat(arg_label(i, what), ": ", device_str(dev), " is not available (", cuda_status(), ")"));
  return dev;
}

std::vector<Tensor*> arg_tensor_list(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsArray()) throw Napi::TypeError::New(info.Env(), arg_label(i, what) + " must be an array of Tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<Tensor*> r;
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a[k];
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TensorWrap::ctor->Value()))
      throw Napi::TypeError::New(info.Env(), cat(arg_label(i, what), "[", k, "] must be a Tensor"));
    TensorWrap* w = TensorWrap::Unwrap(v.As<Napi::Object>());
    if (w->disposed) throw Napi::Error::New(info.Env(), cat(arg_label(i, what), "[", k, "] is a disposed tensor"));
    r.push_back(&w->t);
  }
  return r;
}

void check_ndim(const Tensor& t, int nd, const char* what) {
  MRIGAN_CHECK(t.ndim() == nd, what, " must be ", nd, "-D, got shape ", shape_str(t.shape));
}
void check_shape(const Tensor& t, const Shape& s, const char* what) {
  MRIGAN_CHECK(t.shape == s, what, " must have shape ", shape_str(s), ", got ", shape_str(t.shape));
}
void check_same_device(const Tensor& a, const char* an, const Tensor& b, const char* bn) {
  MRIGAN_CHECK(a.device() == b.device(), an, " is on ", device_str(a.device()), " but ", bn, " is on ",
               device_str(b.device()), "; move one with .to()");
}

// ---------------------------------------------------------------- module
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", TensorWrap::Define(env));
  for (auto& [name, fn] : registry())
    exports.Set(name, Napi::Function::New(env, call_registered, name, reinterpret_cast<void*>(fn)));
  return exports;
}

}  // namespace mrigan::addon

static Napi::Object InitMrigan(Napi::Env env, Napi::Object exports) { return mrigan::addon::Init(env, exports); }
NODE_API_MODULE(mrigan, InitMrigan)
