// Element type conversion on the host.
#include "engine/backend/cpu/cpu.h"

namespace brenier::cpu {

Tensor cast(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), dtype);
  dispatch_dtype(x.dtype(), [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch_dtype(dtype, [&](auto dst_tag) {
      using D = decltype(dst_tag);
      const S* s = x.data<S>();
      D* d = out.data<D>();
      const int64_t n = x.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
    });
  });
  return out;
}

}  // namespace brenier::cpu
