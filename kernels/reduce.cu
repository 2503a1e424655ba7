// Reduction kernels: sum/max/min over any set of dims (one block per output when the reduced set is
// large, one thread per output when it is small), argmax/argmin along one dim (a block per long
// contiguous line, else a thread per line), topk along one dim (a thread per line), and bincount (atomic adds). Semantics match engine/backend/cpu/reduce.cpp: floating
// sums accumulate in double, max/min propagate NaN, argmax/topk rank NaN above every number and
// break ties by the lower index.
#include <type_traits>

#include "kernels/block_reduce.cuh"

namespace brenier::kernels {
namespace {

template <class T>
using SumAcc = std::conditional_t<std::is_floating_point_v<T>, double, T>;

template <prim::Reduce Op, class T>
struct Fold {
  using Acc = std::conditional_t<Op == prim::Reduce::Sum, SumAcc<T>, T>;
  __device__ Acc operator()(Acc acc, Acc v) const {
    if constexpr (Op == prim::Reduce::Sum) return acc + v;
    else if constexpr (Op == prim::Reduce::Max) return v > acc || v != v ? v : acc;
    else return v < acc || v != v ? v : acc;
  }
};

// The fold's starting value for the line starting at `p`: 0 for a sum, the first element otherwise
// (max/min are idempotent, so folding it again changes nothing).
template <prim::Reduce Op, class T>
__device__ typename Fold<Op, T>::Acc fold_start(const T* p) {
  using Acc = typename Fold<Op, T>::Acc;
  if constexpr (Op == prim::Reduce::Sum) return Acc(0);
  else return Acc(p[0]);
}

template <prim::Reduce Op, class T>
__global__ void reduce_block_kernel(const T* x, T* out, int64_t n_out, int64_t n_red, Strided<1> kept,
                                    Strided<1> reduced) {
  using Acc = typename Fold<Op, T>::Acc;
  const Fold<Op, T> fold;
  for (int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    int64_t base;
    offsets_at(kept, o, &base);
    const T* p = x + base;
    Acc acc = fold_start<Op>(p);
    for (int64_t r = threadIdx.x; r < n_red; r += blockDim.x) {
      int64_t off;
      offsets_at(reduced, r, &off);
      acc = fold(acc, Acc(p[off]));
    }
    acc = block_reduce(acc, fold);
    if (threadIdx.x == 0) out[o] = static_cast<T>(acc);
  }
}

template <prim::Reduce Op, class T>
__global__ void reduce_thread_kernel(const T* x, T* out, int64_t n_out, int64_t n_red, Strided<1> kept,
                                     Strided<1> reduced) {
  using Acc = typename Fold<Op, T>::Acc;
  const Fold<Op, T> fold;
  BRENIER_GRID_STRIDE(o, n_out) {
    int64_t base;
    offsets_at(kept, o, &base);
    const T* p = x + base;
    Acc acc = fold_start<Op>(p);
    for (int64_t r = 0; r < n_red; ++r) {
      int64_t off;
      offsets_at(reduced, r, &off);
      acc = fold(acc, Acc(p[off]));
    }
    out[o] = static_cast<T>(acc);
  }
}

// True when a ranks above b: NaN above every number, equal NaNs tie.
template <class T>
__device__ inline bool ranks_above(T a, T b) {
  if (b != b) return false;
  return a != a || a > b;
}

template <class T>
__global__ void argreduce_kernel(bool is_max, const T* x, int64_t* out, int64_t outer, int64_t size,
                                 int64_t inner) {
  BRENIER_GRID_STRIDE(q, outer * inner) {
    const T* line = x + (q / inner) * size * inner + q % inner;
    int64_t best = 0;
    for (int64_t r = 1; r < size; ++r) {
      const T v = line[r * inner], b = line[best * inner];
      // Strictly better only, so the first index wins ties; the first NaN wins outright.
      if (b == b && (v != v || (is_max ? v > b : v < b))) best = r;
    }
    out[q] = best;
  }
}

// Does (v, i) beat (b, j) in argmax/argmin order? NaN beats every number, equal values (and two NaNs)
// go to the lower index; j < 0 marks "no candidate yet", which anything beats.
template <class T>
__device__ inline bool arg_beats(bool is_max, T v, int64_t i, T b, int64_t j) {
  if (j < 0) return i >= 0;
  if (i < 0) return false;
  const bool v_nan = v != v, b_nan = b != b;
  if (v_nan || b_nan) return v_nan && (!b_nan || i < j);
  if (v == b) return i < j;
  return is_max ? v > b : v < b;
}

// Contiguous lines (inner == 1) of at least kBlockArgMin values: one block per line, so that a warp reads
// 32 neighbouring values at once (a thread per line would read one value from each of 32 rows: the
// score matrices of the semi-discrete solvers, [N, n] with n in the thousands, ran ~20x slower).
template <class T>
__global__ void argreduce_block_kernel(bool is_max, const T* x, int64_t* out, int64_t lines, int64_t size) {
  __shared__ T best_value[kThreads];
  __shared__ int64_t best_index[kThreads];
  for (int64_t q = blockIdx.x; q < lines; q += gridDim.x) {
    const T* line = x + q * size;
    T bv = T(0);
    int64_t bi = -1;
    for (int64_t r = threadIdx.x; r < size; r += blockDim.x) {
      const T v = line[r];
      if (arg_beats(is_max, v, r, bv, bi)) bv = v, bi = r;
    }
    __syncthreads();  // the previous line's readers of best_*[0] are done
    best_value[threadIdx.x] = bv;
    best_index[threadIdx.x] = bi;
    __syncthreads();
    for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
      if (threadIdx.x < width) {
        const T v = best_value[threadIdx.x + width];
        const int64_t i = best_index[threadIdx.x + width];
        if (arg_beats(is_max, v, i, best_value[threadIdx.x], best_index[threadIdx.x]))
          best_value[threadIdx.x] = v, best_index[threadIdx.x] = i;
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) out[q] = best_index[0];
  }
}

// Each thread sorts one line's k best by repeated selection: entry j is the first entry, in the
// strict total order (value, then index), that comes after entry j-1. O(k * size) and no scratch.
template <class T>
__global__ void topk_kernel(const T* x, T* values, int64_t* indices, int64_t outer, int64_t size,
                            int64_t inner, int64_t k, bool largest) {
  BRENIER_GRID_STRIDE(q, outer * inner) {
    const int64_t o = q / inner, i = q % inner;
    const T* line = x + o * size * inner + i;
    auto before = [&](int64_t r, int64_t s) {
      const T a = line[r * inner], b = line[s * inner];
      if (ranks_above(a, b)) return largest;
      if (ranks_above(b, a)) return !largest;
      return r < s;
    };
    int64_t prev = -1;
    for (int64_t j = 0; j < k; ++j) {
      int64_t best = -1;
      for (int64_t r = 0; r < size; ++r) {
        if (prev >= 0 && !before(prev, r)) continue;  // already taken
        if (best < 0 || before(r, best)) best = r;
      }
      const int64_t at = o * k * inner + j * inner + i;
      values[at] = line[best * inner];
      indices[at] = best;
      prev = best;
    }
  }
}

__global__ void bincount_kernel(const int64_t* index, int64_t n, int64_t* counts) {
  BRENIER_GRID_STRIDE(i, n) atomic_add(counts + index[i], int64_t{1});
}

// Reduced sets at least this large get a block per output; smaller ones a thread per output.
constexpr int64_t kBlockReduceMin = 64;
// Contiguous argmax/argmin lines at least this long get a block per line.
constexpr int64_t kBlockArgMin = 64;

}  // namespace

void reduce(prim::Reduce op, DType dtype, const void* x, void* out, int64_t n_out, int64_t n_red,
            const Strided<1>& kept, const Strided<1>& reduced, cudaStream_t s) {
  if (n_out == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    auto launch = [&](auto op_tag) {
      constexpr prim::Reduce Op = decltype(op_tag)::value;
      const T* px = static_cast<const T*>(x);
      T* po = static_cast<T*>(out);
      if (n_red >= kBlockReduceMin) {
        const unsigned blocks = static_cast<unsigned>(n_out < 65535 * 8 ? n_out : 65535 * 8);
        reduce_block_kernel<Op, T><<<blocks, threads_for(n_red), 0, s>>>(px, po, n_out, n_red, kept, reduced);
      } else {
        reduce_thread_kernel<Op, T><<<grid_for(n_out), kThreads, 0, s>>>(px, po, n_out, n_red, kept, reduced);
      }
    };
    switch (op) {
      case prim::Reduce::Sum: launch(std::integral_constant<prim::Reduce, prim::Reduce::Sum>{}); break;
      case prim::Reduce::Max: launch(std::integral_constant<prim::Reduce, prim::Reduce::Max>{}); break;
      case prim::Reduce::Min: launch(std::integral_constant<prim::Reduce, prim::Reduce::Min>{}); break;
    }
  });
  CUDA_CHECK_LAUNCH();
}

void argreduce(bool is_max, DType dtype, const void* x, int64_t* out, int64_t outer, int64_t size,
               int64_t inner, cudaStream_t s) {
  const int64_t n = outer * inner;
  if (n == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    if (inner == 1 && size >= kBlockArgMin) {
      const unsigned blocks = static_cast<unsigned>(outer < 65535 * 8 ? outer : 65535 * 8);
      argreduce_block_kernel<T><<<blocks, threads_for(size), 0, s>>>(is_max, static_cast<const T*>(x), out,
                                                                      outer, size);
    } else {
      argreduce_kernel<T><<<grid_for(n), kThreads, 0, s>>>(is_max, static_cast<const T*>(x), out, outer,
                                                          size, inner);
    }
  });
  CUDA_CHECK_LAUNCH();
}

void topk(DType dtype, const void* x, void* values, int64_t* indices, int64_t outer, int64_t size,
          int64_t inner, int64_t k, bool largest, cudaStream_t s) {
  const int64_t n = outer * inner;
  if (n == 0 || k == 0) return;
  with_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    topk_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(values),
                                                   indices, outer, size, inner, k, largest);
  });
  CUDA_CHECK_LAUNCH();
}

void bincount(const int64_t* index, int64_t n, int64_t* counts, cudaStream_t s) {
  if (n == 0) return;
  bincount_kernel<<<grid_for(n), kThreads, 0, s>>>(index, n, counts);
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
