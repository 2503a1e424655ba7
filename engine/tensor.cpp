// Tensor: creation, element access, views and copies.
#include "engine/tensor.h"

#include <cmath>
#include <cstring>

#include "engine/backend/allocator.h"
#include "engine/backend/device_memory.h"
#include "engine/backend/primitives.h"

namespace brenier {

Storage::Storage(size_t n, Device d) : bytes(n), device(d) {
  ptr = d.is_cpu() ? backend::host_alloc(n) : backend::device_alloc(n, d);
}
Storage::~Storage() {
  if (device.is_cpu())
    backend::host_free(ptr, bytes);
  else
    backend::device_free(ptr, bytes, device);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    BRENIER_CHECK(d >= 0, "Tensor::empty: argument 'shape' must have sizes >= 0, got {}",
                  shape_str(shape));
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(t.nbytes(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}
Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  BRENIER_CHECK(n >= 0, "Tensor::arange: argument 'n' must be >= 0, got {}", n);
  Tensor t = empty({n}, dtype, Device::cpu());
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t.to(device);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  BRENIER_CHECK(static_cast<int64_t>(values.size()) == brenier::numel(shape),
                "Tensor::from_vector: {} values cannot fill shape {} ({} elements)",
                values.size(), shape_str(shape), brenier::numel(shape));
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&);

int64_t Tensor::size(int64_t d) const {
  return shape_[wrap_dim(d, dim(), "Tensor::size")];
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} on {}", dtype_name(dtype_), shape_str(shape_), device_.str());
}

void* Tensor::raw_data() {
  BRENIER_CHECK(defined(), "Tensor::raw_data: the tensor is undefined");
  return static_cast<char*>(storage_->ptr) + offset_bytes_;
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

template <class T>
T* Tensor::data() {
  BRENIER_CHECK(defined(), "Tensor::data: the tensor is undefined");
  BRENIER_CHECK(dtype_ == dtype_of<T>(), "Tensor::data<{}>: the tensor is {}",
                dtype_name(dtype_of<T>()), str());
  return static_cast<T*>(raw_data());
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int64_t* Tensor::data<int64_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int64_t* Tensor::data<int64_t>() const;

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined(*this, "Tensor::to_vector", "self");
  Tensor host = to(Device::cpu());
  std::vector<T> out(static_cast<size_t>(numel()));
  dispatch_dtype(dtype_, [&](auto tag) {
    using S = decltype(tag);
    const S* p = host.data<S>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;

double Tensor::item() const {
  check_defined(*this, "Tensor::item", "self");
  BRENIER_CHECK(numel() == 1, "Tensor::item: expected a one-element tensor, got {}", str());
  return to_vector<double>()[0];
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  BRENIER_CHECK(static_cast<int64_t>(index.size()) == dim(),
                "Tensor::at: expected {} indices for {}, got {}", dim(), str(), index.size());
  auto st = contiguous_strides(shape_);
  int64_t flat = 0, k = 0;
  for (int64_t i : index) {
    BRENIER_CHECK(i >= 0 && i < shape_[k], "Tensor::at: index {} out of range for dim {} of {}",
                  i, k, str());
    flat += i * st[k++];
  }
  Tensor host = to(Device::cpu());
  return dispatch_dtype(dtype_, [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(host.data<T>()[flat]);
  });
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined(*this, "reshape", "self");
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      BRENIER_CHECK(infer < 0, "reshape: argument 'shape' may hold one -1, got {}", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      BRENIER_CHECK(s[i] >= 0, "reshape: argument 'shape' has a negative size: {}", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    BRENIER_CHECK(known > 0 && numel() % known == 0,
                  "reshape: cannot reshape {} into {}", str(), shape_str(shape));
    s[infer] = numel() / known;
  }
  BRENIER_CHECK(brenier::numel(s) == numel(), "reshape: cannot reshape {} ({} elements) into {}",
                str(), numel(), shape_str(shape));
  Tensor t = *this;
  t.shape_ = s;
  return t;
}

Tensor Tensor::clone() const {
  check_defined(*this, "clone", "self");
  Tensor t = empty(shape_, dtype_, device_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  check_defined(*this, "to", "self");
  if (dtype == dtype_) return *this;
  return prim::cast(*this, dtype);
}

Tensor Tensor::to(Device device) const {
  check_defined(*this, "to", "self");
  if (device == device_) return *this;
  Tensor t = empty(shape_, dtype_, device);
  backend::copy_bytes(t.raw_data(), device, raw_data(), device_, nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  check_defined(src, "copy_from", "src");
  BRENIER_CHECK(src.shape() == shape_, "copy_from: argument 'src' must have shape {}, got {}",
                shape_str(shape_), shape_str(src.shape()));
  Tensor s = src.to(device_).to(dtype_);
  backend::copy_bytes(raw_data(), device_, s.raw_data(), device_, nbytes());
}

void Tensor::fill_(double value) {
  check_defined(*this, "fill_", "self");
  if (!device_.is_cpu()) {
    backend::device_fill(raw_data(), dtype_, numel(), value, device_);
    return;
  }
  dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = data<T>();
    T v = static_cast<T>(value);
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = v;
  });
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  BRENIER_CHECK(t.defined(), "{}: argument '{}' is an undefined tensor", op, arg);
}

void check_finite(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  if (!is_floating(t.dtype())) return;
  Tensor h = t.to(Device::cpu());
  dispatch_floating(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = h.data<T>();
    for (int64_t i = 0, n = h.numel(); i < n; ++i)
      BRENIER_CHECK(std::isfinite(p[i]), "{}: argument '{}' ({}) holds a non-finite value ({}) at flat index {}",
                    op, arg, t.str(), p[i], i);
  });
}

}  // namespace brenier
