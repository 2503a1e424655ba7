// ConditionedLinear: the one layer of NCTM's map and critic that sees the condition vector c
// (arXiv 2505.15808 §3.4; spec/algorithms.md §5.2): h [n, in] ↦ y [n, out], in one of three ways
//
//   Hypernetwork (the paper's): a shallow MLP H (hidden 128, SiLU) maps c_i to the weights and bias of
//                 the layer, (W_i, b_i) = H(c_i), W_i ∈ R^{out×in}; y_i = W_i h_i + b_i. Every row has
//                 its own layer, evaluated for the whole batch by one batched matmul ([n, 1, in] times
//                 [n, out, in]ᵀ), no loop over conditions.
//   Concat:       y = W [h, c] + b (the ablation's baseline).
//   Film:         y = (1 + γ(c)) ⊙ (W h + b) + β(c), γ, β linear in c and zero at initialization
//                 (Perez et al. 2018; the ablation's feature modulation).
//
// Initialization of the hypernetwork (ours; the paper does not say): its output layer's weights are
// scaled by `hyper_output_gain` (0.1) and its bias holds an orthogonally initialized base layer
// (W_0, b_0 = 0), so every generated layer starts near one well-scaled layer and c moves it from there.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/nn/linear.h"
#include "engine/nn/mlp.h"
#include "engine/random/generator.h"

namespace brenier::ot {

enum class ConditioningKind { Hypernetwork, Concat, Film };
// "hypernet" | "concat" | "film"; anything else throws, listing the choices.
ConditioningKind parse_conditioning(std::string_view name);
const char* name(ConditioningKind kind);

struct ConditionedLinearConfig {
  int64_t in_features = 128;
  int64_t out_features = 128;
  int64_t condition_dim = 64;
  ConditioningKind kind = ConditioningKind::Hypernetwork;  // the paper's (§5.2)
  std::vector<int64_t> hyper_hidden{128};                  // "shallow MLP, hidden 128" (§5.2)
  double hyper_output_gain = 0.1;                          // ours, see the file comment
};

// A layer per row: weight [n, out, in], bias [n, out].
struct GeneratedLayer {
  Var weight, bias;
};

class ConditionedLinear : public nn::Module {
 public:
  // Throws naming the field unless every size is >= 1 and the gain is finite and >= 0.
  ConditionedLinear(const ConditionedLinearConfig& config, Generator& gen, DType dtype = DType::F32);
  // h [n, in], c [n, condition_dim] → [n, out]. Throws naming the argument on a shape mismatch.
  Var forward(const Var& h, const Var& c) const;
  Var operator()(const Var& h, const Var& c) const { return forward(h, c); }
  // Hypernetwork only: the layers generated for the rows of c [n, condition_dim].
  GeneratedLayer generate(const Var& c) const;
  const ConditionedLinearConfig& config() const { return config_; }

 private:
  void check(const Var& h, const Var& c) const;
  ConditionedLinearConfig config_;
  std::shared_ptr<nn::MLP> hyper_;          // Hypernetwork: c → [out·in + out]
  std::shared_ptr<nn::Linear> linear_;      // Concat: [in + cond] → out; Film: in → out
  std::shared_ptr<nn::Linear> film_;        // Film: c → [γ, β] (2·out), zero-initialized
};

}  // namespace brenier::ot
