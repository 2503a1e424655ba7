// Tensor: a dense, row-major, contiguous n-d array of f32, f64 or i64 on one device.
// It is a cheap handle (shared storage); reshape() is a view, every other op returns a new tensor.
// Tensors know nothing about autodiff: the differentiable front end is brenier::Var (engine/autograd/var.h).
#pragma once
#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"

namespace brenier {

// A block of device memory from the backend's caching allocator, returned to it on destruction.
struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  Device device;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false

  // --- creation -----------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::I64, Device device = Device::cpu());
  // Copies `values` (row-major) into a new CPU tensor of `shape`; the count must match.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }

  // --- facts --------------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return brenier::numel(shape_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  std::string str() const;  // "f32[2, 3] on cpu"

  // --- data access (CPU only for typed pointers; the dtype must match T) ---------------------
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  void* raw_data();
  const void* raw_data() const;
  template <class T>
  std::vector<T> to_vector() const;  // copies to host, converting to T
  double item() const;               // a one-element tensor's value
  double at(std::initializer_list<int64_t> index) const;  // element read, for tests and debugging

  // --- views and copies ---------------------------------------------------------------------
  Tensor reshape(const Shape& shape) const;  // a view; one dim may be -1
  Tensor clone() const;
  Tensor to(DType dtype) const;    // a copy converted to `dtype` (itself when equal)
  Tensor to(Device device) const;  // a copy on `device` (itself when equal)
  void copy_from(const Tensor& src);  // same shape, dtype may differ, devices may differ
  void fill_(double value);
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_bytes_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_;
};

// Throws naming `op`/`arg` when `t` is undefined, or holds a NaN/Inf (floating tensors only).
void check_defined(const Tensor& t, const char* op, const char* arg);
void check_finite(const Tensor& t, const char* op, const char* arg);

}  // namespace brenier
