// Shape and indexing ops: views, permutations, slices, joins, gathers and scatters.
#include <numeric>

#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;

namespace {

// Zeros of `shape` with g written into a slice (slice's adjoint); its own adjoint is slice.
Var slice_scatter(const Var& g, const Shape& shape, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  return record("slice_scatter", prim::slice_scatter(g.data(), shape, dim, start, stop, step), {g},
                [dim, start, stop, step](const BackwardArgs& r) {
                  return std::vector<Var>{slice(r.grad, dim, start, stop, step)};
                });
}

// Zeros of `shape` with rows of g added at `index` along dim (index_select's adjoint).
Var index_add_zeros(const Var& g, const Shape& shape, int64_t dim, const Tensor& index) {
  Tensor zeros = Tensor::zeros(shape, g.dtype(), g.device());
  return record("index_add", prim::index_add(zeros, dim, index, g.data()), {g},
                [dim, index](const BackwardArgs& r) {
                  return std::vector<Var>{index_select(r.grad, dim, index)};
                });
}

}  // namespace

Var reshape(const Var& x, const Shape& shape) {
  check_var(x, "reshape", "x");
  return record("reshape", x.data().reshape(shape), {x}, [](const BackwardArgs& r) {
    return std::vector<Var>{reshape(r.grad, r.inputs[0].shape())};
  });
}

Var flatten(const Var& x) { return reshape(x, {-1}); }

Var unsqueeze(const Var& x, int64_t dim) {
  check_var(x, "unsqueeze", "x");
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return reshape(x, s);
}

Var squeeze(const Var& x, int64_t dim) {
  check_var(x, "squeeze", "x");
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  BRENIER_CHECK(x.size(d) == 1, "squeeze: dim {} of {} must have size 1", d, x.data().str());
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

Var permute(const Var& x, const Dims& perm) {
  check_var(x, "permute", "x");
  Tensor out = prim::permute(x.data(), perm);
  Dims inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[wrap_dim(perm[i], x.dim(), "permute", "perm")] = i;
  return record("permute", out, {x}, [inverse](const BackwardArgs& r) {
    return std::vector<Var>{permute(r.grad, inverse)};
  });
}

Var transpose(const Var& x, int64_t d0, int64_t d1) {
  check_var(x, "transpose", "x");
  Dims perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[wrap_dim(d0, x.dim(), "transpose", "d0")], perm[wrap_dim(d1, x.dim(), "transpose", "d1")]);
  return permute(x, perm);
}

Var broadcast_to(const Var& x, const Shape& shape) {
  check_var(x, "broadcast_to", "x");
  if (x.shape() == shape) return x;
  return record("broadcast_to", prim::broadcast_to(x.data(), shape), {x}, [](const BackwardArgs& r) {
    return std::vector<Var>{sum_to(r.grad, r.inputs[0].shape())};
  });
}

Var sum_to(const Var& x, const Shape& shape) {
  check_var(x, "sum_to", "x");
  if (x.shape() == shape) return x;
  BRENIER_CHECK(broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(),
                "sum_to: shape {} does not broadcast to the argument's shape {}", shape_str(shape),
                shape_str(x.shape()));
  int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  Dims dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.size(d) != 1)) dims.push_back(d);
  Tensor summed = dims.empty() ? x.data() : prim::reduce(prim::Reduce::Sum, x.data(), dims, true);
  return record("sum_to", summed.reshape(shape), {x}, [](const BackwardArgs& r) {
    return std::vector<Var>{broadcast_to(r.grad, r.inputs[0].shape())};
  });
}

Var slice(const Var& x, int64_t dim, int64_t start, int64_t stop, int64_t step) {
  check_var(x, "slice", "x");
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  Shape shape = x.shape();
  return record("slice", prim::slice(x.data(), d, start, stop, step), {x},
                [shape, d, start, stop, step](const BackwardArgs& r) {
                  return std::vector<Var>{slice_scatter(r.grad, shape, d, start, stop, step)};
                });
}

Var concat(const std::vector<Var>& xs, int64_t dim) {
  BRENIER_CHECK(!xs.empty(), "concat: argument 'xs' is empty; expected at least one tensor");
  std::vector<Tensor> ts;
  for (const Var& v : xs) {
    check_var(v, "concat", "xs");
    ts.push_back(v.data());
  }
  int64_t d = wrap_dim(dim, xs[0].dim(), "concat");
  return record("concat", prim::concat(ts, d), xs, [d](const BackwardArgs& r) {
    std::vector<Var> grads;
    int64_t offset = 0;
    for (const Var& in : r.inputs) {
      int64_t n = in.size(d);
      grads.push_back(slice(r.grad, d, offset, offset + n));
      offset += n;
    }
    return grads;
  });
}

Var stack(const std::vector<Var>& xs, int64_t dim) {
  BRENIER_CHECK(!xs.empty(), "stack: argument 'xs' is empty; expected at least one tensor");
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Var> parts;
  for (const Var& v : xs) {
    check_var(v, "stack", "xs");
    BRENIER_CHECK(v.shape() == xs[0].shape(), "stack: every tensor must have shape {}, got {}",
                  shape_str(xs[0].shape()), shape_str(v.shape()));
    parts.push_back(unsqueeze(v, d));
  }
  return concat(parts, d);
}

std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_var(x, "split", "x");
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    BRENIER_CHECK(s >= 0, "split: argument 'sizes' must be non-negative, got {}", fmt::join(sizes, ", "));
    total += s;
  }
  BRENIER_CHECK(total == x.size(d), "split: argument 'sizes' must sum to {} (dim {} of {}), got {}",
                x.size(d), d, x.data().str(), total);
  std::vector<Var> parts;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    parts.push_back(slice(x, d, offset, offset + s));
    offset += s;
  }
  return parts;
}

Var index_select(const Var& x, int64_t dim, const Tensor& index) {
  check_var(x, "index_select", "x");
  int64_t d = wrap_dim(dim, x.dim(), "index_select");
  Shape shape = x.shape();
  return record("index_select", prim::index_select(x.data(), d, index), {x},
                [shape, d, index](const BackwardArgs& r) {
                  return std::vector<Var>{index_add_zeros(r.grad, shape, d, index)};
                });
}

Var gather(const Var& x, int64_t dim, const Tensor& index) {
  check_var(x, "gather", "x");
  int64_t d = wrap_dim(dim, x.dim(), "gather");
  return record("gather", prim::gather(x.data(), d, index), {x}, [d, index](const BackwardArgs& r) {
    return std::vector<Var>{scatter_add(zeros_like(r.inputs[0]), d, index, r.grad)};
  });
}

Var scatter_add(const Var& x, int64_t dim, const Tensor& index, const Var& src) {
  check_var(x, "scatter_add", "x");
  check_var(src, "scatter_add", "src");
  int64_t d = wrap_dim(dim, x.dim(), "scatter_add");
  return record("scatter_add", prim::scatter_add(x.data(), d, index, src.data()), {x, src},
                [d, index](const BackwardArgs& r) {
                  return std::vector<Var>{r.needs[0] ? r.grad : Var(),
                                          r.needs[1] ? gather(r.grad, d, index) : Var()};
                });
}

}  // namespace brenier
