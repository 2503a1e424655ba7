// A small timing harness: medians of wall time after warm-up, and a table of ratios to reference
// figures. Benchmarks print; they never assert (speed is not a unit-test property).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace brenier::bench {

struct Timing {
  double median_ms = 0, min_ms = 0;
  int iters = 0;
};

// Runs `step` `warmup` times, then at least `min_iters` times and until `min_seconds` have passed
// (at most `max_iters`); returns the median and minimum of the timed calls.
inline Timing time_it(const std::function<void()>& step, int warmup = 3, int min_iters = 10,
                      double min_seconds = 1.0, int max_iters = 1000) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> ms;
  auto start = clock::now();
  while (static_cast<int>(ms.size()) < max_iters) {
    auto t0 = clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    if (static_cast<int>(ms.size()) >= min_iters && elapsed >= min_seconds) break;
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), static_cast<int>(ms.size())};
}

// "AMD EPYC ... (2 threads)" from /proc/cpuinfo, to name the machine in every report.
inline std::string machine_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
}

// PyTorch medians (ms) keyed like "mmb/2", from the "steps" object of a JSON file written by one of
// bench/torch_ref's scripts (`writer` names it in messages). Missing or foreign files give an empty map
// and say so in `described` (the bench then prints "-" for the speedups); otherwise `described` names
// the file, machine, torch version, threads and date.
inline std::map<std::string, double> read_torch_reference(const std::string& path, const std::string& writer,
                                                          std::string& described) {
  std::map<std::string, double> ms;
  std::ifstream in(path);
  if (!in) {
    described = "no reference file '" + path + "': speedups not shown";
    return ms;
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("steps")) {
    described = "reference file '" + path + "' is not the JSON " + writer + " writes: ignored";
    return ms;
  }
  for (auto& [key, value] : j["steps"].items())
    if (value.contains("median_ms")) ms[key] = value["median_ms"].get<double>();
  described = path + " (" + j.value("machine", "?") + ", torch " + j.value("torch", "?") + ", " +
              std::to_string(j.value("threads", 0)) + " threads, measured " + j.value("date", "?") + ")";
  return ms;
}

}  // namespace brenier::bench
