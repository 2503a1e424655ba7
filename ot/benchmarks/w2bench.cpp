// Loading the W2 benchmark's Mix3toMix10 pair from shared/data/w2bench, its chunked ψ and T*, and
// the Mix3 sampler (see w2bench.h).
#include "ot/benchmarks/w2bench.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/io/npy.h"
#include "engine/nn/functional.h"
#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLoad = "load_w2bench";
constexpr double kStrongConvexity = 1e-2;  // the benchmark loader's value; not stored in the checkpoints

std::string dim_folder_name(int64_t dim) { return fmt::format("dim{:03d}", dim); }

// The dims that the manifest describes and whose folder exists.
std::vector<int64_t> available_dims(const nlohmann::json& manifest, const fs::path& root) {
  std::vector<int64_t> dims;
  if (!manifest.contains("dims") || !manifest["dims"].is_object()) return dims;
  for (const auto& [key, entry] : manifest["dims"].items()) {
    (void)entry;
    const int64_t d = std::stoll(key);
    if (fs::is_directory(root / "mix3tomix10" / dim_folder_name(d))) dims.push_back(d);
  }
  std::sort(dims.begin(), dims.end());
  return dims;
}

// Throws listing every file of `names` missing under `folder`.
void require_files(const fs::path& folder, const std::vector<std::string>& names, int64_t dim,
                   const std::vector<int64_t>& dims) {
  std::vector<std::string> missing;
  for (const std::string& name : names)
    if (!fs::is_regular_file(folder / name)) missing.push_back(name);
  BRENIER_CHECK(missing.empty(), "{}: dim {} is incomplete in '{}': missing {}; available dims: {}", kLoad, dim,
                folder.string(), fmt::join(missing, ", "), fmt::join(dims, ", "));
}

// One DenseICNN from <folder>/<name>.npy, its sizes read off the quadratic layers' shapes.
std::shared_ptr<DenseIcnn> load_potential(const fs::path& folder, int64_t dim, DType dtype,
                                          const std::vector<int64_t>& dims) {
  std::vector<Tensor> factors;
  for (int l = 0; fs::is_regular_file(folder / fmt::format("quadratic_layers.{}.quadratic_decomposed.npy", l)); ++l)
    factors.push_back(io::load_npy((folder / fmt::format("quadratic_layers.{}.quadratic_decomposed.npy", l)).string()));
  BRENIER_CHECK(!factors.empty(), "{}: dim {} is incomplete: '{}' holds no quadratic_layers.0.quadratic_decomposed.npy; "
                "available dims: {}", kLoad, dim, folder.string(), fmt::join(dims, ", "));
  DenseIcnnConfig config;
  config.dim = dim;
  config.strong_convexity = kStrongConvexity;
  config.hidden.clear();
  for (const Tensor& a : factors) {
    BRENIER_CHECK(a.dim() == 3 && a.size(0) == dim && a.size(1) == factors[0].size(1),
                  "{}: '{}' must hold quadratic factors [{}, rank, h], got {}", kLoad, folder.string(), dim, a.str());
    config.hidden.push_back(a.size(2));
  }
  config.rank = factors[0].size(1);
  Generator unused(0);  // the random init is overwritten by the checkpoint
  auto net = std::make_shared<DenseIcnn>(config, unused, dtype);
  std::vector<std::string> files;
  for (const auto& [name, p] : net->named_parameters()) files.push_back(name + ".npy");
  require_files(folder, files, dim, dims);
  nn::NamedTensors state;
  for (const auto& [name, p] : net->named_parameters()) state.emplace_back(name, io::load_npy((folder / (name + ".npy")).string()));
  net->load_state_dict(state);  // strict: shapes checked, f32 converted to dtype
  return net;
}

Tensor load_checked(const fs::path& path, const Shape& shape, DType dtype) {
  Tensor t = io::load_npy(path.string());
  BRENIER_CHECK(t.shape() == shape, "{}: '{}' must hold {}, got {}", kLoad, path.string(), shape_str(shape), t.str());
  return t.to(dtype);
}

// celu'(u) = 1 for u > 0, exp(u) otherwise, i.e. exp(min(u, 0)).
Var celu_derivative(const Var& u) { return exp(-relu(-u)); }

// ∇D(x) of one DenseICNN by the closed-form reverse pass of the shared README: d_l = ∂D/∂q_l, then
// ∇D = s·x + Σ_l [d_l W_l + (2 p_l ⊙ d_l) A_lᵀ] with p_l = x A_l (A_l viewed as [D, rank·h_l]).
// Run under no-grad: no tape, so it is cheaper than differentiating the recorded forward.
Var potential_gradient(const Var& x, const DenseIcnnWeights& w, double s) {
  const size_t layers = w.quadratic.size();
  const int64_t dim = x.size(1), rank = w.quadratic[0].size(1);
  std::vector<Var> factors(layers), projections(layers), pre_activations(layers);
  Var z;
  for (size_t l = 0; l < layers; ++l) {
    factors[l] = reshape(w.quadratic[l], {dim, -1});
    projections[l] = matmul(x, factors[l]);
    Var squares = square(projections[l]);
    if (rank > 1) squares = sum(reshape(squares, {-1, rank, w.quadratic[l].size(2)}), {1});
    Var q = squares + nn::linear(x, w.linear[l], w.bias[l]);
    if (l == 0) {
      z = q;
    } else {
      pre_activations[l] = nn::linear(z, w.convex[l - 1]) + q;
      z = celu(pre_activations[l]);
    }
  }
  Var d = broadcast_to(w.final_layer, z.shape());  // ∂D/∂z_{L−1}
  Var g = s * x;
  for (size_t l = layers; l-- > 0;) {
    if (l >= 1) d = d * celu_derivative(pre_activations[l]);  // now ∂D/∂q_l (= ∂D/∂u_l)
    const int64_t h = d.size(1);
    Var doubled = reshape(2.0 * reshape(projections[l], {-1, rank, h}) * unsqueeze(d, 1), {-1, rank * h});
    g = g + matmul(d, w.linear[l]) + matmul(doubled, transpose(factors[l]));
    if (l >= 1) d = matmul(d, w.convex[l - 1]);  // ∂D/∂z_{l−1}
  }
  return g;
}

// Applies `f` to row chunks of x (converted to dtype, moved to `device`) under no-grad and concatenates
// the results on x's device.
template <class F>
Tensor chunked(const Tensor& x, int64_t dim, DType dtype, Device device, const char* op, F&& f) {
  check_defined(x, op, "x");
  BRENIER_CHECK(is_floating(x.dtype()) && x.dim() == 2 && x.size(1) == dim,
                "{}: argument 'x' must be a floating [n, {}] batch, got {}", op, dim, x.str());
  NoGradGuard no_grad;
  Var input(x.to(dtype).to(device));
  const int64_t n = x.size(0);
  if (n <= W2Benchmark::kChunkRows) return f(input).data().to(x.device());
  std::vector<Var> parts;
  for (int64_t start = 0; start < n; start += W2Benchmark::kChunkRows)
    parts.push_back(f(slice(input, 0, start, std::min(n, start + W2Benchmark::kChunkRows))));
  return concat(parts, 0).data().to(x.device());
}

}  // namespace

const std::vector<int64_t>& w2bench_dims() {
  static const std::vector<int64_t> dims{2, 4, 8, 16, 32, 64, 128};
  return dims;
}

Tensor W2Benchmark::psi(const Tensor& x) const {
  Var shift(shift_.reshape({dim_, 1}).to(device_));
  return chunked(x, dim_, dtype_, device_, "W2Benchmark::psi", [&](const Var& xs) {
    return scale_ * (v1_->forward(xs) + v2_->forward(xs) - reshape(matmul(xs, shift), {-1}));
  });
}

Tensor W2Benchmark::map(const Tensor& x) const {
  Var shift(shift_.to(device_));
  return chunked(x, dim_, dtype_, device_, "W2Benchmark::map", [&](const Var& xs) {
    return scale_ * (potential_gradient(xs, v1_->weights(), kStrongConvexity) +
                     potential_gradient(xs, v2_->weights(), kStrongConvexity) - shift);
  });
}

void W2Benchmark::to(Device device) {
  v1_->to(device);
  v2_->to(device);
  device_ = device;
}

Tensor W2Benchmark::sample_source(int64_t n, Generator& gen) const {
  BRENIER_CHECK(n >= 1, "W2Benchmark::sample_source: argument 'n' must be >= 1, got {}", n);
  // Every point is drawn from all three components, then one is kept per row: three [n, D] matmuls
  // are cheaper than gathering a [D, D] matrix per row.
  Tensor component = gen.randint({n}, 0, 3);
  Tensor z = gen.normal({n, dim_}, 0.0, 1.0, dtype_);
  NoGradGuard no_grad;
  Var zs(z), maps(maps_), centers(centers_), pick(one_hot(component, 3, dtype_));
  Var x;
  for (int64_t k = 0; k < 3; ++k) {
    Var map_k = reshape(slice(maps, 0, k, k + 1), {dim_, dim_});
    Var from_k = 0.4 * matmul(zs, transpose(map_k)) + slice(centers, 0, k, k + 1);
    Var kept = slice(pick, 1, k, k + 1) * from_k;
    x = k == 0 ? kept : x + kept;
  }
  return x.data();
}

W2Benchmark::Pair W2Benchmark::sample_pair(int64_t n, Generator& gen) const {
  Tensor x = sample_source(n, gen);
  return {x, map(x)};
}

W2Benchmark load_w2bench(int64_t dim, const std::string& shared_dir, DType dtype) {
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", kLoad, dtype_name(dtype));
  BRENIER_CHECK(fs::is_directory(shared_dir),
                "{}: shared data folder '{}' (argument 'shared_dir') does not exist; point BRENIER_SHARED (or the "
                "argument) at the folder that holds data/w2bench",
                kLoad, shared_dir);
  const fs::path root = fs::path(shared_dir) / "data" / "w2bench";
  const fs::path manifest_path = root / "manifest.json";
  BRENIER_CHECK(fs::is_regular_file(manifest_path),
                "{}: '{}' not found: the shared folder '{}' does not hold the W2 benchmark export (check BRENIER_SHARED)",
                kLoad, manifest_path.string(), shared_dir);
  nlohmann::json manifest;
  try {
    std::ifstream in(manifest_path);
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: '{}' is not valid JSON: {}", kLoad, manifest_path.string(), e.what()));
  }
  const std::vector<int64_t> dims = available_dims(manifest, root);
  const fs::path folder = root / "mix3tomix10" / dim_folder_name(dim);
  BRENIER_CHECK(std::find(dims.begin(), dims.end(), dim) != dims.end(),
                "{}: argument 'dim' must be one of the shipped dims {}, got {} (no folder '{}' with a manifest entry)",
                kLoad, fmt::join(dims, ", "), dim, folder.string());
  require_files(folder, {"source_centers.npy", "source_maps.npy", "shift.npy"}, dim, dims);

  const nlohmann::json& entry = manifest["dims"][std::to_string(dim)];
  double scale = 0;
  try {
    scale = entry.at("standardization").at("scale").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: '{}' must hold a number at dims.{}.standardization.scale: {}", kLoad,
                            manifest_path.string(), dim, e.what()));
  }
  BRENIER_CHECK(std::isfinite(scale) && scale > 0, "{}: dims.{}.standardization.scale in '{}' must be finite and > 0, got {}",
                kLoad, dim, manifest_path.string(), scale);

  W2Benchmark bench;
  bench.dim_ = dim;
  bench.dtype_ = dtype;
  bench.folder_ = folder.string();
  bench.scale_ = scale;
  bench.v1_ = load_potential(folder / "v1", dim, dtype, dims);
  bench.v2_ = load_potential(folder / "v2", dim, dtype, dims);
  bench.centers_ = load_checked(folder / "source_centers.npy", {3, dim}, dtype);
  bench.maps_ = load_checked(folder / "source_maps.npy", {3, dim, dim}, dtype);
  bench.shift_ = load_checked(folder / "shift.npy", {dim}, dtype);
  return bench;
}

}  // namespace brenier::ot
