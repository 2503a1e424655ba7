// Progress: the one status line a training loop shows. On a terminal it redraws in place with '\r'
// (step/total, stats, rate, ETA) at most ~5 times a second; in logs (stderr not a TTY, or env CI
// set) it prints a plain line every 10% instead, so CI logs stay short; `quiet` silences it
// entirely.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace brenier::tools {

class Progress {
 public:
  // `out` is where lines go (stderr by default; tests pass a temporary file).
  Progress(std::string label, int64_t total, bool quiet = false, std::FILE* out = stderr);
  ~Progress();  // ends an unfinished terminal line so later output starts on a fresh line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports that `step` of `total` steps are done (0 <= step <= total) with the latest stats,
  // e.g. {{"loss", 0.12}, {"w2", 3.4e-3}}.
  void update(int64_t step, const std::map<std::string, double>& stats = {});
  // Prints the final line (terminal: with a newline; logs: a "done" line). Idempotent.
  void finish();
  // The work resumes at `step` (e.g. from a checkpoint): rate and ETA count only the steps after it.
  void resume_from(int64_t step);

  bool interactive() const { return interactive_; }

 private:
  double elapsed_seconds() const;
  void emit(const std::string& line, bool final_line);

  std::string label_;
  int64_t total_;
  bool quiet_;
  bool interactive_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
  bool finished_ = false;
  int last_decile_ = 0;
  int64_t last_step_ = 0;
  int64_t first_step_ = 0;
  std::map<std::string, double> last_stats_;
};

// The text of one progress line, without '\r' or newline:
// "train 250/1000 25% loss=0.1234 | 50.0 it/s | ETA 0:15". Separate from Progress so it can be
// tested without a clock. Rate and ETA are left out until some time has passed and a step is done.
// `first_step`: the step the work started from (a resumed run), so the rate counts this session's steps only.
std::string format_progress_line(const std::string& label, int64_t step, int64_t total,
                                 const std::map<std::string, double>& stats,
                                 double elapsed_seconds, int64_t first_step = 0);

// "0:07", "12:34", "1:02:03" (hours appear only when needed).
std::string format_duration(double seconds);

}  // namespace brenier::tools
