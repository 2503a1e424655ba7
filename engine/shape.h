// Shapes and the small helpers every op needs: element counts, dimension wrapping, broadcasting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace brenier {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3]"
// Row-major strides in elements.
std::vector<int64_t> contiguous_strides(const Shape& s);
// Wraps a possibly negative dim into [0, rank); throws naming `op` and `arg` when out of range.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op, const char* arg = "dim");
// NumPy broadcasting of two shapes; throws naming `op` when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace brenier
