// Identity pre-training of a DenseICNN (see pretrain.h).
#include "ot/solvers/pretrain.h"

#include <cmath>

#include "engine/ops/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/projection.h"

namespace brenier::ot {

IdentityPretrainResult pretrain_identity(DenseIcnn& net, const IdentityPretrainConfig& config, Generator& gen,
                                         bool convexify) {
  const char* op = "pretrain_identity";
  BRENIER_CHECK(config.scale > 0 && std::isfinite(config.scale), "{}: config 'scale' must be finite and > 0, got {}",
                op, config.scale);
  BRENIER_CHECK(config.batch >= 1, "{}: config 'batch' must be >= 1, got {}", op, config.batch);
  BRENIER_CHECK(config.lr > 0 && std::isfinite(config.lr), "{}: config 'lr' must be finite and > 0, got {}", op,
                config.lr);
  BRENIER_CHECK(config.weight_decay >= 0 && std::isfinite(config.weight_decay),
                "{}: config 'weight_decay' must be finite and >= 0, got {}", op, config.weight_decay);
  BRENIER_CHECK(config.tolerance >= 0 && std::isfinite(config.tolerance),
                "{}: config 'tolerance' must be finite and >= 0, got {}", op, config.tolerance);
  BRENIER_CHECK(config.max_iters >= 0, "{}: config 'max_iters' must be >= 0, got {}", op, config.max_iters);

  const auto named = net.named_parameters();
  std::vector<Var> params;
  for (const auto& entry : named) params.push_back(entry.second);
  optim::AdamOptions options;
  options.lr = config.lr;
  options.weight_decay = config.weight_decay;
  optim::Adam adam(params, options);
  if (convexify)
    for (const Var& w : net.convex_weights()) adam.add_projection(w, optim::clamp_min_projection(0.0));

  const int64_t dim = net.config().dim;
  const DType dtype = params.front().dtype();
  autograd::GradOptions no_unused_error;
  no_unused_error.allow_unused = true;

  IdentityPretrainResult result;
  for (int64_t it = 1; it <= config.max_iters; ++it) {
    const Tensor x = gen.normal({config.batch, dim}, 0.0, config.scale, dtype, params.front().device());
    {
      autograd::Tape tape;  // the iteration's (second-order) graph dies here
      Var xv(x);
      Var loss = mean(square(net.map(xv, /*create_graph=*/true) - xv));
      result.mse = loss.item();
      BRENIER_CHECK(std::isfinite(result.mse),
                    "{}: the identity MSE is {} at iteration {}; the weights are left as after iteration {}", op,
                    result.mse, it, it - 1);
      std::vector<Var> grads = grad({loss}, params, {}, no_unused_error);
      for (size_t i = 0; i < params.size(); ++i) {
        if (!grads[i].defined()) continue;
        const double grad_sum = sum(grads[i]).item();  // NaN or ±Inf iff an entry is (or the sum overflows)
        BRENIER_CHECK(std::isfinite(grad_sum),
                      "{}: the gradient of '{}' is not finite at iteration {} (identity MSE {}); the weights "
                      "are left as after iteration {}",
                      op, named[i].first, it, result.mse, it - 1);
      }
      for (size_t i = 0; i < params.size(); ++i)
        if (grads[i].defined()) Var(params[i]).set_grad(grads[i].data());
    }
    adam.step();
    adam.zero_grad();
    result.iterations = it;
    if (result.mse < config.tolerance) {
      result.converged = true;
      break;
    }
  }
  return result;
}

}  // namespace brenier::ot
