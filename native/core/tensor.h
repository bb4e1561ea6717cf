// Tensor: a float32 contiguous NCHW buffer on one device, shared by handle. No strides and no views except
// reshape (same storage): every op writes a fresh contiguous result or accumulates into a given one.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"

namespace mrigan {

using Shape = std::vector<int64_t>;

struct Storage {
  float* ptr = nullptr;
  size_t numel = 0;
  int device = kCPU;
  Storage(size_t n, int dev);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Tensor {
  Shape shape;
  std::shared_ptr<Storage> st;

  int device() const { return st ? st->device : kCPU; }
  bool on_cpu() const { return device() == kCPU; }
  float* data() const { return st ? st->ptr : nullptr; }
  size_t numel() const;
  int ndim() const { return (int)shape.size(); }
  int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
};

size_t shape_numel(const Shape& s);          // throws on negative dims or overflow
std::string shape_str(const Shape& s);       // "[2, 3, 4]"
Tensor empty(const Shape& s, int device);    // uninitialised
Tensor zeros(const Shape& s, int device);
Tensor reshape(const Tensor& t, const Shape& s);
Tensor clone(const Tensor& t);
Tensor to_device(const Tensor& t, int device);
std::string device_str(int device);          // "cpu", "cuda:0"

// Largest tensor we accept: guards int32 index math in kernels and absurd requests from JS.
constexpr size_t kMaxNumel = size_t(1) << 34;

}  // namespace mrigan
