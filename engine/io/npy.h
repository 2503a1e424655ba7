// NumPy's .npy format, so arrays move between brenier and Python without conversion code.
// Reads format versions 1.0 and 2.0, writes 1.0; C order, little-endian only.
#pragma once
#include <string>

#include "engine/tensor.h"

namespace brenier::io {

// dtypes: '<f4' -> f32, '<f8' -> f64, '<i8' -> i64, and '<i4' -> i64 (widened; the shared data sets
// hold int32 labels). Anything else, or a file that is not exactly header + data, throws naming the path.
Tensor load_npy(const std::string& path);

// Writes `t` (any device; copied to the host) atomically as a version 1.0 .npy file.
void save_npy(const std::string& path, const Tensor& t);

}  // namespace brenier::io
