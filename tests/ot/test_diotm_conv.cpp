// DIOTM's convolutional networks for images (ot/layers/conv_unet_map.h, conv_time_potential.h) and the
// solver's conv architecture: the U-Net map starts at the identity, rows are independent (what the HJB
// residual's per-point gradients rely on), the HJB penalty's parameter gradient through convolutions
// (a gradient of a gradient) matches finite differences in f64, and a conv solver trains, checkpoints
// and refuses a checkpoint of the other architecture.
#include <doctest/doctest.h>

#include "tests/support/errors.h"
#include "tests/support/single_thread.h"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "ot/layers/conv_time_potential.h"
#include "ot/layers/conv_unet_map.h"
#include "ot/solvers/diotm.h"
#include "ot/solvers/diotm_objective.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const ImageShape kTiny{1, 4, 4};

std::vector<double> values(const Var& v) { return v.data().to_vector<double>(); }

}  // namespace

TEST_CASE("ot: ConvUNetMap starts at the identity, maps rows independently and checks its input") {
  Generator gen(3);
  ConvUNetConfig config;
  config.image = {2, 8, 8};
  config.base_channels = 3;
  const ConvUNetMap identity(config, gen, DType::F64);
  const Tensor x = gen.normal({5, 128}, 0.0, 1.0, DType::F64);
  CHECK(values(identity(Var(x))) == x.to_vector<double>());

  config.zero_init_output = false;
  const ConvUNetMap moved(config, gen, DType::F64);
  const std::vector<double> batch = values(moved(Var(x)));
  double change = 0;
  const std::vector<double> before = x.to_vector<double>();
  for (size_t i = 0; i < batch.size(); ++i) change = std::max(change, std::abs(batch[i] - before[i]));
  CHECK(change > 1e-3);  // a moved map does move points, so the identity check above can fail
  // Row 3 alone gives row 3 of the batch (no coupling across the batch).
  const std::vector<double> all = x.to_vector<double>();
  const Tensor row3 = Tensor::from_vector(std::vector<double>(all.begin() + 3 * 128, all.begin() + 4 * 128), {1, 128});
  const std::vector<double> alone = values(moved(Var(row3)));
  for (size_t k = 0; k < 128; ++k) CHECK(alone[k] == doctest::Approx(batch[3 * 128 + k]).epsilon(1e-12));

  CHECK(contains(error_of([&] { moved(Var(gen.normal({2, 100}, 0.0, 1.0, DType::F64))); }),
                 "ConvUNetMap: argument 'x' must be [n, 128] (flat 2x8x8 images)"));
  config.image = {1, 6, 6};
  CHECK(contains(error_of([&] { ConvUNetMap bad(config, gen); }), "multiples of 4"));
}

TEST_CASE("ot: ConvTimePotential's HJB residual and its parameter gradient match finite differences (f64)") {
  Generator gen(12);
  ConvTimePotentialConfig config;
  config.image = kTiny;
  config.base_channels = 2;
  config.hidden = 5;
  config.time.dim = 4;
  config.time.max_positions = 10;
  config.time.scale = 3;
  ConvTimePotential v(config, gen, DType::F64);
  const TimePotentialFn fn = [&](const Var& t, const Var& z) { return v.forward(t, z); };
  const int64_t n = 3, d = kTiny.numel();
  const Tensor t = gen.uniform({n}, 0.0, 1.0, DType::F64), z = gen.normal({n, d}, 0.0, 1.0, DType::F64);
  const double alpha = 0.6;

  // The residual of point i by central differences of Ṽ in t and in each of the 16 pixels.
  const std::vector<double> r = values(hjb_residual(fn, t, z, alpha));
  const std::vector<double> ts = t.to_vector<double>(), zs = z.to_vector<double>();
  auto value = [&](double ti, const std::vector<double>& zi) {
    NoGradGuard no_grad;
    const Tensor tt = Tensor::from_vector(std::vector<double>{ti}, {1}), zz = Tensor::from_vector(zi, {1, d});
    return v.forward(Var(tt), Var(zz)).item();
  };
  const double h = 1e-5;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> zi(zs.begin() + i * d, zs.begin() + (i + 1) * d);
    const double dt = (value(ts[i] + h, zi) - value(ts[i] - h, zi)) / (2 * h);
    double kinetic = 0;
    for (int64_t k = 0; k < d; ++k) {
      std::vector<double> up = zi, down = zi;
      up[k] += h;
      down[k] -= h;
      const double g = (value(ts[i], up) - value(ts[i], down)) / (2 * h);
      kinetic += g * g;
    }
    CHECK(r[i] == doctest::Approx(dt + kinetic / (4 * alpha)).epsilon(1e-6));
  }

  // d/dθ of the squared HJB penalty w.r.t. a convolution weight: the gradient of a gradient through conv2d.
  for (const std::string name : {"conv1.weight", "conv3.weight"}) {
    CAPTURE(name);
    Var w;
    for (const auto& [key, p] : v.named_parameters())
      if (key == name) w = p;
    REQUIRE(w.defined());
    const Var reg = diotm_regularizer(DiotmRegularizer::Hjb, HjbNorm::Squared, fn, t, z, alpha);
    // The entry with the largest gradient (taps that only ever see the zero padding have none).
    const std::vector<double> g = values(grad({reg}, {w})[0]);
    size_t at = 0;
    for (size_t k = 1; k < g.size(); ++k)
      if (std::abs(g[k]) > std::abs(g[at])) at = k;
    const double analytic = g[at];
    double* entry = w.data().data<double>() + at;
    const double saved = *entry, eps = 1e-6;
    *entry = saved + eps;
    const double plus = diotm_regularizer(DiotmRegularizer::Hjb, HjbNorm::Squared, fn, t, z, alpha).item();
    *entry = saved - eps;
    const double minus = diotm_regularizer(DiotmRegularizer::Hjb, HjbNorm::Squared, fn, t, z, alpha).item();
    *entry = saved;
    CHECK(analytic == doctest::Approx((plus - minus) / (2 * eps)).epsilon(1e-6));
    CHECK(std::abs(analytic) > 1e-8);
  }
}

TEST_CASE("ot: DiotmSolver with the conv architecture trains, checkpoints, and refuses the other architecture") {
  DiotmConfig config;
  config.architecture = DiotmArchitecture::Conv;
  config.image = {1, 8, 8};
  config.dim = 64;
  config.conv_channels = 2;
  config.time.dim = 8;
  config.batch = 6;
  config.seed = 5;
  DiotmConfig wrong = config;
  wrong.dim = 63;
  CHECK(contains(error_of([&] { DiotmSolver s(wrong); }), "config 'dim' must be the image's C·H·W = 64"));

  DiotmSolver solver(config);
  Generator data(8);
  auto dark = [&](int64_t n) { return data.uniform({n, 64}, 0.0, 0.3); };
  auto bright = [&](int64_t n) { return data.uniform({n, 64}, 0.7, 1.0); };
  for (int i = 0; i < 3; ++i) {
    const DiotmStepStats stats = solver.step(dark, bright);
    CHECK(std::isfinite(stats.objective));
    CHECK(std::isfinite(stats.regularizer));
  }
  const Tensor x = data.uniform({4, 64}, 0.0, 0.3);
  CHECK(solver.transport(x).shape() == Shape{4, 64});

  const std::filesystem::path path = std::filesystem::temp_directory_path() / "brenier_diotm_conv.safetensors";
  solver.save(path.string());
  DiotmConfig other_seed = config;
  other_seed.seed = 77;
  DiotmSolver back(other_seed);
  back.load(path.string());
  CHECK(back.steps_done() == 3);
  CHECK(back.transport(x).to_vector<float>() == solver.transport(x).to_vector<float>());

  DiotmConfig mlp;
  mlp.dim = 64;
  mlp.map_hidden = {8};
  mlp.potential_hidden = {8};
  mlp.time.dim = 8;
  DiotmSolver other(mlp);
  CHECK(contains(error_of([&] { other.load(path.string()); }),
                 "holds the 'conv 1x8x8 b2' architecture; this solver has 'mlp'"));
  std::filesystem::remove(path);
}
