// The fused Adam/AdamW update: one kernel reads p, g, m, v once and writes p, m, v in place, where
// the op-by-op update in engine/optim/adam.cpp launches about ten kernels and allocates their
// results. Same arithmetic, in the same order and precision, so results match it to rounding.
#include "kernels/common.cuh"

namespace brenier::kernels {
namespace {

template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamScalars a) {
  BRENIER_GRID_STRIDE(i, n) {
    T pi = p[i], gi = g[i];
    if (a.weight_decay != 0) {
      if (a.decoupled) pi = pi * static_cast<T>(1.0 - a.lr * a.weight_decay);
      else gi = gi + static_cast<T>(a.weight_decay) * pi;
    }
    const T mi = static_cast<T>(a.beta1) * m[i] + static_cast<T>(1.0 - a.beta1) * gi;
    const T vi = static_cast<T>(a.beta2) * v[i] + static_cast<T>(1.0 - a.beta2) * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    T denom = sqrt(vi);
    if (a.bias_correction) denom = denom * static_cast<T>(1.0 / a.bc2);  // Var / s is Var * (1/s)
    p[i] = pi - static_cast<T>(a.step_size) * (mi / (denom + static_cast<T>(a.eps)));
  }
}

}  // namespace

void adam_step(DType dtype, void* param, const void* grad, void* m, void* v, int64_t n,
               const AdamScalars& a, cudaStream_t s) {
  if (n == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    adam_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(param), static_cast<const T*>(grad),
                                                   static_cast<T*>(m), static_cast<T*>(v), n, a);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
