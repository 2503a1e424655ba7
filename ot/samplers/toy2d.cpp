// The 2-D toy distributions of DIOTM's synthetic experiments (see toy2d.h).
#include "ot/samplers/toy2d.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "engine/error.h"

namespace brenier::ot {
namespace {

constexpr double kPi = std::numbers::pi;

// Draws of one uniform and one normal stream, read as f64 host vectors.
std::vector<double> uniforms(Generator& gen, int64_t n) {
  return gen.uniform({n}, 0.0, 1.0, DType::F64).to_vector<double>();
}
std::vector<double> normals(Generator& gen, int64_t n) {
  return gen.normal({n}, 0.0, 1.0, DType::F64).to_vector<double>();
}

}  // namespace

Tensor sample_toy2d(Toy2d distribution, int64_t n, Generator& gen, DType dtype) {
  BRENIER_CHECK(n >= 1, "sample_toy2d: argument 'n' must be >= 1, got {}", n);
  BRENIER_CHECK(dtype == DType::F32 || dtype == DType::F64, "sample_toy2d: argument 'dtype' must be f32 or f64, got {}",
                dtype_name(dtype));
  std::vector<double> out(static_cast<size_t>(2 * n));
  const std::vector<double> z = normals(gen, 2 * n);  // the noise of every distribution
  auto set = [&](int64_t i, double a, double b) {
    out[static_cast<size_t>(2 * i)] = a;
    out[static_cast<size_t>(2 * i + 1)] = b;
  };
  auto noise = [&](int64_t i, int d) { return z[static_cast<size_t>(2 * i + d)]; };
  switch (distribution) {
    case Toy2d::Gaussian:
      for (int64_t i = 0; i < n; ++i) set(i, noise(i, 0), noise(i, 1));
      break;
    case Toy2d::EightGaussians: {
      const double sd = std::sqrt(0.4);
      for (int64_t i = 0; i < n; ++i) {
        const double angle = 2 * kPi * static_cast<double>(i % 8) / 8;
        set(i, 12 * std::cos(angle) + sd * noise(i, 0), 12 * std::sin(angle) + sd * noise(i, 1));
      }
      break;
    }
    case Toy2d::TwentyFiveGaussians: {
      const double sd = std::sqrt(0.02);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = i % 25;
        set(i, -4.0 + 2.0 * static_cast<double>(k / 5) + sd * noise(i, 0),
            -4.0 + 2.0 * static_cast<double>(k % 5) + sd * noise(i, 1));
      }
      break;
    }
    case Toy2d::Moon: {
      const int64_t first = (n + 1) / 2, second = n - first;
      auto grid = [](int64_t j, int64_t count) {
        return count > 1 ? kPi * static_cast<double>(j) / static_cast<double>(count - 1) : 0.0;
      };
      for (int64_t j = 0; j < first; ++j) {
        const double s = grid(j, first);
        set(j, 10 * (std::cos(s) + 0.5) + 0.5 * noise(j, 0), 10 * (-std::sin(s) + 0.2) + 0.5 * noise(j, 1));
      }
      for (int64_t j = 0; j < second; ++j) {
        const double s = grid(j, second);
        const int64_t i = first + j;
        set(i, 10 * (std::cos(s) - 0.5) + 0.5 * noise(i, 0), 10 * (std::sin(s) - 0.2) + 0.5 * noise(i, 1));
      }
      break;
    }
    case Toy2d::Spiral: {
      const std::vector<double> u = uniforms(gen, n);
      for (int64_t i = 0; i < n; ++i) {
        const double theta = std::sqrt(u[static_cast<size_t>(i)]) * 3 * kPi - kPi / 2, r = theta + kPi;
        set(i, r * std::cos(theta) + 0.25 * noise(i, 0), r * std::sin(theta) + 0.25 * noise(i, 1));
      }
      break;
    }
    case Toy2d::Circles: {
      const std::vector<double> u = uniforms(gen, n);
      for (int64_t i = 0; i < n; ++i) {
        const double radius = i % 2 == 0 ? 8.0 : 4.0, angle = 2 * kPi * u[static_cast<size_t>(i)];
        set(i, radius * std::cos(angle) + 0.2 * noise(i, 0), radius * std::sin(angle) + 0.2 * noise(i, 1));
      }
      break;
    }
  }
  return Tensor::from_vector(out, {n, 2}).to(dtype);
}

Toy2d parse_toy2d(std::string_view name) {
  if (name == "g") return Toy2d::Gaussian;
  if (name == "8g") return Toy2d::EightGaussians;
  if (name == "25g") return Toy2d::TwentyFiveGaussians;
  if (name == "moon") return Toy2d::Moon;
  if (name == "spiral") return Toy2d::Spiral;
  if (name == "circles") return Toy2d::Circles;
  throw Error(fmt::format("parse_toy2d: argument 'name' must be one of g, 8g, 25g, moon, spiral, circles, got '{}'",
                          name));
}

const char* name(Toy2d distribution) {
  switch (distribution) {
    case Toy2d::Gaussian: return "g";
    case Toy2d::EightGaussians: return "8g";
    case Toy2d::TwentyFiveGaussians: return "25g";
    case Toy2d::Moon: return "moon";
    case Toy2d::Spiral: return "spiral";
    case Toy2d::Circles: return "circles";
  }
  return "unknown";
}

Toy2dPair toy2d_pair(std::string_view dataset) {
  if (dataset == "8g") return {Toy2d::Gaussian, Toy2d::EightGaussians};
  if (dataset == "25g") return {Toy2d::Gaussian, Toy2d::TwentyFiveGaussians};
  if (dataset == "moon-spiral") return {Toy2d::Moon, Toy2d::Spiral};
  if (dataset == "circles") return {Toy2d::Gaussian, Toy2d::Circles};
  throw Error(fmt::format(
      "toy2d_pair: argument 'dataset' must be one of 8g, 25g, moon-spiral, circles, got '{}'", dataset));
}

const char* const* toy2d_datasets() {
  static const char* const names[] = {"8g", "25g", "moon-spiral", "circles", nullptr};
  return names;
}

}  // namespace brenier::ot
