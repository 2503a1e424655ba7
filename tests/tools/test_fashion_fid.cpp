// Fashion-MNIST's IDX reader (tools/common/fashion_mnist.h) on tiny synthetic files, gzip and plain, and its
// errors (missing, truncated, bad magic, count mismatch, damaged gzip, trailing bytes, bad label); and the
// Fréchet distance of tools/common/feature_fid.h against closed forms for known Gaussians, plus the feature
// classifier's cache (save, reload with the same key, refuse another key).
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "tests/support/errors.h"
#include "tools/common/fashion_mnist.h"
#include "tools/common/feature_fid.h"

namespace fs = std::filesystem;
using namespace brenier;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("brenier-test-fashion-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// IDX bytes: 00 00 08 <ndim>, big-endian u32 dims, data.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string s = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

void write_raw(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// n images whose pixel p of image i is (7i + p) mod 256; labels i mod 10.
std::vector<uint8_t> image_data(uint32_t n) {
  std::vector<uint8_t> v(static_cast<size_t>(n) * 784);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((7 * (i / 784) + i % 784) % 256);
  return v;
}
std::vector<uint8_t> label_data(uint32_t n) {
  std::vector<uint8_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 10);
  return v;
}

void write_split(const fs::path& dir, const std::string& prefix, uint32_t n, bool gz) {
  const std::string images = idx_bytes({n, 28, 28}, image_data(n)), labels = idx_bytes({n}, label_data(n));
  if (gz) {
    write_gz(dir / (prefix + "-images-idx3-ubyte.gz"), images);
    write_gz(dir / (prefix + "-labels-idx1-ubyte.gz"), labels);
  } else {
    write_raw(dir / (prefix + "-images-idx3-ubyte"), images);
    write_raw(dir / (prefix + "-labels-idx1-ubyte"), labels);
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("fashion-mnist: gzip and plain IDX files give the same pixels / 255 and labels") {
  for (bool gz : {true, false}) {
    CAPTURE(gz);
    TempDir dir;
    write_split(dir.path, "train", 5, gz);
    write_split(dir.path, "t10k", 3, gz);
    const tools::FashionMnist train = tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Train);
    CHECK(train.images.shape() == Shape{5, 1, 28, 28});
    CHECK(train.images.dtype() == DType::F32);
    CHECK(train.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
    const std::vector<float> px = train.images.to_vector<float>();
    for (size_t i : {size_t{0}, size_t{1}, size_t{783}, size_t{784}, size_t{3 * 784 + 300}})
      CHECK(px[i] == doctest::Approx(((7 * (i / 784) + i % 784) % 256) / 255.0).epsilon(1e-7));
    const tools::FashionMnist test = tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Test);
    CHECK(test.images.size(0) == 3);
    // limit takes the first items.
    const tools::FashionMnist two = tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Train, 2);
    CHECK(two.images.shape() == Shape{2, 1, 28, 28});
    CHECK(two.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  }
}

TEST_CASE("fashion-mnist: missing files say how to install the package") {
  TempDir dir;
  const std::string e =
      error_of([&] { tools::load_fashion_mnist(dir.path / "nowhere", tools::FashionMnistSplit::Train); });
  CHECK(contains(e, "apt-get install dataset-fashion-mnist"));
  CHECK(contains(e, "--data"));
  CHECK(contains(e, "train-images-idx3-ubyte"));
  // Images present, labels missing: names the missing labels file.
  write_raw(dir.path / "t10k-images-idx3-ubyte", idx_bytes({2, 28, 28}, image_data(2)));
  CHECK(contains(error_of([&] { tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Test); }),
                 "t10k-labels-idx1-ubyte"));
}

TEST_CASE("fashion-mnist: truncated, bad magic, trailing bytes, damaged gzip, count mismatch, bad labels") {
  TempDir dir;
  const fs::path raw = dir.path / "a-idx3-ubyte", gz = dir.path / "b-idx3-ubyte.gz";
  const std::string good = idx_bytes({4, 28, 28}, image_data(4));

  write_raw(raw, good.substr(0, good.size() - 10));
  std::string e = error_of([&] { tools::read_idx_file(raw); });
  CHECK(contains(e, "truncated"));
  CHECK(contains(e, raw.string()));

  write_raw(raw, good.substr(0, 6));
  CHECK(contains(error_of([&] { tools::read_idx_file(raw); }), "ends inside the IDX header"));

  // A gzip stream cut short: zlib's unexpected end of file, or short data.
  write_gz(gz, good);
  const std::string packed = read_all(gz);
  write_raw(gz, packed.substr(0, packed.size() / 2));
  e = error_of([&] { tools::read_idx_file(gz); });
  CHECK(!e.empty());
  CHECK(contains(e, gz.string()));

  // A gzip header followed by garbage.
  write_raw(gz, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) + std::string(200, '\x5a'));
  e = error_of([&] { tools::read_idx_file(gz); });
  CHECK(!e.empty());
  CHECK(contains(e, gz.string()));

  std::string bad = good;
  bad[0] = '\x12';
  write_raw(raw, bad);
  e = error_of([&] { tools::read_idx_file(raw); });
  CHECK(contains(e, "bad magic number"));
  CHECK(contains(e, raw.string()));
  bad = good;
  bad[2] = '\x0d';  // IDX float type
  write_raw(raw, bad);
  CHECK(contains(error_of([&] { tools::read_idx_file(raw); }), "only unsigned bytes"));

  write_raw(raw, good + "xy");
  CHECK(contains(error_of([&] { tools::read_idx_file(raw); }), "more bytes than its IDX header"));

  // The whole-file round trip works (control).
  write_raw(raw, good);
  CHECK(tools::read_idx_file(raw).dims == std::vector<int64_t>{4, 28, 28});

  // Count mismatch between images and labels, wrong image size, a label outside 0..9.
  write_raw(dir.path / "train-images-idx3-ubyte", good);
  write_raw(dir.path / "train-labels-idx1-ubyte", idx_bytes({3}, label_data(3)));
  e = error_of([&] { tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Train); });
  CHECK(contains(e, "count mismatch"));
  CHECK(contains(e, "4 images"));
  CHECK(contains(e, "3 labels"));
  write_raw(dir.path / "train-labels-idx1-ubyte", idx_bytes({4}, {1, 2, 10, 3}));
  CHECK(contains(error_of([&] { tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Train); }), "label 10"));
  write_raw(dir.path / "train-images-idx3-ubyte", idx_bytes({4, 14, 56}, image_data(4)));
  CHECK(
      contains(error_of([&] { tools::load_fashion_mnist(dir.path, tools::FashionMnistSplit::Train); }), "[N, 28, 28]"));
}

namespace {

tools::GaussianFit fit_of(const std::vector<double>& mean, const std::vector<double>& cov) {
  const auto d = static_cast<int64_t>(mean.size());
  return {Tensor::from_vector(mean), Tensor::from_vector(cov, {d, d}), 1000};
}

}  // namespace

TEST_CASE("frechet distance: closed forms for commuting and non-commuting Gaussians") {
  // Commuting: Σ1 = R diag(a) Rᵀ, Σ2 = R diag(b) Rᵀ (R a rotation by 0.3):
  // d² = ‖m1 − m2‖² + Σ (√a_i − √b_i)².
  const double c = std::cos(0.3), s = std::sin(0.3);
  auto rotated = [&](double a0, double a1) {
    return std::vector<double>{c * c * a0 + s * s * a1, c * s * (a0 - a1), c * s * (a0 - a1), s * s * a0 + c * c * a1};
  };
  const double d_commuting = tools::frechet_distance(fit_of({1, 2}, rotated(4, 1)), fit_of({0, 0}, rotated(9, 0.25)));
  CHECK(d_commuting == doctest::Approx(5 + 1 + 0.25).epsilon(1e-10));

  // Non-commuting 2×2: the eigenvalues of Σ1^{1/2}Σ2Σ1^{1/2} are those of Σ1Σ2, and for a 2×2 PSD P,
  // tr √P = √(tr P + 2√det P); so d² = ‖Δm‖² + tr Σ1 + tr Σ2 − 2√(tr(Σ1Σ2) + 2√(det Σ1 det Σ2)).
  const std::vector<double> s1 = {2.0, 0.6, 0.6, 1.0}, s2 = {0.5, -0.2, -0.2, 3.0};
  const double tr12 = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
  const double det1 = s1[0] * s1[3] - s1[1] * s1[2], det2 = s2[0] * s2[3] - s2[1] * s2[2];
  const double expected = 0.25 + 1.0 + 3.0 + 3.5 - 2 * std::sqrt(tr12 + 2 * std::sqrt(det1 * det2));
  CHECK(tools::frechet_distance(fit_of({0.5, 0}, s1), fit_of({0, 1}, s2)) == doctest::Approx(expected).epsilon(1e-10));
  // Symmetric in its arguments.
  CHECK(tools::frechet_distance(fit_of({0, 1}, s2), fit_of({0.5, 0}, s1)) == doctest::Approx(expected).epsilon(1e-10));
  // A singular covariance (a dead feature) is allowed: Σ1 = diag(4, 0), Σ2 = diag(1, 1) commute.
  CHECK(tools::frechet_distance(fit_of({0, 0}, {4, 0, 0, 0}), fit_of({0, 0}, {1, 0, 0, 1})) ==
        doctest::Approx(1 + 1).epsilon(1e-10));
}

TEST_CASE("frechet distance: the fit is the sample mean and unbiased covariance; identical sets give 0") {
  // Rows (0, 0), (2, 0), (1, 3): mean (1, 1); centred (−1, −1), (1, −1), (0, 2); cov = [[1, 0], [0, 3]].
  const Tensor x = Tensor::from_vector(std::vector<double>{0, 0, 2, 0, 1, 3}, {3, 2});
  const tools::GaussianFit fit = tools::fit_gaussian(x);
  CHECK(fit.mean.to_vector<double>() == std::vector<double>{1, 1});
  const std::vector<double> cov = fit.cov.to_vector<double>();
  CHECK(cov[0] == doctest::Approx(1.0));
  CHECK(cov[1] == doctest::Approx(0.0));
  CHECK(cov[3] == doctest::Approx(3.0));

  Generator gen(5);
  const Tensor a = gen.normal({400, 6}, 0.0, 1.0, DType::F64);
  CHECK(tools::frechet_distance(a, a) < 1e-9);
  // Shifting every row by v adds ‖v‖² exactly.
  const Tensor shifted = (Var(a) + 0.5).data();
  CHECK(tools::frechet_distance(a, shifted) == doctest::Approx(6 * 0.25).epsilon(1e-9));
  // Large samples of N(0, I) and N(0, 4I) in 3-D: d² → 3 (2 − 1)² = 3 (sampling error ~ 1/√N).
  const Tensor p = gen.normal({20000, 3}, 0.0, 1.0, DType::F64), q = gen.normal({20000, 3}, 0.0, 2.0, DType::F64);
  CHECK(tools::frechet_distance(p, q) == doctest::Approx(3.0).epsilon(0.05));
  CHECK(!error_of([&] { tools::fit_gaussian(Tensor::from_vector(std::vector<double>{1, 2}, {1, 2})); }).empty());
}

TEST_CASE("feature classifier: features, cache round trip, and a cache made for other data is not used") {
  Generator gen(3);
  tools::FeatureClassifier model(gen);
  const Tensor images = gen.uniform({6, 1, 28, 28});
  model.train(false);
  const Tensor f = tools::classifier_features(model, images);
  CHECK(f.shape() == Shape{6, tools::FeatureClassifier::kFeatures});
  CHECK(f.dtype() == DType::F64);
  TempDir dir;
  const fs::path path = dir.path / "clf.safetensors";
  tools::save_feature_classifier(path, model, {{"data", "abc"}, {"epochs", "2"}});

  Generator other_gen(99);
  tools::FeatureClassifier other(other_gen);
  CHECK(!tools::load_feature_classifier(path, other, {{"data", "xyz"}}).has_value());
  CHECK(!tools::load_feature_classifier(dir.path / "none.safetensors", other, {}).has_value());
  const auto meta = tools::load_feature_classifier(path, other, {{"data", "abc"}});
  REQUIRE(meta.has_value());
  CHECK(meta->at("epochs") == "2");
  const std::vector<double> a = f.to_vector<double>(),
                            b = tools::classifier_features(other, images).to_vector<double>();
  CHECK(a == b);
  write_raw(path, "garbage");
  CHECK(!error_of([&] { tools::load_feature_classifier(path, other, {}); }).empty());
}
