// brenier::Generator on the CPU: every draw fills its output element by element from the Philox
// stream (element i <- bits of stream element offset + i), in parallel with OpenMP. Because each
// element is computed from its own counter, the thread count never changes the result.
#include "engine/random/generator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/backend/device_memory.h"
#include "engine/random/philox.h"
#include "engine/random/transforms.h"
#ifdef BRENIER_WITH_CUDA
#include "engine/backend/cuda/random.h"
#endif

namespace brenier {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMinElements = 1 << 15;

void check_shape(const Shape& shape, const char* op) {
  for (int64_t d : shape)
    BRENIER_CHECK(d >= 0, "{}: argument 'shape' must have sizes >= 0, got {}", op, shape_str(shape));
}

void check_cpu(Device device, const char* op, const char* arg) {
  BRENIER_CHECK(device.is_cpu(),
                "{}: argument '{}' must be cpu, got {}: this draw exists only on the CPU backend (draw on the "
                "CPU and use .to(device))",
                op, arg, device.str());
}

// uniform and normal also draw on CUDA devices (engine/backend/cuda/random.h: the same Philox stream, so
// a seed gives the same numbers on either device); other devices, or a build without CUDA, are refused.
void check_drawable(Device device, const char* op) {
#ifdef BRENIER_WITH_CUDA
  if (device.is_cuda()) {
    BRENIER_CHECK(!backend::graph_capture_active(device),
                  "{}: a draw on {} inside a CudaGraph capture would bake its seed and offset into the graph, so "
                  "every replay would repeat the same numbers: draw outside the captured step and copy the "
                  "numbers in with copy_from before replay()",
                  op, device.str());
    return;
  }
#endif
  BRENIER_CHECK(device.is_cpu(), "{}: argument 'device' must be cpu{}, got {}", op,
#ifdef BRENIER_WITH_CUDA
                " or cuda",
#else
                " (this build has no CUDA backend)",
#endif
                device.str());
}

void check_floating(DType dtype, const char* op) {
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op,
                dtype_name(dtype));
}

// out[i] = value_of(bits of stream element offset + i) for i in [0, n), over OpenMP threads.
// value_of must not throw (exceptions cannot leave an OpenMP region).
template <class T, class ValueOf>
void fill_from_stream(T* out, int64_t n, uint64_t seed, uint64_t offset, const ValueOf& value_of) {
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i)
    out[i] = value_of(philox::element_bits(seed, offset + static_cast<uint64_t>(i)));
}

}  // namespace

Generator::Generator(uint64_t seed) : seed_(seed) {}

void Generator::set_state(uint64_t seed, uint64_t offset) {
  seed_ = seed;
  offset_ = offset;
}

Tensor Generator::uniform(const Shape& shape, double lo, double hi, DType dtype, Device device) {
  const char* op = "Generator::uniform";
  check_shape(shape, op);
  check_floating(dtype, op);
  check_drawable(device, op);
  BRENIER_CHECK(std::isfinite(lo), "{}: argument 'lo' must be finite, got {}", op, lo);
  BRENIER_CHECK(std::isfinite(hi), "{}: argument 'hi' must be finite, got {}", op, hi);
  BRENIER_CHECK(hi > lo, "{}: argument 'hi' must be greater than lo = {}, got {}", op, lo, hi);
  BRENIER_CHECK(std::isfinite(hi - lo), "{}: the width hi - lo must be finite, got lo = {}, hi = {}",
                op, lo, hi);

  Tensor out = Tensor::empty(shape, dtype, device);
  const int64_t n = out.numel();
  dispatch_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    const T lo_t = static_cast<T>(lo), hi_t = static_cast<T>(hi);
    BRENIER_CHECK(lo_t < hi_t, "{}: arguments 'lo' = {} and 'hi' = {} round to the same {} value",
                  op, lo, hi, dtype_name(dtype));
#ifdef BRENIER_WITH_CUDA
    if (device.is_cuda()) {
      cuda::philox_uniform(out, seed_, offset_, lo, hi);
      return;
    }
#endif
    // Rounding lo + width * u to T can land on hi; the clamp keeps the interval half-open.
    const T below_hi = std::nextafter(hi_t, lo_t);
    const double width = hi - lo;
    fill_from_stream(out.data<T>(), n, seed_, offset_, [=](const philox::Counter& b) {
      const double u = std::is_same_v<T, float> ? philox::unit_from32(b.w[0])
                                                : philox::unit_from53(philox::join64(b.w[0], b.w[1]));
      const T v = static_cast<T>(lo + width * u);
      return std::min(std::max(v, lo_t), below_hi);
    });
  });
  offset_ += static_cast<uint64_t>(n);
  return out;
}

Tensor Generator::normal(const Shape& shape, double mean, double std, DType dtype, Device device) {
  const char* op = "Generator::normal";
  check_shape(shape, op);
  check_floating(dtype, op);
  check_drawable(device, op);
  BRENIER_CHECK(std::isfinite(mean), "{}: argument 'mean' must be finite, got {}", op, mean);
  BRENIER_CHECK(std::isfinite(std) && std >= 0, "{}: argument 'std' must be finite and >= 0, got {}",
                op, std);

  Tensor out = Tensor::empty(shape, dtype, device);
  const int64_t n = out.numel();
#ifdef BRENIER_WITH_CUDA
  if (device.is_cuda()) {
    cuda::philox_normal(out, seed_, offset_, mean, std);
    offset_ += static_cast<uint64_t>(n);
    return out;
  }
#endif
  dispatch_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    fill_from_stream(out.data<T>(), n, seed_, offset_, [=](const philox::Counter& b) {
      const double z = std::is_same_v<T, float> ? double{philox::standard_normal_f32(b)}
                                                : philox::standard_normal_f64(b);
      return static_cast<T>(mean + std * z);
    });
  });
  offset_ += static_cast<uint64_t>(n);
  return out;
}

Tensor Generator::randint(const Shape& shape, int64_t lo, int64_t hi) {
  const char* op = "Generator::randint";
  check_shape(shape, op);
  BRENIER_CHECK(hi > lo, "{}: argument 'hi' must be greater than lo = {}, got {}", op, lo, hi);

  Tensor out = Tensor::empty(shape, DType::I64);
  const int64_t n = out.numel();
  // Unsigned arithmetic: hi - lo may exceed INT64_MAX (e.g. lo = INT64_MIN) but fits a uint64.
  const uint64_t lo_u = static_cast<uint64_t>(lo);
  const uint64_t range = static_cast<uint64_t>(hi) - lo_u;
  fill_from_stream(out.data<int64_t>(), n, seed_, offset_, [=](const philox::Counter& b) {
    return static_cast<int64_t>(lo_u + philox::bounded(b, range));
  });
  offset_ += static_cast<uint64_t>(n);
  return out;
}

Tensor Generator::categorical(const Tensor& probs, int64_t n) {
  const char* op = "Generator::categorical";
  check_defined(probs, op, "probs");
  check_cpu(probs.device(), op, "probs");
  BRENIER_CHECK(probs.dim() == 1 && probs.numel() > 0,
                "{}: argument 'probs' must be a non-empty 1-D tensor, got {}", op, probs.str());
  BRENIER_CHECK(n >= 0, "{}: argument 'n' must be >= 0, got {}", op, n);

  // Cumulative weights in f64; a draw picks the first category whose cumulative weight exceeds
  // u * total, so zero-weight categories are never picked.
  const std::vector<double> weights = probs.to_vector<double>();
  std::vector<double> cumulative(weights.size());
  double total = 0;
  int64_t last_positive = -1;
  for (size_t k = 0; k < weights.size(); ++k) {
    const double w = weights[k];
    BRENIER_CHECK(std::isfinite(w), "{}: argument 'probs' ({}) holds a non-finite value ({}) at index {}",
                  op, probs.str(), w, k);
    BRENIER_CHECK(w >= 0, "{}: argument 'probs' ({}) must be >= 0, got {} at index {}", op,
                  probs.str(), w, k);
    total += w;
    cumulative[k] = total;
    if (w > 0) last_positive = static_cast<int64_t>(k);
  }
  BRENIER_CHECK(total > 0 && std::isfinite(total),
                "{}: argument 'probs' ({}) must have a positive, finite sum, got {}", op,
                probs.str(), total);

  Tensor out = Tensor::empty({n}, DType::I64, probs.device());
  fill_from_stream(out.data<int64_t>(), n, seed_, offset_, [&](const philox::Counter& b) {
    const double target = philox::unit_from53(philox::join64(b.w[0], b.w[1])) * total;
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
    // target rounds up to total at worst; then the last category that can be drawn is the answer.
    return it == cumulative.end() ? last_positive : static_cast<int64_t>(it - cumulative.begin());
  });
  offset_ += static_cast<uint64_t>(n);
  return out;
}

Tensor Generator::permutation(int64_t n) {
  const char* op = "Generator::permutation";
  BRENIER_CHECK(n >= 0, "{}: argument 'n' must be >= 0, got {}", op, n);

  // Sort 0..n-1 by one random 64-bit key each (ties, with probability about n^2 / 2^65, fall back
  // to index order). Unlike Fisher-Yates this is parallel and maps onto a GPU radix sort.
  std::vector<std::pair<uint64_t, int64_t>> keyed(static_cast<size_t>(n));
  const uint64_t seed = seed_, offset = offset_;
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) {
    const philox::Counter b = philox::element_bits(seed, offset + static_cast<uint64_t>(i));
    keyed[static_cast<size_t>(i)] = {philox::join64(b.w[0], b.w[1]), i};
  }
  std::sort(keyed.begin(), keyed.end());

  Tensor out = Tensor::empty({n}, DType::I64);
  int64_t* p = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = keyed[static_cast<size_t>(i)].second;
  offset_ += static_cast<uint64_t>(n);
  return out;
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

}  // namespace brenier
