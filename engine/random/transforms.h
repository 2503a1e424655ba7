// Turning one stream element's 128 Philox bits into a value: uniform floats, normal floats
// (Box-Muller) and unbiased-enough bounded integers. Header-only and BRENIER_HD so the CUDA backend
// maps bits to values exactly as the CPU does (uniform and integer draws are then bit-identical;
// normal draws go through log/cos/sqrt and agree to a few ulp).
//
// Word use per element (part of the stream contract):
//   uniform f32: w0 (32 bits)          uniform f64: w0 | w1 << 32, top 53 bits
//   normal  f32: u1 from w0, u2 from w1   normal f64: u1 from w0,w1 and u2 from w2,w3
//   bounded integer: all 128 bits, low word first
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/random/philox.h"

namespace brenier::philox {

BRENIER_HD inline uint64_t join64(uint32_t lo, uint32_t hi) {
  return static_cast<uint64_t>(lo) | (static_cast<uint64_t>(hi) << 32);
}

// Uniform in [0, 1) from 32 bits (as a double: exact, 2^-32 resolution).
BRENIER_HD inline double unit_from32(uint32_t x) { return x * 0x1p-32; }
// Uniform in [0, 1) from the top 53 bits of x (every double k * 2^-53 equally likely).
BRENIER_HD inline double unit_from53(uint64_t x) { return static_cast<double>(x >> 11) * 0x1p-53; }
// Uniform in (0, 1] from the top 53 bits of x, so log() never sees 0.
BRENIER_HD inline double open_unit_from53(uint64_t x) {
  return static_cast<double>((x >> 11) + 1) * 0x1p-53;
}

// A standard normal draw for element bits `b`, by the Box-Muller cosine branch.
BRENIER_HD inline float standard_normal_f32(const Counter& b) {
  // (float)w0 rounds to at most 2^32, so u1 lies in [2^-32, 1]: never 0, tails reach 6.66 sigma.
  const float u1 = (static_cast<float>(b.w[0]) + 1.0f) * 0x1p-32f;
  const float u2 = static_cast<float>(b.w[1] >> 8) * 0x1p-24f;  // [0, 1)
  const float two_pi = 6.28318530717958647692f;
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(two_pi * u2);
}
BRENIER_HD inline double standard_normal_f64(const Counter& b) {
  const double u1 = open_unit_from53(join64(b.w[0], b.w[1]));  // (0, 1]
  const double u2 = unit_from53(join64(b.w[2], b.w[3]));       // [0, 1)
  const double two_pi = 6.28318530717958647692;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
}

// High 64 bits of the 128-bit product a * b, in portable 32-bit pieces (nvcc: __umul64hi).
BRENIER_HD inline uint64_t mulhi64(uint64_t a, uint64_t b) {
  const uint64_t a_lo = static_cast<uint32_t>(a), a_hi = a >> 32;
  const uint64_t b_lo = static_cast<uint32_t>(b), b_hi = b >> 32;
  const uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const uint64_t cross = (lo_lo >> 32) + static_cast<uint32_t>(hi_lo) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

// floor(x * range / 2^128) for the 128-bit x in `b`: an integer in [0, range) whose bias is below
// range / 2^128 (Lemire's multiply-shift without rejection, which a counter-based draw cannot
// afford since each element gets a fixed number of bits).
BRENIER_HD inline uint64_t bounded(const Counter& b, uint64_t range) {
  const uint64_t x_lo = join64(b.w[0], b.w[1]), x_hi = join64(b.w[2], b.w[3]);
  // x * range = x_hi * range * 2^64 + x_lo * range; only the carry of the low part matters.
  const uint64_t carry_in = mulhi64(x_lo, range);
  const uint64_t mid = x_hi * range;  // low 64 bits of x_hi * range
  const uint64_t sum = mid + carry_in;
  return mulhi64(x_hi, range) + (sum < mid ? 1u : 0u);
}

}  // namespace brenier::philox
