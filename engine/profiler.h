// An op-level profiler: where a training step's time goes, per primitive (matmul, add, argmax, ...)
// and per dtype, device and (optionally) input shape, plus named regions of the caller's own code.
// Off by default; when off, a primitive pays one relaxed atomic load.
//
//   brenier::profiler::start();           // or run any program with BRENIER_PROFILE=1 (or =shapes)
//   for (...) solver.step(...);
//   brenier::profiler::stop();
//   fmt::print("{}", brenier::profiler::report(brenier::profiler::summary()));
//
// What is timed: every primitive of engine/backend/primitives.h and the optimizers' fused updates,
// from the call to the result (only the outermost primitive when one calls another). On a CUDA
// device the profiler waits for the device after each primitive, so the times are real, and a
// profiled run is slower than an unprofiled one (like torch.profiler with synchronization).
// Time outside primitives (autograd bookkeeping, allocation, the caller's code) is reported as the
// difference between wall time and primitive time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace brenier::profiler {

// Clears earlier statistics and starts recording; `by_shape` also splits each op by the shape of
// its first tensor argument (more rows, finer answers).
void start(bool by_shape = false);
// Stops recording; the statistics stay until the next start().
void stop();
bool active();

// One row of the profile: an op (or a region) with a dtype/device/shape detail.
struct Entry {
  std::string name;    // op name ("matmul", "add", ...) or region name
  std::string detail;  // "f32 cpu" or "f32 cpu [1024, 64]"; empty for regions
  int64_t calls = 0;
  double seconds = 0;
};

struct Summary {
  std::vector<Entry> ops;      // sorted by time, largest first
  std::vector<Entry> regions;  // the caller's named regions (inclusive time), sorted likewise
  double wall_seconds = 0;     // from start() to stop() (or to now while recording)
  double op_seconds = 0;       // sum over ops
  int64_t op_calls = 0;
};
Summary summary();

// A Markdown report of a summary: the top `max_rows` ops (the rest summed in one row), the share
// of wall time spent outside primitives, then the regions.
std::string report(const Summary& s, int max_rows = 30);

// Times one primitive call while recording (used by the backend dispatch; extension ops that
// bypass prim:: can use it too). `first` gives the dtype, device and shape shown in the report.
class OpScope {
 public:
  OpScope(const char* name, const Tensor& first);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* name_ = nullptr;  // null when not recording or nested inside another primitive
  const Tensor* first_ = nullptr;
  bool nested_ = false;  // counted in the depth but not timed
  int64_t start_ns_ = 0;
};

// Times a named region of the caller's code (a solver step, a data-loading phase); regions nest and
// report inclusive time. On a CUDA device pass it so the region's end waits for the device.
class Region {
 public:
  explicit Region(std::string name, Device device = Device::cpu());
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

 private:
  std::string name_;
  Device device_;
  bool recording_ = false;
  int64_t start_ns_ = 0;
};

}  // namespace brenier::profiler
