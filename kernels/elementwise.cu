// Element-wise kernels: unary maps and broadcasting binary maps (the math is
// engine/backend/functors.h, shared with the CPU loops), where, clamp, cast, fill, and the strided
// copy/scatter that serve broadcast_to, permute, slice and slice_scatter.
#include <type_traits>

#include "engine/backend/functors.h"
#include "kernels/common.cuh"

namespace brenier::kernels {
namespace {

template <prim::Unary Op, class T>
__global__ void unary_kernel(const T* x, T* y, int64_t n, T p) {
  BRENIER_GRID_STRIDE(i, n) y[i] = fn::unary_fn<Op>(x[i], p);
}

template <prim::Binary Op, class T>
__global__ void binary_flat_kernel(const T* a, const T* b, T* out, int64_t n) {
  BRENIER_GRID_STRIDE(i, n) out[i] = fn::binary_fn<Op>(a[i], b[i]);
}

template <prim::Binary Op, class T>
__global__ void binary_strided_kernel(const T* a, const T* b, T* out, int64_t n, Strided<2> l) {
  BRENIER_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets_at(l, i, off);
    out[i] = fn::binary_fn<Op>(a[off[0]], b[off[1]]);
  }
}

template <prim::Binary Op, class T>
__global__ void binary_scalar_kernel(const T* a, T s, T* out, int64_t n) {
  BRENIER_GRID_STRIDE(i, n) out[i] = fn::binary_fn<Op>(a[i], s);
}

template <class C, class T>
__global__ void where_kernel(const C* cond, const T* a, const T* b, T* out, int64_t n, Strided<3> l) {
  BRENIER_GRID_STRIDE(i, n) {
    int64_t off[3];
    offsets_at(l, i, off);
    out[i] = cond[off[0]] != C(0) ? a[off[1]] : b[off[2]];
  }
}

template <class T>
__global__ void clamp_kernel(const T* x, T* out, int64_t n, T lo, T hi) {
  BRENIER_GRID_STRIDE(i, n) {
    const T v = x[i];
    out[i] = v < lo ? lo : v > hi ? hi : v;  // NaN compares false both ways and passes through
  }
}

template <class S, class D>
__global__ void cast_kernel(const S* x, D* out, int64_t n) {
  BRENIER_GRID_STRIDE(i, n) out[i] = static_cast<D>(x[i]);
}

template <class T>
__global__ void fill_kernel(T* out, int64_t n, T v) {
  BRENIER_GRID_STRIDE(i, n) out[i] = v;
}

// Moves whole elements as unsigned words of their size, so one kernel serves every dtype.
template <class W>
__global__ void strided_copy_kernel(const W* src, W* dst, int64_t n, Strided<1> l) {
  BRENIER_GRID_STRIDE(i, n) {
    int64_t off;
    offsets_at(l, i, &off);
    dst[i] = src[off];
  }
}
template <class W>
__global__ void strided_scatter_kernel(const W* src, W* dst, int64_t n, Strided<1> l) {
  BRENIER_GRID_STRIDE(i, n) {
    int64_t off;
    offsets_at(l, i, &off);
    dst[off] = src[i];
  }
}

// Calls f(BinaryTag<op>) for the runtime op, skipping ops an i64 tensor cannot take (dispatch.cpp
// rejects Div and Pow on i64 before we get here, and std::pow has no integer device overload).
template <class T, class F>
void with_binary_for(prim::Binary op, F&& f) {
  if constexpr (std::is_integral_v<T>) {
    if (op == prim::Binary::Div || op == prim::Binary::Pow) return;
  }
  fn::with_binary(op, [&](auto tag) {
    constexpr prim::Binary Op = decltype(tag)::value;
    if constexpr (!(std::is_integral_v<T> && (Op == prim::Binary::Div || Op == prim::Binary::Pow)))
      f(tag);
  });
}

}  // namespace

void unary(prim::Unary op, DType dtype, const void* x, void* y, int64_t n, double p, cudaStream_t s) {
  if (n == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    fn::with_unary(op, [&](auto tag) {
      constexpr prim::Unary Op = decltype(tag)::value;
      unary_kernel<Op, T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                          n, static_cast<T>(p));
    });
  });
  CUDA_CHECK_LAUNCH();
}

void binary(prim::Binary op, DType dtype, const void* a, const void* b, void* out, int64_t n,
            const Strided<2>& ab, bool contiguous, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    with_binary_for<T>(op, [&](auto tag) {
      constexpr prim::Binary Op = decltype(tag)::value;
      const T* pa = static_cast<const T*>(a);
      const T* pb = static_cast<const T*>(b);
      T* po = static_cast<T*>(out);
      if (contiguous)
        binary_flat_kernel<Op, T><<<grid_for(n), kThreads, 0, s>>>(pa, pb, po, n);
      else
        binary_strided_kernel<Op, T><<<grid_for(n), kThreads, 0, s>>>(pa, pb, po, n, ab);
    });
  });
  CUDA_CHECK_LAUNCH();
}

void binary_scalar(prim::Binary op, DType dtype, const void* a, double scalar, void* out, int64_t n,
                   cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    with_binary_for<T>(op, [&](auto tag) {
      constexpr prim::Binary Op = decltype(tag)::value;
      binary_scalar_kernel<Op, T><<<grid_for(n), kThreads, 0, s>>>(
          static_cast<const T*>(a), static_cast<T>(scalar), static_cast<T*>(out), n);
    });
  });
  CUDA_CHECK_LAUNCH();
}

void where(DType cond_dtype, DType dtype, const void* cond, const void* a, const void* b, void* out,
           int64_t n, const Strided<3>& cab, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(cond_dtype, [&](auto c) {
    using C = decltype(c);
    with_dtype(dtype, [&](auto t) {
      using T = decltype(t);
      where_kernel<C, T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const C*>(cond),
                                                          static_cast<const T*>(a),
                                                          static_cast<const T*>(b),
                                                          static_cast<T*>(out), n, cab);
    });
  });
  CUDA_CHECK_LAUNCH();
}

void clamp(DType dtype, const void* x, void* out, int64_t n, double lo, double hi, int64_t ilo,
           int64_t ihi, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    T l, h;
    if constexpr (std::is_integral_v<T>) {
      l = ilo;
      h = ihi;
    } else {
      l = static_cast<T>(lo);
      h = static_cast<T>(hi);
    }
    clamp_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(out), n, l, h);
  });
  CUDA_CHECK_LAUNCH();
}

void cast(DType from, DType to, const void* x, void* out, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(from, [&](auto sf) {
    using S = decltype(sf);
    with_dtype(to, [&](auto df) {
      using D = decltype(df);
      cast_kernel<S, D><<<grid_for(n), kThreads, 0, s>>>(static_cast<const S*>(x), static_cast<D*>(out), n);
    });
  });
  CUDA_CHECK_LAUNCH();
}

void fill(DType dtype, void* out, int64_t n, double value, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    fill_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(out), n, static_cast<T>(value));
  });
  CUDA_CHECK_LAUNCH();
}

void strided_copy(size_t elem_size, const void* src, void* dst, int64_t n, const Strided<1>& src_layout,
                  cudaStream_t s) {
  if (n == 0) return;
  if (elem_size == 4)
    strided_copy_kernel<uint32_t><<<grid_for(n), kThreads, 0, s>>>(
        static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), n, src_layout);
  else
    strided_copy_kernel<uint64_t><<<grid_for(n), kThreads, 0, s>>>(
        static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), n, src_layout);
  CUDA_CHECK_LAUNCH();
}

void strided_scatter(size_t elem_size, const void* src, void* dst, int64_t n,
                     const Strided<1>& dst_layout, cudaStream_t s) {
  if (n == 0) return;
  if (elem_size == 4)
    strided_scatter_kernel<uint32_t><<<grid_for(n), kThreads, 0, s>>>(
        static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), n, dst_layout);
  else
    strided_scatter_kernel<uint64_t><<<grid_for(n), kThreads, 0, s>>>(
        static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), n, dst_layout);
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
