// brenier::Generator: the one seeded random number generator of the engine.
// It is counter-based (Philox-4x32-10, engine/random/philox.h): element i of a draw is a pure
// function of (seed, offset + i), and every draw advances the offset by its element count. So
// runs are reproducible, a fill parallelized over any number of threads gives the same numbers,
// two draws of n equal one draw of 2n, and a CUDA backend can reproduce the CPU stream.
// Only the CPU backend exists yet; asking for another device is an error.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace brenier {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0);

  uint64_t seed() const { return seed_; }
  // Stream elements consumed so far; the next draw starts at this element.
  uint64_t offset() const { return offset_; }
  // Jump to any point of any stream (e.g. to resume from a checkpoint).
  void set_state(uint64_t seed, uint64_t offset);

  // Uniform in [lo, hi): f32 from 32 random bits, f64 from 53.
  Tensor uniform(const Shape& shape, double lo = 0, double hi = 1, DType dtype = DType::F32,
                 Device device = Device::cpu());
  // Normal(mean, std^2) by Box-Muller, one value per stream element.
  Tensor normal(const Shape& shape, double mean = 0, double std = 1, DType dtype = DType::F32,
                Device device = Device::cpu());
  // i64 uniform in [lo, hi).
  Tensor randint(const Shape& shape, int64_t lo, int64_t hi);
  // n i64 indices drawn from the 1-D weights `probs` (any non-negative, finite weights with a
  // positive sum; they need not be normalized). The result lives on probs' device.
  Tensor categorical(const Tensor& probs, int64_t n);
  // i64 random permutation of 0..n-1 (sorts n random 64-bit keys, so it is GPU-friendly too).
  Tensor permutation(int64_t n);

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The process-wide generator used where no Generator is passed. It starts from seed 0.
// Not thread-safe: draw from it on one thread, or give each thread its own Generator.
Generator& default_generator();
// Reseeds the default generator and rewinds its offset to 0.
void manual_seed(uint64_t seed);

}  // namespace brenier
