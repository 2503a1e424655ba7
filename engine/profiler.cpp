// The op-level profiler (see profiler.h): a mutex-guarded table of (op, detail) -> calls and time,
// filled by OpScope / Region while recording, and the BRENIER_PROFILE environment switch that
// profiles a whole program and prints the report to stderr at exit.
#include "engine/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "engine/backend/device_memory.h"

namespace brenier::profiler {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Book {
  std::mutex mutex;
  bool by_shape = false;
  int64_t started_ns = 0, stopped_ns = 0;
  std::map<std::pair<std::string, std::string>, Entry> ops, regions;
};
Book& book() {
  static Book b;
  return b;
}
std::atomic<bool> g_recording{false};
thread_local int t_op_depth = 0;  // > 0 inside a timed primitive: nested ones are not counted again

void add(std::map<std::pair<std::string, std::string>, Entry>& table, std::string name, std::string detail,
         double seconds) {
  Entry& e = table[{name, detail}];
  if (e.calls == 0) {
    e.name = std::move(name);
    e.detail = std::move(detail);
  }
  ++e.calls;
  e.seconds += seconds;
}

std::vector<Entry> sorted(const std::map<std::pair<std::string, std::string>, Entry>& table) {
  std::vector<Entry> rows;
  rows.reserve(table.size());
  for (const auto& [key, e] : table) rows.push_back(e);
  std::stable_sort(rows.begin(), rows.end(), [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
  return rows;
}

// BRENIER_PROFILE=1 (or "ops") profiles the whole program by op, "shapes" by op and shape; the
// report goes to stderr when the program exits.
struct EnvironmentSwitch {
  EnvironmentSwitch() {
    const char* v = std::getenv("BRENIER_PROFILE");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "0") == 0) return;
    start(std::strcmp(v, "shapes") == 0);
    std::atexit([] {
      stop();
      std::fputs(report(summary()).c_str(), stderr);
    });
  }
};
const EnvironmentSwitch g_environment_switch;

}  // namespace

void start(bool by_shape) {
  Book& b = book();
  std::lock_guard<std::mutex> lock(b.mutex);
  b.ops.clear();
  b.regions.clear();
  b.by_shape = by_shape;
  b.started_ns = now_ns();
  b.stopped_ns = 0;
  g_recording.store(true, std::memory_order_relaxed);
}

void stop() {
  Book& b = book();
  std::lock_guard<std::mutex> lock(b.mutex);
  if (g_recording.exchange(false)) b.stopped_ns = now_ns();
}

bool active() { return g_recording.load(std::memory_order_relaxed); }

Summary summary() {
  Book& b = book();
  std::lock_guard<std::mutex> lock(b.mutex);
  Summary s;
  s.ops = sorted(b.ops);
  s.regions = sorted(b.regions);
  const int64_t end = b.stopped_ns != 0 ? b.stopped_ns : now_ns();
  s.wall_seconds = b.started_ns != 0 ? (end - b.started_ns) * 1e-9 : 0.0;
  for (const Entry& e : s.ops) {
    s.op_seconds += e.seconds;
    s.op_calls += e.calls;
  }
  return s;
}

std::string report(const Summary& s, int max_rows) {
  std::string out = fmt::format(
      "brenier profile: {:.3f} s wall, {:.3f} s in {} primitive calls ({:.1f} %); the other {:.3f} s were "
      "outside primitives (autograd bookkeeping, allocation, the caller's code, and the profiler's own "
      "bookkeeping of ~0.3 us a call)\n\n",
      s.wall_seconds, s.op_seconds, s.op_calls, s.wall_seconds > 0 ? 100.0 * s.op_seconds / s.wall_seconds : 0.0,
      std::max(0.0, s.wall_seconds - s.op_seconds));
  auto percent = [&](double seconds) { return s.wall_seconds > 0 ? 100.0 * seconds / s.wall_seconds : 0.0; };
  out += "| op | dtype device [shape] | calls | total ms | % of wall | mean us |\n|---|---|--:|--:|--:|--:|\n";
  const size_t shown = std::min(s.ops.size(), static_cast<size_t>(std::max(0, max_rows)));
  for (size_t i = 0; i < shown; ++i) {
    const Entry& e = s.ops[i];
    out += fmt::format("| {} | {} | {} | {:.2f} | {:.1f} | {:.1f} |\n", e.name, e.detail, e.calls, e.seconds * 1e3,
                       percent(e.seconds), e.seconds * 1e6 / static_cast<double>(e.calls));
  }
  if (shown < s.ops.size()) {
    Entry rest;
    for (size_t i = shown; i < s.ops.size(); ++i) {
      rest.calls += s.ops[i].calls;
      rest.seconds += s.ops[i].seconds;
    }
    out += fmt::format("| ({} more rows) | | {} | {:.2f} | {:.1f} | |\n", s.ops.size() - shown, rest.calls,
                       rest.seconds * 1e3, percent(rest.seconds));
  }
  if (!s.regions.empty()) {
    out += "\n| region | calls | total ms | % of wall | mean ms |\n|---|--:|--:|--:|--:|\n";
    for (const Entry& e : s.regions)
      out += fmt::format("| {} | {} | {:.2f} | {:.1f} | {:.3f} |\n", e.name, e.calls, e.seconds * 1e3,
                         percent(e.seconds), e.seconds * 1e3 / static_cast<double>(e.calls));
  }
  return out;
}

OpScope::OpScope(const char* name, const Tensor& first) {
  if (!g_recording.load(std::memory_order_relaxed)) return;
  if (t_op_depth++ > 0) {
    nested_ = true;
    return;
  }
  name_ = name;
  first_ = &first;
  start_ns_ = now_ns();
}

OpScope::~OpScope() {
  if (name_ == nullptr) {
    if (nested_) --t_op_depth;
    return;
  }
  const bool defined = first_->defined();
  if (defined && first_->device().is_cuda()) {
    // A CudaGraph capture records kernels without running them and cannot synchronize: time nothing then.
    if (backend::graph_capture_active(first_->device())) {
      --t_op_depth;
      return;
    }
    backend::synchronize(first_->device());
  }
  const double seconds = (now_ns() - start_ns_) * 1e-9;
  --t_op_depth;
  Book& b = book();
  std::string detail = defined ? fmt::format("{} {}", dtype_name(first_->dtype()), first_->device().str()) : "";
  std::lock_guard<std::mutex> lock(b.mutex);
  if (!g_recording.load(std::memory_order_relaxed)) return;  // stopped meanwhile
  if (b.by_shape && defined) detail += " " + shape_str(first_->shape());
  add(b.ops, name_, std::move(detail), seconds);
}

Region::Region(std::string name, Device device) : name_(std::move(name)), device_(device) {
  recording_ = g_recording.load(std::memory_order_relaxed);
  if (recording_) start_ns_ = now_ns();
}

Region::~Region() {
  if (!recording_) return;
  if (device_.is_cuda() && backend::graph_capture_active(device_)) return;  // as OpScope
  if (device_.is_cuda()) backend::synchronize(device_);
  const double seconds = (now_ns() - start_ns_) * 1e-9;
  Book& b = book();
  std::lock_guard<std::mutex> lock(b.mutex);
  if (!g_recording.load(std::memory_order_relaxed)) return;
  add(b.regions, name_, "", seconds);
}

}  // namespace brenier::profiler
