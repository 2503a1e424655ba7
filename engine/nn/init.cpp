// Weight initializers (see init.h). Random values are drawn in the tensor's own dtype and device
// and then copied into its storage, so the fill is in place.
#include "engine/nn/init.h"

#include <cmath>
#include <vector>

namespace brenier::nn::init {
namespace {

void check_float(const Tensor& t, const char* op) {
  check_defined(t, op, "t");
  BRENIER_CHECK(is_floating(t.dtype()), "{}: argument 't' must be f32 or f64, got {}", op, t.str());
}

int64_t fan_of(const Tensor& t, FanMode mode, const char* op) {
  BRENIER_CHECK(t.dim() >= 2, "{}: argument 't' must have at least 2 dims to have a fan, got {}", op, t.str());
  Fans f = fans(t);
  int64_t fan = mode == FanMode::FanIn ? f.fan_in : f.fan_out;
  BRENIER_CHECK(fan > 0, "{}: argument 't' has a zero {} ({})", op,
                mode == FanMode::FanIn ? "fan_in" : "fan_out", t.str());
  return fan;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double a) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::Relu: return std::sqrt(2.0);
    case Nonlinearity::LeakyRelu: return std::sqrt(2.0 / (1.0 + a * a));
  }
  return 1.0;
}

Fans fans(const Tensor& t) {
  check_defined(t, "fans", "t");
  BRENIER_CHECK(t.dim() >= 2, "fans: argument 't' must have at least 2 dims, got {}", t.str());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

void uniform_(Tensor& t, Generator& gen, double a, double b) {
  check_float(t, "uniform_");
  BRENIER_CHECK(std::isfinite(a) && std::isfinite(b) && a <= b,
                "uniform_: arguments 'a' and 'b' must be finite with a <= b, got a = {}, b = {}", a, b);
  t.copy_from(gen.uniform(t.shape(), a, b, t.dtype(), t.device()));
}

void normal_(Tensor& t, Generator& gen, double mean, double std) {
  check_float(t, "normal_");
  BRENIER_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0,
                "normal_: argument 'std' must be finite and >= 0 (and 'mean' finite), got mean = {}, std = {}",
                mean, std);
  t.copy_from(gen.normal(t.shape(), mean, std, t.dtype(), t.device()));
}

void constant_(Tensor& t, double value) {
  check_float(t, "constant_");
  t.fill_(value);
}
void zeros_(Tensor& t) { constant_(t, 0.0); }
void ones_(Tensor& t) { constant_(t, 1.0); }

void xavier_uniform_(Tensor& t, Generator& gen, double gain) {
  check_float(t, "xavier_uniform_");
  Fans f = fans(t);
  BRENIER_CHECK(f.fan_in + f.fan_out > 0, "xavier_uniform_: argument 't' is empty ({})", t.str());
  double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform_(t, gen, -bound, bound);
}

void xavier_normal_(Tensor& t, Generator& gen, double gain) {
  check_float(t, "xavier_normal_");
  Fans f = fans(t);
  BRENIER_CHECK(f.fan_in + f.fan_out > 0, "xavier_normal_: argument 't' is empty ({})", t.str());
  normal_(t, gen, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)));
}

void kaiming_uniform_(Tensor& t, Generator& gen, double a, FanMode mode, Nonlinearity nonlinearity) {
  check_float(t, "kaiming_uniform_");
  double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan_of(t, mode, "kaiming_uniform_")));
  uniform_(t, gen, -std::sqrt(3.0) * std, std::sqrt(3.0) * std);
}

void kaiming_normal_(Tensor& t, Generator& gen, double a, FanMode mode, Nonlinearity nonlinearity) {
  check_float(t, "kaiming_normal_");
  double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan_of(t, mode, "kaiming_normal_")));
  normal_(t, gen, 0.0, std);
}

void orthogonal_(Tensor& t, Generator& gen, double gain) {
  check_float(t, "orthogonal_");
  BRENIER_CHECK(t.dim() >= 2, "orthogonal_: argument 't' must have at least 2 dims, got {}", t.str());
  if (t.numel() == 0) return;
  const int64_t rows = t.size(0), cols = t.numel() / rows;
  // Factor the tall orientation A [m, n], m >= n: A = QR, then Q (or Qᵀ for a wide t) is the result.
  const bool wide = rows < cols;
  const int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  std::vector<double> a = gen.normal({rows, cols}, 0.0, 1.0, DType::F64).to_vector<double>();
  auto at = [&](int64_t i, int64_t j) -> double& {  // A[i][j] in the tall orientation
    return wide ? a[j * cols + i] : a[i * cols + j];
  };
  // Modified Gram–Schmidt, each column orthogonalized twice ("twice is enough") so Q is
  // orthonormal to rounding even for nearly dependent columns. Dividing by the positive norm
  // makes diag(R) > 0, which is exactly PyTorch's sign correction of a Householder QR.
  for (int64_t j = 0; j < n; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t k = 0; k < j; ++k) {
        double r = 0;
        for (int64_t i = 0; i < m; ++i) r += at(i, k) * at(i, j);
        for (int64_t i = 0; i < m; ++i) at(i, j) -= r * at(i, k);
      }
    }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += at(i, j) * at(i, j);
    norm = std::sqrt(norm);
    BRENIER_CHECK(norm > 0, "orthogonal_: the random matrix was rank deficient (column {}); draw again", j);
    for (int64_t i = 0; i < m; ++i) at(i, j) /= norm;
  }
  for (double& v : a) v *= gain;
  t.copy_from(Tensor::from_vector(a, t.shape()));
}

}  // namespace brenier::nn::init
