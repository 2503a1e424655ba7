// Fused attention on CUDA: the tensors here, the math in kernels/attention.cu.
#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {

bool attention_fits(int64_t d, int64_t e) {
  return d <= kernels::kMaxAttentionWidth && e <= kernels::kMaxAttentionWidth;
}

std::vector<Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                              double scale) {
  const int64_t groups = q.size(0), m = q.size(1), n = k.size(1), d = q.size(2), e = v.size(2);
  Tensor out = Tensor::empty({groups, m, e}, q.dtype(), q.device());
  Tensor lse = Tensor::empty({groups, m}, q.dtype(), q.device());
  kernels::attention_forward(q.dtype(), q.raw_data(), k.raw_data(), v.raw_data(),
                             key_bias.defined() ? key_bias.raw_data() : nullptr, out.raw_data(), lse.raw_data(),
                             groups, m, n, d, e, scale, stream_of(q.device()));
  return {out, lse};
}

std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                                       const Tensor& out, const Tensor& lse, const Tensor& dout, double scale) {
  const int64_t groups = q.size(0), m = q.size(1), n = k.size(1), d = q.size(2), e = v.size(2);
  Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device()), dk = Tensor::empty(k.shape(), q.dtype(), q.device());
  Tensor dv = Tensor::empty(v.shape(), q.dtype(), q.device());
  Tensor dbias = key_bias.defined() ? Tensor::empty(key_bias.shape(), q.dtype(), q.device()) : Tensor();
  Tensor delta = Tensor::empty({groups, m}, q.dtype(), q.device());  // dout·out per query row
  kernels::attention_backward(q.dtype(), q.raw_data(), k.raw_data(), v.raw_data(),
                              key_bias.defined() ? key_bias.raw_data() : nullptr, out.raw_data(), lse.raw_data(),
                              dout.raw_data(), delta.raw_data(), dq.raw_data(), dk.raw_data(), dv.raw_data(),
                              key_bias.defined() ? dbias.raw_data() : nullptr, groups, m, n, d, e, scale,
                              stream_of(q.device()));
  return {dq, dk, dv, dbias};
}

}  // namespace brenier::cuda
