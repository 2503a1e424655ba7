// Philox-4x32-10, the counter-based random bijection of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC 2011), written from the paper's definition.
// A counter-based generator needs no sequential state: the bits for element i are
// philox(counter = i, key = seed), so any thread (or, later, any CUDA thread) computes its own
// element directly and a seed gives the same stream whatever the parallel layout.
// Header-only so the CUDA backend can compile the very same code for the device.
#pragma once
#include <cstdint>

// Marks functions that must compile for host and device. Empty in this CPU build; under nvcc the
// CUDA backend defines it as __host__ __device__ (before this header, or here when __CUDACC__ is set).
#ifndef BRENIER_HD
#ifdef __CUDACC__
#define BRENIER_HD __host__ __device__
#else
#define BRENIER_HD
#endif
#endif

namespace brenier::philox {

struct Counter {  // 128-bit counter (and output block) as four 32-bit words
  uint32_t w[4];
};
struct Key {  // 64-bit key as two 32-bit words
  uint32_t w[2];
};

// Round multipliers and Weyl-sequence key increments from the paper.
inline constexpr uint32_t kMultiplier0 = 0xD2511F53u;
inline constexpr uint32_t kMultiplier1 = 0xCD9E8D57u;
inline constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
inline constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

// One Philox S-box round: two 32x32->64 multiplies, the high halves xored with the other words and
// the key, and a fixed word permutation.
BRENIER_HD inline Counter round(Counter c, Key k) {
  const uint64_t p0 = static_cast<uint64_t>(kMultiplier0) * c.w[0];
  const uint64_t p1 = static_cast<uint64_t>(kMultiplier1) * c.w[2];
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  return Counter{{hi1 ^ c.w[1] ^ k.w[0], lo1, hi0 ^ c.w[3] ^ k.w[1], lo0}};
}

// Philox-4x32 with `Rounds` rounds; the key is bumped by the Weyl constants between rounds.
template <int Rounds = 10>
BRENIER_HD inline Counter philox4x32(Counter c, Key k) {
  for (int r = 0; r < Rounds; ++r) {
    if (r > 0) {
      k.w[0] += kWeyl0;
      k.w[1] += kWeyl1;
    }
    c = round(c, k);
  }
  return c;
}

// The 128 random bits of stream element `index` under `seed`: counter = (index, 0), key = seed.
// This layout is brenier's stream contract; every backend must use it.
BRENIER_HD inline Counter element_bits(uint64_t seed, uint64_t index) {
  const Counter c{{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u}};
  const Key k{{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  return philox4x32<10>(c, k);
}

}  // namespace brenier::philox
