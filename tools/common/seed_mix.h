// SplitMix64's finalizer (Steele, Lea & Flood 2014): the tools turn (seed, dimension or experiment, role)
// into well-separated Philox keys with it, so every random stream of a run has its own key.
#pragma once
#include <cstdint>

namespace brenier::tools {

inline uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace brenier::tools
