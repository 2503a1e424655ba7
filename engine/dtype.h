// Element types. f32 is the fast type everywhere; f64 backs gradient checks and references;
// i64 holds indices (argmax, gather, bincount).
#pragma once
#include <cstddef>
#include <cstdint>

namespace brenier {

enum class DType : uint8_t { F32, F64, I64 };

constexpr size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }
constexpr const char* dtype_name(DType t) {
  return t == DType::F32 ? "f32" : t == DType::F64 ? "f64" : "i64";
}
constexpr bool is_floating(DType t) { return t != DType::I64; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::F32; }
template <>
constexpr DType dtype_of<double>() { return DType::F64; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::I64; }

// Calls f(T{}) with T the C++ type of `t`: dispatch_dtype(t, [&](auto tag) { using T = decltype(tag); ... }).
template <class F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
    default: return f(int64_t{});
  }
}
// Same, for floating types only (i64 is rejected by the caller's own check first).
template <class F>
decltype(auto) dispatch_floating(DType t, F&& f) {
  if (t == DType::F64) return f(double{});
  return f(float{});
}

}  // namespace brenier
