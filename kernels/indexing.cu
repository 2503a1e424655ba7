// Indexing kernels: index_select / index_add (whole rows picked by a 1-D index), gather /
// scatter_add (one element per index entry, PyTorch semantics) and one_hot. Index values arrive
// range-checked by dispatch.cpp. The adds are atomic, so repeated indices accumulate (in an
// unspecified order: floating results may differ from the CPU's serial order in the last bits).
#include "kernels/common.cuh"

namespace brenier::kernels {
namespace {

template <class W>
__global__ void index_select_kernel(const W* x, const int64_t* index, W* out, int64_t outer, int64_t size,
                                    int64_t len, int64_t inner) {
  BRENIER_GRID_STRIDE(e, outer * len * inner) {
    const int64_t c = e % inner, i = (e / inner) % len, o = e / (inner * len);
    out[e] = x[(o * size + index[i]) * inner + c];
  }
}

template <class T>
__global__ void index_add_kernel(T* out, const int64_t* index, const T* src, int64_t outer, int64_t size,
                                 int64_t len, int64_t inner) {
  BRENIER_GRID_STRIDE(e, outer * len * inner) {
    const int64_t c = e % inner, i = (e / inner) % len, o = e / (inner * len);
    atomic_add(out + (o * size + index[i]) * inner + c, src[e]);
  }
}

template <class T>
__global__ void gather_kernel(const T* x, const int64_t* index, T* out, int64_t n, Strided<1> xl,
                              int64_t dim_stride) {
  BRENIER_GRID_STRIDE(p, n) {
    int64_t off;
    offsets_at(xl, p, &off);
    out[p] = x[off + index[p] * dim_stride];
  }
}

template <class T>
__global__ void scatter_add_kernel(T* out, const int64_t* index, const T* src, int64_t n, Strided<2> os,
                                   int64_t dim_stride) {
  BRENIER_GRID_STRIDE(p, n) {
    int64_t off[2];
    offsets_at(os, p, off);
    atomic_add(out + off[0] + index[p] * dim_stride, src[off[1]]);
  }
}

template <class T>
__global__ void one_hot_kernel(const int64_t* index, T* out, int64_t n, int64_t num_classes) {
  BRENIER_GRID_STRIDE(i, n) out[i * num_classes + index[i]] = T(1);
}

}  // namespace

void index_select(size_t elem_size, const void* x, const int64_t* index, void* out, int64_t outer,
                  int64_t size, int64_t len, int64_t inner, cudaStream_t s) {
  const int64_t n = outer * len * inner;
  if (n == 0) return;
  if (elem_size == 4)
    index_select_kernel<uint32_t><<<grid_for(n), kThreads, 0, s>>>(
        static_cast<const uint32_t*>(x), index, static_cast<uint32_t*>(out), outer, size, len, inner);
  else
    index_select_kernel<uint64_t><<<grid_for(n), kThreads, 0, s>>>(
        static_cast<const uint64_t*>(x), index, static_cast<uint64_t*>(out), outer, size, len, inner);
  CUDA_CHECK_LAUNCH();
}

void index_add(DType dtype, void* out, const int64_t* index, const void* src, int64_t outer,
               int64_t size, int64_t len, int64_t inner, cudaStream_t s) {
  const int64_t n = outer * len * inner;
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    index_add_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(out), index,
                                                        static_cast<const T*>(src), outer, size, len, inner);
  });
  CUDA_CHECK_LAUNCH();
}

void gather(DType dtype, const void* x, const int64_t* index, void* out, int64_t n,
            const Strided<1>& xl, int64_t dim_stride, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    gather_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const T*>(x), index,
                                                     static_cast<T*>(out), n, xl, dim_stride);
  });
  CUDA_CHECK_LAUNCH();
}

void scatter_add(DType dtype, void* out, const int64_t* index, const void* src, int64_t n,
                 const Strided<2>& os, int64_t dim_stride, cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    scatter_add_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(out), index,
                                                          static_cast<const T*>(src), n, os, dim_stride);
  });
  CUDA_CHECK_LAUNCH();
}

void one_hot(DType dtype, const int64_t* index, void* out, int64_t n, int64_t num_classes,
             cudaStream_t s) {
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    one_hot_kernel<T><<<grid_for(n), kThreads, 0, s>>>(index, static_cast<T*>(out), n, num_classes);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
