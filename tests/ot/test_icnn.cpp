// The bench ICNN: its potential against a hand-written forward, its map ∇ψ against finite
// differences, its Hessian (double backward) against finite differences of the map and checked PSD
// (with a non-convex negative control), and the map's own gradient w.r.t. the weights.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "ot/layers/icnn.h"
#include "tests/ot/reference.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

Var f64(const std::vector<double>& v, const Shape& s) { return Var(Tensor::from_vector(v, s)); }

double celu_ref(double t) { return t > 0 ? t : std::exp(t) - 1.0; }

// Fixed small weights for D = 2, hidden [3, 2] (row-major [out, in] like the layer).
struct SmallNet {
  std::vector<double> A0{0.5, -1.0, 0.3, 0.8, -0.7, 0.2}, b0{0.1, -0.2, 0.05};
  std::vector<double> A1{0.4, 0.6, -0.9, 0.1}, b1{0.0, 0.3};
  std::vector<double> W1{0.2, 0.0, 0.7, 0.5, 0.3, 0.1};
  std::vector<double> w{0.9, 0.4}, a{0.25, -0.5}, c{0.7};

  IcnnWeights weights() const {
    return {{f64(A0, {3, 2}), f64(A1, {2, 2})}, {f64(b0, {3}), f64(b1, {2})}, {f64(W1, {2, 3})},
            f64(w, {2}), f64(a, {2}), f64(c, {1})};
  }
  // The formula of icnn.h, written out with loops.
  double potential(double x0, double x1, double s) const {
    double z1[3], z2[2];
    for (int j = 0; j < 3; ++j) z1[j] = celu_ref(A0[j * 2] * x0 + A0[j * 2 + 1] * x1 + b0[j]);
    for (int j = 0; j < 2; ++j) {
      double t = A1[j * 2] * x0 + A1[j * 2 + 1] * x1 + b1[j];
      for (int k = 0; k < 3; ++k) t += W1[j * 3 + k] * z1[k];
      z2[j] = celu_ref(t);
    }
    return w[0] * z2[0] + w[1] * z2[1] + a[0] * x0 + a[1] * x1 + c[0] + 0.5 * s * (x0 * x0 + x1 * x1);
  }
};

Icnn make_icnn(int64_t dim, std::vector<int64_t> hidden, uint64_t seed, double quadratic = 1.0) {
  Generator gen(seed);
  IcnnConfig config;
  config.dim = dim;
  config.hidden = std::move(hidden);
  config.quadratic = quadratic;
  return Icnn(config, gen, DType::F64);
}

// ψ at one point (a [1, D] batch), without a graph.
double potential_at(const Icnn& net, std::vector<double> x) {
  NoGradGuard no_grad;
  const int64_t d = static_cast<int64_t>(x.size());
  return net(f64(x, {1, d})).item();
}

}  // namespace

TEST_CASE("ot: icnn potential matches a hand-written forward") {
  SmallNet net;
  const std::vector<double> xs{0.3, -1.2, -2.0, 0.5, 1.5, 2.5, 0.0, 0.0};
  for (double s : {1.0, 0.0, 1e-4}) {
    std::vector<double> psi = icnn_potential(f64(xs, {4, 2}), net.weights(), s).data().to_vector<double>();
    REQUIRE(psi.size() == 4);
    for (int i = 0; i < 4; ++i) CHECK(psi[i] == doctest::Approx(net.potential(xs[2 * i], xs[2 * i + 1], s)).epsilon(1e-13));
  }
  CHECK(icnn_potential(f64(xs, {4, 2}), net.weights()).shape() == Shape{4});
}

TEST_CASE("ot: icnn potential rejects weights that do not fit the layout") {
  SmallNet net;
  Var x = f64({0.3, -1.2}, {1, 2});
  IcnnWeights bad = net.weights();
  bad.W[0] = f64({1, 2, 3, 4}, {2, 2});
  CHECK(error_of([&] { icnn_potential(x, bad); }).find("icnn_potential: weight 'W[0]' must be f64 [2, 3]") !=
        std::string::npos);
  bad = net.weights();
  bad.W.clear();
  CHECK(error_of([&] { icnn_potential(x, bad); }).find("L − 1 in W") != std::string::npos);
  bad = net.weights();
  bad.a = Var(bad.a.data().to(DType::F32));
  CHECK(error_of([&] { icnn_potential(x, bad); }).find("weight 'a' must be f64 [2]") != std::string::npos);
  CHECK(error_of([&] { icnn_potential(f64({1, 2, 3}, {1, 3}), net.weights()); }).find("weight 'A[0]' must be f64 [h, 3]") !=
        std::string::npos);
  CHECK(error_of([&] {
          NoGradGuard no_grad;
          icnn_map(x, net.weights(), false);
        }).find("icnn_map: grad mode must be on") != std::string::npos);
}

TEST_CASE("ot: Icnn init, parameter names and convexify") {
  Icnn net = make_icnn(3, {5, 4, 2}, 7);
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"A0", "b0", "A1", "b1", "W1", "A2", "b2", "W2", "w", "a", "c"});
  CHECK(net.num_parameters() == (5 * 3 + 5) + (4 * 3 + 4 + 4 * 5) + (2 * 3 + 2 + 2 * 4) + 2 + 3 + 1);
  CHECK(net.convex_weights().size() == 3);
  for (const Var& w : net.convex_weights())
    for (double v : w.data().to_vector<double>()) CHECK(v >= 0.0);
  // Affine-in-x weights follow nn::Linear's U(±1/√D).
  for (double v : net.weights().A[0].data().to_vector<double>()) CHECK(std::abs(v) <= 1.0 / std::sqrt(3.0));
  Var w1 = net.weights().W[0];  // a handle to the same parameter
  w1.data().fill_(-1.0);
  net.convexify();
  for (double v : net.weights().W[0].data().to_vector<double>()) CHECK(v == 0.0);
  CHECK(make_icnn(8, {}, 0).hidden() == std::vector<int64_t>{64, 64, 32});  // bench sizes (WORKLOADS.md)
  CHECK(bench_icnn_hidden(16) == std::vector<int64_t>{128, 128, 64});
  Generator gen(0);
  IcnnConfig bad;
  bad.hidden = {4, 0};
  CHECK(error_of([&] { Icnn(bad, gen); }).find("'hidden' must hold sizes >= 1") != std::string::npos);
}

TEST_CASE("ot: icnn map matches central finite differences of the potential") {
  for (double s : {1.0, 1e-4}) {
    Icnn net = make_icnn(3, {8, 8, 4}, 3, s);
    Generator gen(4);
    Tensor points = gen.normal({6, 3}, 0.0, 1.5, DType::F64);
    std::vector<double> g = net.map(Var(points)).data().to_vector<double>(), p = points.to_vector<double>();
    const double h = 1e-5;  // truncation ~h²·ψ''' ≈ 1e-10, rounding ~1e-16/h ≈ 1e-11
    for (int i = 0; i < 6; ++i)
      for (int k = 0; k < 3; ++k) {
        std::vector<double> up(p.begin() + 3 * i, p.begin() + 3 * i + 3), down = up;
        up[k] += h;
        down[k] -= h;
        const double fd = (potential_at(net, up) - potential_at(net, down)) / (2 * h);
        CHECK(g[3 * i + k] == doctest::Approx(fd).epsilon(1e-7));
      }
  }
}

TEST_CASE("ot: icnn Hessian by double backward is symmetric, matches finite differences and is ≥ s·I") {
  const int64_t d = 3;
  const double s = 1.0;
  Icnn net = make_icnn(d, {8, 8, 4}, 5, s);
  Generator gen(6);
  Tensor points = gen.normal({16, d}, 0.0, 2.0, DType::F64);
  std::vector<std::vector<double>> h = ot_test::hessians(net, points);
  std::vector<double> p = points.to_vector<double>();
  const double step = 1e-5;
  double smallest = INFINITY;
  for (int i = 0; i < 16; ++i) {
    // Column k of the Hessian by central differences of the map ∇ψ.
    for (int k = 0; k < d; ++k) {
      std::vector<double> up(p.begin() + d * i, p.begin() + d * i + d), down = up;
      up[k] += step;
      down[k] -= step;
      std::vector<double> gu = net.map(f64(up, {1, d})).data().to_vector<double>();
      std::vector<double> gd = net.map(f64(down, {1, d})).data().to_vector<double>();
      for (int l = 0; l < d; ++l)
        CHECK(h[i][l * d + k] == doctest::Approx((gu[l] - gd[l]) / (2 * step)).epsilon(1e-6));
    }
    std::vector<double> shifted = h[i];  // H − s·I: the network part's Hessian, PSD when W, w ≥ 0
    for (int k = 0; k < d; ++k) {
      shifted[k * d + k] -= s;
      for (int l = 0; l < d; ++l) CHECK(std::abs(h[i][k * d + l] - h[i][l * d + k]) < 1e-10);
    }
    smallest = std::min(smallest, ot_test::min_eigenvalue(shifted, d));
  }
  CHECK(smallest >= -1e-10);

  // Negative control: w < 0 makes the network part concave (−w⁺·z_L), so the same check must fail.
  Var w_out = net.weights().w;
  w_out.data().copy_from((-1.0 * Var(w_out.data()) - 0.5).data());
  double smallest_flipped = INFINITY;
  for (const auto& hi : ot_test::hessians(net, points)) {
    std::vector<double> shifted = hi;
    for (int k = 0; k < d; ++k) shifted[k * d + k] -= s;
    smallest_flipped = std::min(smallest_flipped, ot_test::min_eigenvalue(shifted, d));
  }
  CHECK(smallest_flipped < -1e-3);
}

TEST_CASE("ot: icnn map built with create_graph is differentiable w.r.t. the weights") {
  Icnn net = make_icnn(2, {6, 4}, 9);
  Generator gen(10);
  Tensor points = gen.normal({5, 2}, 0.0, 1.0, DType::F64);
  Var total = sum(net.map(Var(points), /*create_graph=*/true));
  std::vector<Var> grads = grad({total}, {net.weights().a, net.weights().c, net.weights().w}, {}, {.allow_unused = true});
  // ∇ψ(x) = x·s + a + ∇(w⁺·z_L): d(Σ_i Σ_k ∂_k ψ(x_i)) / d a_k = n, and c never reaches the map.
  for (double v : grads[0].data().to_vector<double>()) CHECK(v == doctest::Approx(5.0));
  CHECK((!grads[1].defined() || grads[1].data().to_vector<double>()[0] == 0.0));
  // d/dw_j by central differences of the map's sum.
  std::vector<double> gw = grads[2].data().to_vector<double>();
  const double h = 1e-6;
  for (int j = 0; j < 4; ++j) {
    auto sum_of_map = [&](double delta) {
      Var w_out = net.weights().w;
      std::vector<double> w = w_out.data().to_vector<double>();
      std::vector<double> moved = w;
      moved[j] += delta;
      w_out.data().copy_from(Tensor::from_vector(moved, {4}));
      const double out = sum(net.map(Var(points))).item();
      w_out.data().copy_from(Tensor::from_vector(w, {4}));
      return out;
    };
    CHECK(gw[j] == doctest::Approx((sum_of_map(h) - sum_of_map(-h)) / (2 * h)).epsilon(1e-6));
  }
}
