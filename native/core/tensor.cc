#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/host_alloc.h"

namespace mrigan {

Storage::Storage(size_t n, int dev) : numel(n), device(dev) {
  size_t bytes = (n ? n : 1) * sizeof(float);
  if (dev == kCPU) {
    ptr = static_cast<float*>(host_alloc(bytes));  // 64-byte aligned; large blocks cached (host_alloc.h)
  } else {
    ptr = static_cast<float*>(cuda_alloc(bytes, dev));
  }
}

Storage::~Storage() {
  if (!ptr) return;
  if (device == kCPU) host_free(ptr, (numel ? numel : 1) * sizeof(float));
  else cuda_free(ptr, device);
}

size_t shape_numel(const Shape& s) {
  size_t n = 1;
  for (int64_t d : s) {
    MRIGAN_CHECK(d >= 0, "negative dimension in shape ", shape_str(s));
    MRIGAN_CHECK(d == 0 || n <= kMaxNumel / (size_t)d, "shape ", shape_str(s), " is too large");
    n *= (size_t)d;
  }
  return n;
}

size_t Tensor::numel() const { return st ? shape_numel(shape) : 0; }

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string device_str(int device) { return device == kCPU ? "cpu" : "cuda:" + std::to_string(device); }

Tensor empty(const Shape& s, int device) {
  MRIGAN_CHECK(device == kCPU || (device >= 0 && device < cuda_device_count()),
               "device ", device_str(device), " is not available (", cuda_status(), ")");
  Tensor t;
  t.shape = s;
  t.st = std::make_shared<Storage>(shape_numel(s), device);
  return t;
}

Tensor zeros(const Shape& s, int device) {
  Tensor t = empty(s, device);
  if (device == kCPU) std::memset(t.data(), 0, t.numel() * sizeof(float));
  else cuda_memset0(t.data(), t.numel() * sizeof(float), device);
  return t;
}

Tensor reshape(const Tensor& t, const Shape& s) {
  MRIGAN_CHECK(shape_numel(s) == t.numel(), "cannot reshape ", shape_str(t.shape), " to ", shape_str(s));
  Tensor r = t;
  r.shape = s;
  return r;
}

Tensor to_device(const Tensor& t, int device) {
  Tensor r = empty(t.shape, device);
  size_t bytes = t.numel() * sizeof(float);
  if (device == kCPU && t.on_cpu()) std::memcpy(r.data(), t.data(), bytes);
  else cuda_copy(r.data(), device, t.data(), t.device(), bytes);
  return r;
}

Tensor clone(const Tensor& t) { return to_device(t, t.device()); }

}  // namespace mrigan
