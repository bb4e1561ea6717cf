// Bindings of native/nccl (the communicator). JS names: lib/dist/native.ts.
//   distInit(device?: 'auto'|'cpu'|'cuda') → {rank, size, localRank, localSize, transport, device, mpi, ncclVersion,
//                                             timeoutSeconds, shm}
//   distAllReduceMean(tensors) / distAllReduceSum(tensors)       in place
//   distStartAllReduce(tensors, 'mean'|'sum') → handle; distWait(handle); distPending() → number
//   distBroadcast(tensors, root) / distBarrier()
//   distAllReduceScalars(Float64Array, 'sum'|'max'|'min')        in place
//   distAbort(code, message)   never returns; distFinalize(); distLaunched() / distMpiInitialized() → boolean
#include "addon/binding.h"
#include "nccl/comm.h"

namespace mrigan::addon {

static std::vector<Tensor> tensors(const Napi::CallbackInfo& info, size_t i, const char* what) {
  std::vector<Tensor> r;
  for (Tensor* t : arg_tensor_list(info, i, what)) r.push_back(*t);
  return r;
}

static std::string arg_choice(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what,
                              std::initializer_list<const char*> ok) {
  std::string list;
  for (const char* c : ok) list += (list.empty() ? "" : " | ") + std::string(c);
  if (i >= info.Length() || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), cat(fn, ": ", what, " must be one of ", list));
  std::string s = info[i].As<Napi::String>().Utf8Value();
  for (const char* c : ok)
    if (s == c) return s;
  throw Napi::RangeError::New(info.Env(), cat(fn, ": ", what, " must be one of ", list, ", got '", s, "'"));
}

static Napi::Value world_object(Napi::Env env, const dist::World& w) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", w.rank);
  o.Set("size", w.size);
  o.Set("localRank", w.local_rank);
  o.Set("localSize", w.local_size);
  o.Set("transport", w.transport);
  o.Set("device", device_str(w.device));
  o.Set("mpi", w.mpi);
  o.Set("ncclVersion", w.nccl_version);
  o.Set("timeoutSeconds", w.timeout_s);
  o.Set("shm", w.shm);
  return o;
}

static Napi::Value Init(const Napi::CallbackInfo& info) {
  dist::Device d = dist::Device::Auto;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    std::string s = arg_choice(info, 0, "distInit", "device", {"auto", "cpu", "cuda"});
    d = s == "cpu" ? dist::Device::Cpu : s == "cuda" ? dist::Device::Cuda : dist::Device::Auto;
  }
  return world_object(info.Env(), dist::init(d));
}

static dist::Reduce reduce_of(const std::string& s) {
  return s == "mean" ? dist::Reduce::Mean : s == "max" ? dist::Reduce::Max : s == "min" ? dist::Reduce::Min
                                                                                       : dist::Reduce::Sum;
}

static Napi::Value AllReduceMean(const Napi::CallbackInfo& info) {
  need_args(info, 1, "distAllReduceMean");
  dist::all_reduce(tensors(info, 0, "tensors"), dist::Reduce::Mean);
  return info.Env().Undefined();
}

static Napi::Value AllReduceSum(const Napi::CallbackInfo& info) {
  need_args(info, 1, "distAllReduceSum");
  dist::all_reduce(tensors(info, 0, "tensors"), dist::Reduce::Sum);
  return info.Env().Undefined();
}

static Napi::Value StartAllReduce(const Napi::CallbackInfo& info) {
  need_args(info, 2, "distStartAllReduce");
  std::vector<Tensor> ts = tensors(info, 0, "tensors");
  dist::Reduce r = reduce_of(arg_choice(info, 1, "distStartAllReduce", "op", {"mean", "sum"}));
  return Napi::Number::New(info.Env(), (double)dist::start_all_reduce(ts, r));
}

static Napi::Value Wait(const Napi::CallbackInfo& info) {
  need_args(info, 1, "distWait");
  dist::wait(arg_int(info, 0, "handle", 1, 9007199254740991LL));
  return info.Env().Undefined();
}

static Napi::Value Pending(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)dist::pending());
}

static Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  need_args(info, 2, "distBroadcast");
  std::vector<Tensor> ts = tensors(info, 0, "tensors");
  dist::broadcast(ts, (int)arg_int(info, 1, "root", 0, 1 << 30));
  return info.Env().Undefined();
}

static Napi::Value Barrier(const Napi::CallbackInfo& info) {
  dist::barrier();
  return info.Env().Undefined();
}

static Napi::Value AllReduceScalars(const Napi::CallbackInfo& info) {
  need_args(info, 2, "distAllReduceScalars");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), "distAllReduceScalars: argument 1 (values) must be a Float64Array");
  Napi::Float64Array a = info[0].As<Napi::Float64Array>();
  dist::Reduce r = reduce_of(arg_choice(info, 1, "distAllReduceScalars", "op", {"sum", "max", "min"}));
  // The comm thread writes into the array's memory while this thread waits: the array stays referenced by `info`.
  dist::all_reduce_scalars(a.Data(), a.ElementLength(), r);
  return a;
}

static Napi::Value Abort(const Napi::CallbackInfo& info) {
  need_args(info, 2, "distAbort");
  int code = (int)arg_int(info, 0, "code", 1, 255);
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "distAbort: argument 2 (message) must be a string");
  dist::abort(code, info[1].As<Napi::String>().Utf8Value());
}

static Napi::Value Finalize(const Napi::CallbackInfo& info) {
  dist::finalize();
  return info.Env().Undefined();
}

static Napi::Value Launched(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), dist::launched_by_mpi());
}

static Napi::Value MpiInitialized(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), dist::mpi_initialized());
}

MRIGAN_EXPORT("distInit", Init);
MRIGAN_EXPORT("distAllReduceMean", AllReduceMean);
MRIGAN_EXPORT("distAllReduceSum", AllReduceSum);
MRIGAN_EXPORT("distStartAllReduce", StartAllReduce);
MRIGAN_EXPORT("distWait", Wait);
MRIGAN_EXPORT("distPending", Pending);
MRIGAN_EXPORT("distBroadcast", Broadcast);
MRIGAN_EXPORT("distBarrier", Barrier);
MRIGAN_EXPORT("distAllReduceScalars", AllReduceScalars);
MRIGAN_EXPORT("distAbort", Abort);
MRIGAN_EXPORT("distFinalize", Finalize);
MRIGAN_EXPORT("distLaunched", Launched);
MRIGAN_EXPORT("distMpiInitialized", MpiInitialized);

}  // namespace mrigan::addon
