// assign_cells (the semi-discrete hot loop) against a naive f64 double loop: argmax with ties to the first
// index, max score, top-k and counts, for block sizes that do not divide N or n, budgets that force target
// chunking, and bad input.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/solvers/semi_discrete_cells.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

struct Naive {
  std::vector<int64_t> argmax;
  std::vector<double> max_score;
  std::vector<double> second_score;  // the runner-up's score (n >= 2)
  std::vector<std::vector<int64_t>> topk;  // per source, best first, lower index first on ties
  std::vector<int64_t> counts;
};

// Scores ⟨x_j, y_i⟩ + h_i in f64 by loops; ties broken by the lower index.
Naive naive_cells(const Tensor& xs, const Tensor& ys, const Tensor& hs, int64_t k) {
  const std::vector<double> x = xs.to_vector<double>(), y = ys.to_vector<double>(), h = hs.to_vector<double>();
  const int64_t N = xs.size(0), n = ys.size(0), d = xs.size(1);
  Naive out;
  out.counts.assign(n, 0);
  for (int64_t j = 0; j < N; ++j) {
    std::vector<double> s(n);
    for (int64_t i = 0; i < n; ++i) {
      double v = 0;
      for (int64_t c = 0; c < d; ++c) v += x[j * d + c] * y[i * d + c];
      s[i] = v + h[i];
    }
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
    out.argmax.push_back(order[0]);
    out.max_score.push_back(s[order[0]]);
    out.second_score.push_back(n >= 2 ? s[order[1]] : s[order[0]]);
    out.topk.emplace_back(order.begin(), order.begin() + k);
    ++out.counts[order[0]];
  }
  return out;
}

// Small integers: every score is exact in f32 and f64 whatever the summation order, so ties are real ties.
Tensor integer_points(Generator& gen, int64_t rows, int64_t cols, int64_t lo, int64_t hi, DType dtype) {
  return gen.randint({rows, cols}, lo, hi + 1).to(dtype);
}

void check_against_naive(const CellAssignment& a, const Naive& ref, int64_t k, double score_tol) {
  const std::vector<int64_t> argmax = a.argmax.to_vector<int64_t>();
  const std::vector<double> max_score = a.max_score.to_vector<double>();
  REQUIRE(argmax.size() == ref.argmax.size());
  CHECK(argmax == ref.argmax);
  // score_tol 0: exact (integer data); otherwise relative.
  for (size_t j = 0; j < max_score.size(); ++j)
    CHECK(std::abs(max_score[j] - ref.max_score[j]) <= score_tol * (1 + std::abs(ref.max_score[j])));
  if (a.counts.defined()) {
    const std::vector<int64_t> counts = a.counts.to_vector<int64_t>();
    CHECK(counts == ref.counts);
    CHECK(std::accumulate(counts.begin(), counts.end(), int64_t{0}) == static_cast<int64_t>(ref.argmax.size()));
  }
  if (k > 0) {
    const std::vector<int64_t> top = a.topk_indices.to_vector<int64_t>();
    REQUIRE(a.topk_indices.shape() == Shape{static_cast<int64_t>(ref.argmax.size()), k});
    bool all_equal = true;
    for (size_t j = 0; j < ref.topk.size(); ++j)
      for (int64_t r = 0; r < k; ++r) all_equal = all_equal && top[j * k + r] == ref.topk[j][r];
    CHECK(all_equal);
  }
}

}  // namespace

TEST_CASE("semi-discrete cells: random f64 data, any chunking, matches the naive loop") {
  Generator gen(11);
  const int64_t N = 103, n = 37, d = 3;
  Tensor x = gen.normal({N, d}, 0, 1, DType::F64), y = gen.normal({n, d}, 0, 1, DType::F64);
  Tensor h = gen.normal({n}, 0, 0.3, DType::F64);
  for (int64_t k : {0, 1, 4}) {
    const Naive ref = naive_cells(x, y, h, k);
    struct Chunks { int64_t sources, targets; };
    for (Chunks ch : {Chunks{0, 0}, Chunks{7, 5}, Chunks{1, 1}, Chunks{100, 36}, Chunks{103, 37}, Chunks{1000, 1000}}) {
      CAPTURE(k);
      CAPTURE(ch.sources);
      CAPTURE(ch.targets);
      CellAssignment a = assign_cells(x, y, h, {.target_chunk = ch.targets, .source_chunk = ch.sources, .top_k = k});
      check_against_naive(a, ref, k, 1e-12);
    }
  }
}

TEST_CASE("semi-discrete cells: exact ties go to the first index, in f32 (oneDNN) and f64, in any chunking") {
  Generator gen(12);
  const int64_t N = 200, n = 40, d = 2;
  for (DType dtype : {DType::F32, DType::F64}) {
    // Targets in {−1, 0, 1}² (duplicates among 40), integer heights in {0, 1}, sources in {−2..2}²:
    // many sources see several maximal targets.
    Tensor x = integer_points(gen, N, d, -2, 2, dtype), y = integer_points(gen, n, d, -1, 1, dtype);
    Tensor h = integer_points(gen, n, 1, 0, 1, dtype).reshape({n});
    const Naive ref = naive_cells(x, y, h, 5);
    // The test data must really contain ties, or it would test nothing.
    int64_t tied_sources = 0;
    for (int64_t j = 0; j < N; ++j) tied_sources += ref.second_score[j] == ref.max_score[j];
    CHECK(tied_sources > N / 4);
    for (int64_t target_chunk : {0, 3, 7, 40}) {
      for (int64_t k : {0, 5}) {
        CAPTURE(target_chunk);
        CAPTURE(k);
        CellAssignment a = assign_cells(x, y, h, {.target_chunk = target_chunk, .source_chunk = 13, .top_k = k});
        check_against_naive(a, ref, k, 0);
      }
    }
  }
}

TEST_CASE("semi-discrete cells: the fused small-d CPU path (default chunks, k = 0) keeps ties at the first index") {
  Generator gen(14);
  for (DType dtype : {DType::F32, DType::F64}) {
    for (int64_t N : {1, 63, 64, 65, 200}) {  // around the kernel's 64-row blocks
      CAPTURE(dtype_name(dtype));
      CAPTURE(N);
      Tensor x = integer_points(gen, N, 3, -2, 2, dtype), y = integer_points(gen, 41, 3, -1, 1, dtype);
      Tensor h = integer_points(gen, 41, 1, 0, 1, dtype).reshape({41});
      check_against_naive(assign_cells(x, y, h), naive_cells(x, y, h, 0), 0, 0);
    }
  }
}

TEST_CASE("semi-discrete cells: f32 random data picks a maximal target up to f32 rounding") {
  Generator gen(13);
  const int64_t N = 500, n = 64, d = 8;  // 500·64·9 ≥ oneDNN's threshold: the GEMM goes to oneDNN
  Tensor x = gen.normal({N, d}), y = gen.normal({n, d}), h = gen.normal({n}, 0, 0.5);
  const Naive ref = naive_cells(x, y, h, 0);
  CellAssignment a = assign_cells(x, y, h);
  const std::vector<int64_t> got = a.argmax.to_vector<int64_t>();
  const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>(), hv = h.to_vector<double>();
  int64_t same = 0;
  for (int64_t j = 0; j < N; ++j) {
    double s = hv[got[j]];
    for (int64_t c = 0; c < d; ++c) s += xv[j * d + c] * yv[got[j] * d + c];
    CHECK(s >= ref.max_score[j] - 1e-5 * (1 + std::abs(ref.max_score[j])));  // f32 rounding of ~10 terms
    same += got[j] == ref.argmax[j];
  }
  CHECK(same >= N - 2);  // near-ties within f32 rounding are the only possible differences
  std::vector<int64_t> counts = a.counts.to_vector<int64_t>();
  CHECK(std::accumulate(counts.begin(), counts.end(), int64_t{0}) == N);
}

TEST_CASE("semi-discrete cells: the byte budget sets the blocks and never changes the answer") {
  Generator gen(14);
  const int64_t N = 103, n = 37, d = 3;
  Tensor x = gen.normal({N, d}, 0, 1, DType::F64), y = gen.normal({n, d}, 0, 1, DType::F64);
  Tensor h = gen.normal({n}, 0, 0.3, DType::F64);
  const Naive ref = naive_cells(x, y, h, 3);
  // Default budget: everything in one block.
  CellBlockPlan whole = plan_cell_blocks(N, n, d, DType::F64);
  CHECK(whole.source_rows == N);
  CHECK(whole.target_cols == n);
  for (int64_t budget : {300, 700, 3000, 20000}) {
    for (int64_t k : {0, 3}) {
      CAPTURE(budget);
      CAPTURE(k);
      CellAssignmentOptions o{.max_block_bytes = budget, .top_k = k};
      std::string err = error_of([&] { plan_cell_blocks(N, n, d, DType::F64, o); });
      if (!err.empty()) {
        // Only a budget below one source row of one target may be refused.
        CHECK(err.find("must be at least") != std::string::npos);
        continue;
      }
      CellBlockPlan plan = plan_cell_blocks(N, n, d, DType::F64, o);
      CHECK(plan.block_bytes <= budget);
      CHECK(plan.source_rows >= 1);
      CHECK(plan.target_cols >= 1);
      CellAssignment a = assign_cells(x, y, h, o);
      CHECK(a.plan.source_rows == plan.source_rows);
      check_against_naive(a, ref, k, 1e-12);
    }
  }
  // The default budget is the device's: OT-Net's N = 20000 × n = 10000 f32 problem is 13 blocks in 64 MiB
  // on the CPU and one block in 1 GiB on a GPU (planning touches no device). A negative budget is refused.
  CHECK(default_cell_block_bytes(Device::cpu()) == int64_t{64} << 20);
  CHECK(default_cell_block_bytes(Device::cuda(0)) == int64_t{1} << 30);
  CHECK(plan_cell_blocks(20000, 10000, 100, DType::F32).source_rows < 20000);
  CHECK(plan_cell_blocks(20000, 10000, 100, DType::F32, {}, Device::cuda(0)).source_rows == 20000);
  CHECK(error_of([&] { plan_cell_blocks(N, n, d, DType::F64, {.max_block_bytes = -1}); })
            .find("'max_block_bytes' must be >= 0") != std::string::npos);
  // 300 bytes hold less than one row of all 37 targets: the targets are chunked.
  CellBlockPlan small = plan_cell_blocks(N, n, d, DType::F64, {.max_block_bytes = 300});
  CHECK(small.target_cols < n);
  CHECK(small.source_rows == 1);
  // Below one source row against one target: a clear error naming the minimum.
  CHECK(error_of([&] { assign_cells(x, y, h, {.max_block_bytes = 100}); }).find("'max_block_bytes' must be at least") !=
        std::string::npos);
  // An explicit chunk that does not fit the budget is refused, not silently shrunk.
  CHECK(error_of([&] { assign_cells(x, y, h, {.max_block_bytes = 300, .target_chunk = 37}); })
            .find("must be at least") != std::string::npos);
  CHECK(error_of([&] { assign_cells(x, y, h, {.max_block_bytes = 3000, .source_chunk = 50}); })
            .find("'source_chunk' = 50") != std::string::npos);
}

TEST_CASE("semi-discrete cells: bad input gives errors naming the argument") {
  Generator gen(15);
  Tensor x = gen.normal({10, 2}), y = gen.normal({5, 2}), h = gen.normal({5});
  CHECK(error_of([&] { assign_cells(x, gen.normal({5, 3}), h); }).find("'targets' must have the sources' dimension d=2") !=
        std::string::npos);
  CHECK(error_of([&] { assign_cells(x, y, gen.normal({4})); }).find("'heights' must be [5]") != std::string::npos);
  CHECK(error_of([&] { assign_cells(x, y, h.to(DType::F64)); }).find("must share one floating dtype") !=
        std::string::npos);
  CHECK(error_of([&] { assign_cells(x, Tensor::zeros({0, 2}), Tensor::zeros({0})); }).find("'targets' must be [n, d] with n >= 1") !=
        std::string::npos);
  Tensor bad = y.clone();
  bad.data<float>()[3] = NAN;
  CHECK(error_of([&] { assign_cells(x, bad, h); }).find("'targets'") != std::string::npos);
  CHECK(error_of([&] { assign_cells(x, y, h, {.top_k = 6}); }).find("'top_k' must be in [0, 5]") != std::string::npos);
  CHECK(error_of([&] { assign_cells(x.reshape({20}), y, h); }).find("'sources' must be [N, d]") != std::string::npos);
}
