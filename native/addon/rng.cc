// Bindings of native/cpu/rng.cc and the raw Philox4x32-10 block of core/philox.h (for known-answer tests).
#include "addon/ops_args.h"
#include "core/philox.h"

namespace mrigan::addon {

// (shape, seed, stream, offset, device?) → a new tensor of uniform [0, 1) (Op 0) or standard normal (Op 1) draws
template <int Op>
static Napi::Value Rand(const Napi::CallbackInfo& info) {
  need_args(info, 4, Op == 0 ? "randUniform" : "randNormal");
  Shape s = arg_shape(info, 0, "shape");
  uint64_t seed = arg_u64(info, 1, "seed");
  uint32_t stream = (uint32_t)arg_int(info, 2, "stream", 0, 4294967295LL);
  uint64_t offset = arg_u64(info, 3, "offset");
  Tensor y = empty(s, arg_device(info, 4, "device"));
  if (Op == 0) MRIGAN_DISPATCH(y, rand_uniform, y.data(), y.numel(), seed, stream, offset);
  else MRIGAN_DISPATCH(y, rand_normal, y.data(), y.numel(), seed, stream, offset);
  return wrap(info.Env(), y);
}
static Napi::Value RandUniform(const Napi::CallbackInfo& info) { return Rand<0>(info); }
static Napi::Value RandNormal(const Napi::CallbackInfo& info) { return Rand<1>(info); }

static std::vector<uint32_t> arg_words(const Napi::CallbackInfo& info, size_t i, const char* what, size_t n) {
  std::vector<uint32_t> w;
  for (int64_t v : arg_ints(info, i, what, n, n)) {
    if (v < 0 || v > 4294967295LL)
      throw Napi::RangeError::New(info.Env(), cat("argument ", i + 1, " (", what, ") must hold uint32 words, got ", v));
    w.push_back((uint32_t)v);
  }
  return w;
}

// (counter [4 words], key [2 words]) → the 4 output words of Philox4x32-10, as numbers
static Napi::Value Philox4x32(const Napi::CallbackInfo& info) {
  need_args(info, 2, "philox4x32");
  std::vector<uint32_t> c = arg_words(info, 0, "counter", 4), k = arg_words(info, 1, "key", 2);
  Philox4 r = philox4x32_10(Philox4{{c[0], c[1], c[2], c[3]}}, k[0], k[1]);
  Napi::Env env = info.Env();
  return result(env, {Napi::Number::New(env, r.v[0]), Napi::Number::New(env, r.v[1]), Napi::Number::New(env, r.v[2]),
                      Napi::Number::New(env, r.v[3])});
}

MRIGAN_EXPORT("randUniform", RandUniform);
MRIGAN_EXPORT("randNormal", RandNormal);
MRIGAN_EXPORT("philox4x32", Philox4x32);

}  // namespace mrigan::addon
