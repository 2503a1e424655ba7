// Gaussian mixtures of HOTET's prediction experiment: chunked sampling, Wishart covariances,
// analytic moments and the component-wise Bures ground truth (see gaussian_mixture.h).
#include "ot/samplers/gaussian_mixture.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ot/linalg/dense.h"

namespace brenier::ot {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

GaussianMixture::GaussianMixture(std::vector<Gaussian> components, std::vector<double> weights)
    : components_(std::move(components)), weights_(std::move(weights)) {
  const char* op = "GaussianMixture";
  BRENIER_CHECK(!components_.empty(), "{}: argument 'components' must hold at least one Gaussian, got none", op);
  BRENIER_CHECK(weights_.size() == components_.size(),
                "{}: argument 'weights' must hold one weight per component ({}), got {}", op, components_.size(),
                weights_.size());
  for (const Gaussian& g : components_)
    BRENIER_CHECK(g.dim() == components_.front().dim(),
                  "{}: every component must have dim {} (the first one's), got one of dim {}", op,
                  components_.front().dim(), g.dim());
  for (double w : weights_)
    BRENIER_CHECK(w > 0 && std::isfinite(w), "{}: argument 'weights' must be positive and finite, got {}", op, w);
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (double& w : weights_) w /= total;
}

const Gaussian& GaussianMixture::component(int64_t k) const {
  BRENIER_CHECK(k >= 0 && k < num_components(), "GaussianMixture::component: argument 'k' must be in [0, {}), got {}",
                num_components(), k);
  return components_[static_cast<size_t>(k)];
}

Tensor GaussianMixture::mean() const {
  Eigen::VectorXd m = Eigen::VectorXd::Zero(dim());
  for (size_t k = 0; k < components_.size(); ++k)
    m += weights_[k] * linalg::to_eigen_vector(components_[k].mean(), "GaussianMixture::mean", "mean");
  return linalg::from_eigen(m);
}

Tensor GaussianMixture::cov() const {
  const char* op = "GaussianMixture::cov";
  Eigen::VectorXd m_bar = linalg::to_eigen_vector(mean(), op, "mean");
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(dim(), dim());
  for (size_t k = 0; k < components_.size(); ++k) {
    Eigen::VectorXd m = linalg::to_eigen_vector(components_[k].mean(), op, "mean");
    c += weights_[k] * (linalg::to_eigen_matrix(components_[k].cov(), op, "cov") + m * m.transpose());
  }
  c -= m_bar * m_bar.transpose();
  return linalg::from_eigen(Eigen::MatrixXd(0.5 * (c + c.transpose())));
}

double GaussianMixture::total_variance() const {
  return linalg::to_eigen_matrix(cov(), "GaussianMixture::total_variance", "cov").trace();
}

GaussianMixture::Sample GaussianMixture::sample(int64_t n, Generator& gen, int64_t inner_batch, DType dtype) const {
  const char* op = "GaussianMixture::sample";
  BRENIER_CHECK(n >= 0, "{}: argument 'n' must be >= 0, got {}", op, n);
  BRENIER_CHECK(inner_batch >= 1, "{}: argument 'inner_batch' must be >= 1, got {}", op, inner_batch);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op, dtype_name(dtype));
  const int64_t d = dim();
  if (n == 0) return {Tensor::zeros({0, d}, dtype), Tensor::zeros({0}, DType::I64)};
  const int64_t chunks = (n + inner_batch - 1) / inner_batch;
  const std::vector<int64_t> chunk_component =
      gen.categorical(Tensor::from_vector(weights_), chunks).to_vector<int64_t>();
  std::vector<double> z = gen.normal({n, d}, 0.0, 1.0, DType::F64).to_vector<double>();
  std::vector<int64_t> labels(static_cast<size_t>(n));

  // Per component: the Cholesky factor's transpose and the mean, as Eigen objects.
  std::vector<Eigen::MatrixXd> factor_t;
  std::vector<Eigen::RowVectorXd> means;
  for (const Gaussian& g : components_) {
    factor_t.push_back(linalg::to_eigen_matrix(g.cholesky(), op, "cholesky").transpose());
    means.push_back(linalg::to_eigen_vector(g.mean(), op, "mean").transpose());
  }
  Eigen::Map<RowMatrix> points(z.data(), n, d);  // rows: z, overwritten in place by m_k + z L_kᵀ
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t start = c * inner_batch, rows = std::min(inner_batch, n - start);
    const size_t k = static_cast<size_t>(chunk_component[static_cast<size_t>(c)]);
    RowMatrix block = points.middleRows(start, rows) * factor_t[k];
    block.rowwise() += means[k];
    points.middleRows(start, rows) = block;
    std::fill(labels.begin() + start, labels.begin() + start + rows, static_cast<int64_t>(k));
  }
  return {Tensor::from_vector(z, {n, d}).to(dtype), Tensor::from_vector(labels, {n})};
}

Tensor sample_wishart(int64_t dim, int64_t df, Generator& gen) {
  const char* op = "sample_wishart";
  BRENIER_CHECK(dim >= 1, "{}: argument 'dim' must be >= 1, got {}", op, dim);
  BRENIER_CHECK(df >= dim, "{}: argument 'df' must be >= dim ({}) for a positive definite draw, got {}", op, dim, df);
  Eigen::MatrixXd g = linalg::to_eigen_matrix(gen.normal({dim, df}, 0.0, 1.0, DType::F64), op, "g");
  Eigen::MatrixXd s = g * g.transpose();
  return linalg::from_eigen(Eigen::MatrixXd(0.5 * (s + s.transpose())));
}

GaussianMixture random_gaussian_mixture(int64_t dim, Generator& gen, const RandomMixtureOptions& options) {
  const char* op = "random_gaussian_mixture";
  BRENIER_CHECK(dim >= 1, "{}: argument 'dim' must be >= 1, got {}", op, dim);
  BRENIER_CHECK(!options.weights.empty(), "{}: option 'weights' must hold at least one weight", op);
  BRENIER_CHECK(std::isfinite(options.mean_low) && std::isfinite(options.mean_high) &&
                    options.mean_low <= options.mean_high,
                "{}: options 'mean_low' <= 'mean_high' must be finite, got [{}, {}]", op, options.mean_low,
                options.mean_high);
  BRENIER_CHECK(options.extra_degrees_of_freedom >= 0, "{}: option 'extra_degrees_of_freedom' must be >= 0, got {}",
                op, options.extra_degrees_of_freedom);
  std::vector<Gaussian> components;
  for (size_t k = 0; k < options.weights.size(); ++k) {
    Tensor m = gen.uniform({dim}, options.mean_low, options.mean_high, DType::F64);
    Tensor s = sample_wishart(dim, dim + options.extra_degrees_of_freedom, gen);
    components.emplace_back(m, s);
  }
  return GaussianMixture(std::move(components), options.weights);
}

ComponentwiseBuresMap::ComponentwiseBuresMap(const GaussianMixture& source, const GaussianMixture& target) {
  BRENIER_CHECK(source.dim() == target.dim() && source.num_components() == target.num_components(),
                "ComponentwiseBuresMap: 'source' and 'target' must share dim and component count, got dim {} with "
                "{} components and dim {} with {}",
                source.dim(), source.num_components(), target.dim(), target.num_components());
  for (int64_t k = 0; k < source.num_components(); ++k)
    maps_.push_back(bures_map(source.component(k), target.component(k)));
}

Tensor ComponentwiseBuresMap::apply(const Tensor& x, const Tensor& components) const {
  const char* op = "ComponentwiseBuresMap::apply";
  check_defined(x, op, "x");
  check_defined(components, op, "components");
  const int64_t d = maps_.front().dim();
  BRENIER_CHECK(is_floating(x.dtype()) && x.dim() == 2 && x.size(1) == d,
                "{}: argument 'x' must be a floating [n, {}] batch, got {}", op, d, x.str());
  BRENIER_CHECK(components.dtype() == DType::I64 && components.shape() == Shape{x.size(0)},
                "{}: argument 'components' must be i64 [{}] (one component per row of x), got {}", op, x.size(0),
                components.str());
  const int64_t n = x.size(0);
  std::vector<double> values = x.to(DType::F64).to_vector<double>();
  const std::vector<int64_t> labels = components.to_vector<int64_t>();
  std::vector<Eigen::MatrixXd> matrix_t;
  std::vector<Eigen::RowVectorXd> offsets;
  for (const AffineMap& m : maps_) {
    matrix_t.push_back(linalg::to_eigen_matrix(m.matrix, op, "matrix").transpose());
    offsets.push_back(linalg::to_eigen_vector(m.offset, op, "offset").transpose());
  }
  Eigen::Map<RowMatrix> rows(values.data(), n, d);
  // Runs of equal labels (chunks) are mapped with one product each.
  for (int64_t start = 0; start < n;) {
    const int64_t k = labels[static_cast<size_t>(start)];
    BRENIER_CHECK(k >= 0 && k < static_cast<int64_t>(maps_.size()),
                  "{}: argument 'components' must hold values in [0, {}), got {} at row {}", op, maps_.size(), k, start);
    int64_t stop = start + 1;
    while (stop < n && labels[static_cast<size_t>(stop)] == k) ++stop;
    RowMatrix block = rows.middleRows(start, stop - start) * matrix_t[static_cast<size_t>(k)];
    block.rowwise() += offsets[static_cast<size_t>(k)];
    rows.middleRows(start, stop - start) = block;
    start = stop;
  }
  return Tensor::from_vector(values, {n, d}).to(x.dtype());
}

Tensor ComponentwiseBuresMap::conditional_mean(const GaussianMixture& source, const Tensor& x) const {
  const char* op = "ComponentwiseBuresMap::conditional_mean";
  check_defined(x, op, "x");
  const int64_t d = maps_.front().dim(), n = x.dim() == 2 ? x.size(0) : 0;
  BRENIER_CHECK(is_floating(x.dtype()) && x.dim() == 2 && x.size(1) == d,
                "{}: argument 'x' must be a floating [n, {}] batch, got {}", op, d, x.str());
  BRENIER_CHECK(source.dim() == d && source.num_components() == static_cast<int64_t>(maps_.size()),
                "{}: argument 'source' must have dim {} and {} components (the map's), got dim {} and {}", op, d,
                maps_.size(), source.dim(), source.num_components());
  std::vector<double> values = x.to(DType::F64).to_vector<double>();
  Eigen::Map<RowMatrix> rows(values.data(), n, d);
  const size_t k_count = maps_.size();
  // log(w_k N(x; m_k, Σ_k)) up to the shared constant, via the Cholesky factor: ‖L⁻¹(x − m)‖².
  Eigen::MatrixXd log_p(n, static_cast<Eigen::Index>(k_count));
  std::vector<RowMatrix> mapped;
  for (size_t k = 0; k < k_count; ++k) {
    const Gaussian& g = source.component(static_cast<int64_t>(k));
    const Eigen::MatrixXd l = linalg::to_eigen_matrix(g.cholesky(), op, "cholesky");
    const Eigen::RowVectorXd m = linalg::to_eigen_vector(g.mean(), op, "mean").transpose();
    RowMatrix centered = rows.rowwise() - m;
    const Eigen::MatrixXd z = l.triangularView<Eigen::Lower>().solve(centered.transpose());  // [D, n]
    const double log_det = 2.0 * l.diagonal().array().log().sum();
    log_p.col(static_cast<Eigen::Index>(k)) =
        (-0.5 * z.colwise().squaredNorm().array() - 0.5 * log_det + std::log(source.weights()[k])).transpose();
    RowMatrix t = rows * linalg::to_eigen_matrix(maps_[k].matrix, op, "matrix").transpose();
    t.rowwise() += linalg::to_eigen_vector(maps_[k].offset, op, "offset").transpose();
    mapped.push_back(std::move(t));
  }
  RowMatrix out = RowMatrix::Zero(n, d);
  for (int64_t i = 0; i < n; ++i) {
    const double top = log_p.row(i).maxCoeff();
    const Eigen::RowVectorXd p = (log_p.row(i).array() - top).exp().matrix();
    const double total = p.sum();
    for (size_t k = 0; k < k_count; ++k) out.row(i) += (p(static_cast<Eigen::Index>(k)) / total) * mapped[k].row(i);
  }
  std::vector<double> result(out.data(), out.data() + n * d);
  return Tensor::from_vector(result, {n, d}).to(x.dtype());
}

ComponentwiseBuresMap ComponentwiseBuresMap::inverse() const {
  std::vector<AffineMap> inverses;
  for (const AffineMap& m : maps_) inverses.push_back(m.inverse());
  return ComponentwiseBuresMap(std::move(inverses));
}

}  // namespace brenier::ot
