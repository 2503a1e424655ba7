// Checkpoints in the safetensors layout, readable by Python's `safetensors` package:
//   u64 little-endian N | N bytes of JSON header | raw little-endian tensor data
// The header maps each name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data section) plus an optional "__metadata__" object of strings. Writes are atomic.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace brenier::io {

struct Checkpoint {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Tensors are copied to the host and stored in the given order; names must be unique and non-empty.
void save_checkpoint(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata = {});

// Loads every tensor onto the CPU. The header is validated in full before any data is read.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace brenier::io
