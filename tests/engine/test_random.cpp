// brenier::Generator and Philox-4x32-10: known-answer vectors, the stream layout contract that a
// CUDA backend must reproduce, distribution moments and frequencies, reproducibility, stream
// splitting, thread-count independence and error paths.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <vector>

#include "engine/random/generator.h"
#include "engine/random/philox.h"
#include "engine/random/transforms.h"

using namespace brenier;

namespace {

using u128 = unsigned __int128;

philox::Counter bits_of(uint64_t seed, uint64_t index) {
  // Built by hand (not via element_bits) so the test pins the counter/key layout.
  philox::Counter c{{uint32_t(index), uint32_t(index >> 32), 0, 0}};
  philox::Key k{{uint32_t(seed), uint32_t(seed >> 32)}};
  return philox::philox4x32<10>(c, k);
}

struct Moments {
  double mean = 0, var = 0;
};
Moments moments(const std::vector<double>& x) {
  Moments m;
  for (double v : x) m.mean += v;
  m.mean /= double(x.size());
  for (double v : x) m.var += (v - m.mean) * (v - m.mean);
  m.var /= double(x.size() - 1);
  return m;
}

// Pearson's chi-square statistic of observed counts against expected counts.
double chi_square(const std::vector<double>& observed, const std::vector<double>& expected) {
  double s = 0;
  for (size_t k = 0; k < observed.size(); ++k)
    s += (observed[k] - expected[k]) * (observed[k] - expected[k]) / expected[k];
  return s;
}

template <class T>
bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_vector<T>() == b.to_vector<T>();
}

// Runs f with omp_set_num_threads(threads), restoring the previous setting.
template <class F>
auto with_threads(int threads, F f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto r = f();
  omp_set_num_threads(before);
  return r;
}

}  // namespace

TEST_CASE("random: Philox-4x32-10 matches the Random123 known-answer vectors") {
  struct Kat {
    philox::Counter ctr;
    philox::Key key;
    uint32_t expected[4];
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       {{0xffffffff, 0xffffffff}},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       {{0xa4093822, 0x299f31d0}},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& kat : kats) {
    const philox::Counter out = philox::philox4x32<10>(kat.ctr, kat.key);
    for (int j = 0; j < 4; ++j) CHECK(out.w[j] == kat.expected[j]);
  }
  // element_bits is the counter (index, 0) under key seed.
  const philox::Counter e = philox::element_bits(0xa4093822299f31d0ull, 0);
  const philox::Counter r = philox::philox4x32<10>({{0, 0, 0, 0}}, {{0x299f31d0, 0xa4093822}});
  for (int j = 0; j < 4; ++j) CHECK(e.w[j] == r.w[j]);
}

TEST_CASE("random: 64-bit multiply-high and bounded integers agree with 128-bit arithmetic") {
  const uint64_t samples[] = {0,          1,          2,          0xffffffffull,
                              1ull << 32, 1ull << 63, ~0ull,      0x9e3779b97f4a7c15ull,
                              12345,      ~0ull - 1,  0xdeadbeefcafebabeull};
  for (uint64_t a : samples)
    for (uint64_t b : samples) CHECK(philox::mulhi64(a, b) == uint64_t((u128(a) * b) >> 64));
  for (uint64_t index = 0; index < 200; ++index) {
    const philox::Counter bits = bits_of(42, index);
    const uint64_t x_lo = philox::join64(bits.w[0], bits.w[1]);
    const uint64_t x_hi = philox::join64(bits.w[2], bits.w[3]);
    for (uint64_t range : {uint64_t{1}, uint64_t{3}, uint64_t{10}, uint64_t{1} << 40, uint64_t{~0ull}}) {
      const u128 sum = u128(x_hi) * range + ((u128(x_lo) * range) >> 64);
      const uint64_t v = philox::bounded(bits, range);
      CHECK(v == uint64_t(sum >> 64));
      CHECK(v < range);
    }
    // A power-of-two range takes the top bits of the 128-bit number.
    CHECK(philox::bounded(bits, 16) == (x_hi >> 60));
  }
}

TEST_CASE("random: Box-Muller at the extreme bits stays finite and reaches the full tail") {
  // All-zero bits give the smallest u1 (2^-32 for f32, 2^-53 for f64) and cos(0) = 1, so
  // z = sqrt(-2 log u1) = sqrt(2 * bits * ln 2): the largest value each dtype can draw.
  const philox::Counter zero{{0, 0, 0, 0}};
  CHECK(philox::standard_normal_f32(zero) == doctest::Approx(std::sqrt(64 * std::log(2.0))).epsilon(1e-6));
  CHECK(philox::standard_normal_f64(zero) == doctest::Approx(std::sqrt(106 * std::log(2.0))).epsilon(1e-12));
  // All-one bits in u1 give u1 = 1 exactly, so z = 0 rather than a log of something above 1.
  const philox::Counter ones{{0xffffffff, 0xffffffff, 0, 0}};
  CHECK(philox::standard_normal_f32(ones) == 0.0f);
  CHECK(philox::standard_normal_f64(ones) == 0.0);
}

TEST_CASE("random: draws follow the documented stream layout") {
  const uint64_t seed = 0x0123456789abcdefull;
  Generator g(seed);
  g.set_state(seed, 1000);
  const std::vector<float> u32 = g.uniform({5}, -1, 3).to_vector<float>();  // elements 1000..1004
  const std::vector<double> u64 = g.uniform({5}, 2, 4, DType::F64).to_vector<double>();  // 1005..
  const std::vector<float> n32 = g.normal({5}).to_vector<float>();                         // 1010..
  const std::vector<double> n64 = g.normal({5}, 1, 2, DType::F64).to_vector<double>();     // 1015..
  const std::vector<int64_t> ri = g.randint({5}, 0, 16).to_vector<int64_t>();             // 1020..
  const std::vector<int64_t> coin =
      g.categorical(Tensor::from_vector<double>({1, 1}), 5).to_vector<int64_t>();  // 1025..
  CHECK(g.offset() == 1030);
  for (int i = 0; i < 5; ++i) {
    philox::Counter b = bits_of(seed, 1000 + i);
    CHECK(u32[i] == float(-1 + 4 * (b.w[0] / 4294967296.0)));
    b = bits_of(seed, 1005 + i);
    const uint64_t x = (uint64_t(b.w[1]) << 32) | b.w[0];
    CHECK(u64[i] == 2 + 2 * std::ldexp(double(x >> 11), -53));
    b = bits_of(seed, 1010 + i);
    const double two_pi = 2 * std::acos(-1.0);
    double z = std::sqrt(-2 * std::log((b.w[0] + 1.0) / 4294967296.0)) *
               std::cos(two_pi * std::ldexp(double(b.w[1] >> 8), -24));
    CHECK(n32[i] == doctest::Approx(z).epsilon(2e-5));
    b = bits_of(seed, 1015 + i);
    const uint64_t x1 = (uint64_t(b.w[1]) << 32) | b.w[0], x2 = (uint64_t(b.w[3]) << 32) | b.w[2];
    z = std::sqrt(-2 * std::log(std::ldexp(double((x1 >> 11) + 1), -53))) *
        std::cos(two_pi * std::ldexp(double(x2 >> 11), -53));
    CHECK(n64[i] == doctest::Approx(1 + 2 * z).epsilon(1e-12));
    b = bits_of(seed, 1020 + i);
    CHECK(ri[i] == int64_t(b.w[3] >> 28));  // range 16: the top 4 of the 128 bits
    b = bits_of(seed, 1025 + i);
    CHECK(coin[i] == int64_t(b.w[1] >> 31));  // u < 1/2 exactly when the top bit is 0
  }
}

TEST_CASE("random: same seed gives identical tensors, different seeds differ") {
  Generator a(7), b(7), c(8);
  CHECK(same_values<float>(a.uniform({100, 3}), b.uniform({100, 3})));
  CHECK(same_values<double>(a.normal({50}, 0, 1, DType::F64), b.normal({50}, 0, 1, DType::F64)));
  CHECK(same_values<int64_t>(a.randint({64}, -5, 5), b.randint({64}, -5, 5)));
  CHECK(same_values<int64_t>(a.permutation(100), b.permutation(100)));
  CHECK(a.offset() == b.offset());

  Generator d(7);
  const std::vector<float> x = d.uniform({1000}).to_vector<float>();
  const std::vector<float> y = c.uniform({1000}).to_vector<float>();
  const std::vector<float> z = d.uniform({1000}).to_vector<float>();  // the next part of d's stream
  int equal_xy = 0, equal_xz = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    equal_xy += x[i] == y[i];
    equal_xz += x[i] == z[i];
  }
  CHECK(equal_xy < 5);
  CHECK(equal_xz < 5);
  // Seeds that differ only in their high 32 bits give different streams too.
  CHECK_FALSE(same_values<float>(Generator(1).uniform({16}), Generator(1 | (1ull << 32)).uniform({16})));
}

TEST_CASE("random: uniform moments and range") {
  const int64_t n = 1000000;
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    Generator g(11);
    const double lo = -2, hi = 3, w = hi - lo;
    const Tensor t = g.uniform({1000, 1000}, lo, hi, dtype);
    CHECK(t.shape() == Shape{1000, 1000});
    CHECK(t.dtype() == dtype);
    const std::vector<double> x = t.to_vector<double>();
    CHECK(*std::min_element(x.begin(), x.end()) >= lo);
    CHECK(*std::max_element(x.begin(), x.end()) < hi);
    const Moments m = moments(x);
    const double var = w * w / 12;
    const double var_se = std::sqrt((std::pow(w, 4) / 80 - var * var) / double(n));
    CHECK(std::abs(m.mean - (lo + hi) / 2) < 5 * std::sqrt(var / double(n)));
    CHECK(std::abs(m.var - var) < 5 * var_se);
  }
}

TEST_CASE("random: f32 uniform stays below hi when the draw rounds up to it") {
  // Element 38471471 of seed 0 has w0 = 0xffffffec: 1 - 20 * 2^-32 rounds to 1.0f in float.
  const uint64_t index = 38471471;
  REQUIRE(bits_of(0, index).w[0] == 0xffffffecu);
  REQUIRE(float(philox::unit_from32(bits_of(0, index).w[0])) == 1.0f);
  Generator g(0);
  g.set_state(0, index);
  const float v = g.uniform({1}).item();
  CHECK(v < 1.0f);
  CHECK(v == std::nextafter(1.0f, 0.0f));
  // hi = 1 + 1e-7 rounds to the next float above 1, so [lo, hi) holds the single float 1.
  REQUIRE(float(1.0 + 1e-7) == std::nextafter(1.0f, 2.0f));
  const std::vector<float> tiny = g.uniform({100}, 1.0, 1.0 + 1e-7).to_vector<float>();
  CHECK(std::count(tiny.begin(), tiny.end(), 1.0f) == 100);
}

TEST_CASE("random: normal moments and shape") {
  const int64_t n = 1000000;
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    Generator g(12);
    const double mean = 1.5, sd = 2.0;
    const std::vector<double> x = g.normal({n}, mean, sd, dtype).to_vector<double>();
    const Moments m = moments(x);
    CHECK(std::abs(m.mean - mean) < 5 * sd / std::sqrt(double(n)));
    CHECK(std::abs(m.var - sd * sd) < 5 * sd * sd * std::sqrt(2.0 / double(n)));
    // The shape, not just two moments: P(|z| < 1) = erf(1/sqrt 2), binomial standard error.
    const double p = std::erf(1 / std::sqrt(2.0));
    const double within = double(std::count_if(x.begin(), x.end(), [&](double v) {
                            return std::abs(v - mean) < sd;
                          })) / double(n);
    CHECK(std::abs(within - p) < 5 * std::sqrt(p * (1 - p) / double(n)));
    CHECK(std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); }));
  }
  Generator g(3);
  const std::vector<float> degenerate = g.normal({10}, 4, 0).to_vector<float>();
  for (float v : degenerate) CHECK(v == 4.0f);
}

TEST_CASE("random: randint covers [lo, hi) with equal frequencies") {
  Generator g(13);
  const int64_t lo = -3, hi = 7, n = 100000, k = hi - lo;
  const std::vector<int64_t> x = g.randint({n}, lo, hi).to_vector<int64_t>();
  std::vector<double> counts(size_t(k), 0);
  REQUIRE(*std::min_element(x.begin(), x.end()) >= lo);
  REQUIRE(*std::max_element(x.begin(), x.end()) < hi);
  for (int64_t v : x) counts[size_t(v - lo)] += 1;
  for (double c : counts) CHECK(c > 0);
  // 9 degrees of freedom: P(chi2 > 33.72) = 1e-4.
  CHECK(chi_square(counts, std::vector<double>(size_t(k), double(n) / double(k))) < 33.72);

  // The widest range does not overflow; a one-value range is constant.
  const int64_t min = std::numeric_limits<int64_t>::min(), max = std::numeric_limits<int64_t>::max();
  const std::vector<int64_t> wide = g.randint({1000}, min, max).to_vector<int64_t>();
  CHECK(std::count_if(wide.begin(), wide.end(), [](int64_t v) { return v < 0; }) > 400);
  CHECK(std::count_if(wide.begin(), wide.end(), [](int64_t v) { return v > 0; }) > 400);
  CHECK(std::find(wide.begin(), wide.end(), max) == wide.end());
  for (int64_t v : g.randint({2, 5}, 9, 10).to_vector<int64_t>()) CHECK(v == 9);
}

TEST_CASE("random: permutation is a uniformly random permutation") {
  Generator g(14);
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<int64_t> p = g.permutation(1000).to_vector<int64_t>();
  CHECK(p != identity);
  std::sort(p.begin(), p.end());
  CHECK(p == identity);
  CHECK(g.permutation(0).numel() == 0);
  CHECK(g.permutation(1).to_vector<int64_t>() == std::vector<int64_t>{0});

  // All 6 orders of 3 items equally often: 5 degrees of freedom, P(chi2 > 25.74) = 1e-4.
  std::map<std::vector<int64_t>, double> seen;
  const int draws = 6000;
  for (int d = 0; d < draws; ++d) seen[g.permutation(3).to_vector<int64_t>()] += 1;
  REQUIRE(seen.size() == 6);
  std::vector<double> counts;
  for (const auto& [order, c] : seen) counts.push_back(c);
  CHECK(chi_square(counts, std::vector<double>(6, draws / 6.0)) < 25.74);

  // The layout contract: indices sorted by the 64-bit key of their stream element.
  Generator h(99);
  h.set_state(99, 500);
  const std::vector<int64_t> q = h.permutation(50).to_vector<int64_t>();
  std::vector<int64_t> ref(50);
  std::iota(ref.begin(), ref.end(), 0);
  auto key = [](int64_t i) {
    const philox::Counter b = bits_of(99, uint64_t(500 + i));
    return (uint64_t(b.w[1]) << 32) | b.w[0];
  };
  std::stable_sort(ref.begin(), ref.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
  CHECK(q == ref);
  CHECK(h.offset() == 550);
}

TEST_CASE("random: categorical frequencies match the probabilities") {
  const int64_t n = 100000;
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    Generator g(15);
    // Unnormalized weights 2:0:6:12 -> probabilities 0.1, 0, 0.3, 0.6.
    const Tensor probs = Tensor::from_vector<double>({2, 0, 6, 12}).to(dtype);
    const Tensor draws = g.categorical(probs, n);
    CHECK(draws.shape() == Shape{n});
    CHECK(draws.dtype() == DType::I64);
    std::vector<double> counts(4, 0);
    const std::vector<int64_t> x = draws.to_vector<int64_t>();
    REQUIRE(*std::min_element(x.begin(), x.end()) >= 0);
    REQUIRE(*std::max_element(x.begin(), x.end()) < 4);
    for (int64_t v : x) counts[size_t(v)] += 1;
    CHECK(counts[1] == 0);
    // 2 degrees of freedom over the possible categories: P(chi2 > 18.42) = 1e-4.
    CHECK(chi_square({counts[0], counts[2], counts[3]}, {0.1 * n, 0.3 * n, 0.6 * n}) < 18.42);
  }
  Generator g(16);
  for (int64_t v : g.categorical(Tensor::from_vector<float>({0, 0, 5}), 100).to_vector<int64_t>())
    CHECK(v == 2);
  for (int64_t v : g.categorical(Tensor::from_vector<float>({3}), 10).to_vector<int64_t>())
    CHECK(v == 0);
  CHECK(g.categorical(Tensor::from_vector<float>({1, 1}), 0).numel() == 0);
}

TEST_CASE("random: two draws of n give the same numbers as one draw of 2n") {
  const int64_t n = 1001;  // odd, so no draw starts on a 'nice' boundary
  auto check_split = [&](auto draw, auto tag) {
    using T = decltype(tag);
    Generator whole(21), halves(21);
    std::vector<T> all = draw(whole, 2 * n).template to_vector<T>();
    std::vector<T> first = draw(halves, n).template to_vector<T>();
    std::vector<T> second = draw(halves, n).template to_vector<T>();
    first.insert(first.end(), second.begin(), second.end());
    CHECK(first == all);
    CHECK(whole.offset() == uint64_t(2 * n));
    CHECK(halves.offset() == uint64_t(2 * n));
    // set_state jumps straight to the second half.
    Generator jump(0);
    jump.set_state(21, uint64_t(n));
    CHECK(draw(jump, n).template to_vector<T>() == second);
  };
  check_split([](Generator& g, int64_t m) { return g.uniform({m}, -1, 1); }, float{});
  check_split([](Generator& g, int64_t m) { return g.uniform({m}, 0, 1, DType::F64); }, double{});
  check_split([](Generator& g, int64_t m) { return g.normal({m}); }, float{});
  check_split([](Generator& g, int64_t m) { return g.normal({m}, 0, 1, DType::F64); }, double{});
  check_split([](Generator& g, int64_t m) { return g.randint({m}, -100, 100); }, int64_t{});
  const Tensor probs = Tensor::from_vector<float>({1, 2, 3, 4});
  check_split([&](Generator& g, int64_t m) { return g.categorical(probs, m); }, int64_t{});
  // A 2-D draw is the same stream laid out row-major.
  Generator flat(22), grid(22);
  CHECK(flat.uniform({12}).to_vector<float>() == grid.uniform({3, 4}).to_vector<float>());
}

TEST_CASE("random: results do not depend on the OpenMP thread count") {
  const int64_t n = 200000;  // above the parallel threshold
  const Tensor probs = Tensor::from_vector<double>({0.2, 0.5, 0.3});
  auto draw_all = [&] {
    Generator g(31);
    std::vector<Tensor> out;
    out.push_back(g.uniform({n}));
    out.push_back(g.uniform({n}, -3, 3, DType::F64));
    out.push_back(g.normal({n}));
    out.push_back(g.normal({n}, 0, 1, DType::F64));
    out.push_back(g.randint({n}, 0, 1000));
    out.push_back(g.categorical(probs, n));
    out.push_back(g.permutation(n));
    return out;
  };
  const std::vector<Tensor> one = with_threads(1, draw_all);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    const std::vector<Tensor> many = with_threads(threads, draw_all);
    CHECK(same_values<float>(one[0], many[0]));
    CHECK(same_values<double>(one[1], many[1]));
    CHECK(same_values<float>(one[2], many[2]));
    CHECK(same_values<double>(one[3], many[3]));
    CHECK(same_values<int64_t>(one[4], many[4]));
    CHECK(same_values<int64_t>(one[5], many[5]));
    CHECK(same_values<int64_t>(one[6], many[6]));
  }
}

TEST_CASE("random: default generator and manual_seed") {
  manual_seed(5);
  CHECK(default_generator().seed() == 5);
  CHECK(default_generator().offset() == 0);
  const std::vector<float> a = default_generator().uniform({10}).to_vector<float>();
  CHECK(default_generator().offset() == 10);
  manual_seed(5);
  CHECK(default_generator().uniform({10}).to_vector<float>() == a);
  CHECK(Generator(5).uniform({10}).to_vector<float>() == a);
  CHECK(&default_generator() == &default_generator());
}

TEST_CASE("random: bad arguments throw errors naming the op and argument") {
  Generator g(1);
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(g.uniform({2}, 1, 1), Contains("Generator::uniform: argument 'hi'"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2}, 2, 1), Contains("Generator::uniform: argument 'hi'"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2}, std::nan(""), 1), Contains("argument 'lo'"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2}, 0, INFINITY), Contains("argument 'hi'"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2}, -1e308, 1e308, DType::F64), Contains("hi - lo"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2}, 1.0, 1.0 + 1e-12), Contains("round to the same f32"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2, -1}), Contains("Generator::uniform: argument 'shape'"), Error);
  CHECK_THROWS_WITH_AS(g.uniform({2}, 0, 1, DType::I64), Contains("argument 'dtype'"), Error);
#ifndef BRENIER_WITH_CUDA  // with CUDA, draws on a CUDA device work (tests/gpu/test_fused.cpp)
  CHECK_THROWS_WITH_AS(g.uniform({2}, 0, 1, DType::F32, Device::cuda()),
                       Contains("Generator::uniform: argument 'device' must be cpu (this build has no CUDA backend), got "
                                "cuda:0"),
                       Error);
#endif

  CHECK_THROWS_WITH_AS(g.normal({2}, 0, -1), Contains("Generator::normal: argument 'std'"), Error);
  CHECK_THROWS_WITH_AS(g.normal({2}, 0, std::nan("")), Contains("argument 'std'"), Error);
  CHECK_THROWS_WITH_AS(g.normal({2}, INFINITY, 1), Contains("argument 'mean'"), Error);
  CHECK_THROWS_WITH_AS(g.normal({-2}), Contains("Generator::normal: argument 'shape'"), Error);
  CHECK_THROWS_WITH_AS(g.normal({2}, 0, 1, DType::I64), Contains("argument 'dtype'"), Error);
#ifndef BRENIER_WITH_CUDA
  CHECK_THROWS_WITH_AS(g.normal({2}, 0, 1, DType::F32, Device::cuda(1)),
                       Contains("argument 'device' must be cpu (this build has no CUDA backend), got cuda:1"), Error);
#endif

  CHECK_THROWS_WITH_AS(g.randint({2}, 3, 3), Contains("Generator::randint: argument 'hi'"), Error);
  CHECK_THROWS_WITH_AS(g.randint({-1}, 0, 3), Contains("Generator::randint: argument 'shape'"), Error);

  const char* cat = "Generator::categorical: argument ";
  CHECK_THROWS_WITH_AS(g.categorical(Tensor::from_vector<float>({1, -1}), 3),
                       Contains((std::string(cat) + "'probs'").c_str()), Error);
  CHECK_THROWS_WITH_AS(g.categorical(Tensor::from_vector<float>({1, NAN}), 3),
                       Contains("non-finite"), Error);
  CHECK_THROWS_WITH_AS(g.categorical(Tensor::from_vector<float>({0, 0}), 3),
                       Contains("positive, finite sum"), Error);
  CHECK_THROWS_WITH_AS(g.categorical(Tensor::ones({2, 2}), 3), Contains("1-D"), Error);
  CHECK_THROWS_WITH_AS(g.categorical(Tensor::zeros({0}), 3), Contains("non-empty"), Error);
  CHECK_THROWS_WITH_AS(g.categorical(Tensor(), 3), Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(g.categorical(Tensor::ones({2}), -1), Contains((std::string(cat) + "'n'").c_str()),
                       Error);

  CHECK_THROWS_WITH_AS(g.permutation(-1), Contains("Generator::permutation: argument 'n'"), Error);
  // A rejected draw consumes nothing from the stream.
  CHECK(g.offset() == 0);
}
