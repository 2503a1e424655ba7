// The step state both semi-discrete solvers (free heights, OT-Net's H_Φ) keep in their checkpoints besides
// their parameters and Adam: the step count, the adaptive Monte Carlo's state and the sources' generator
// position. With all three restored a resumed solve draws the same sources, doubles its batches at the same
// step and decays its lr by the same schedule as an uninterrupted one, so it reaches the same heights.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/checkpoint.h"
#include "ot/solvers/semi_discrete_energy.h"

namespace brenier::ot {

struct SolverProgress {
  int64_t steps = 0;
  AdaptiveBatches::State monte_carlo;
  uint64_t generator_seed = 0, generator_offset = 0;
};

// Adds the entries "solver.steps", "solver.mc_batches", "solver.mc_progress" and "solver.generator".
void append_progress(std::vector<std::pair<std::string, Tensor>>& tensors, const SolverProgress& progress);
// Reads them back; `op` and `path` name the caller and the file in errors. Checkpoints written before
// "solver.mc_progress" existed resume with the stall count reset (as set_batches does).
SolverProgress read_progress(const io::Checkpoint& checkpoint, const char* op, const std::string& path);

}  // namespace brenier::ot
