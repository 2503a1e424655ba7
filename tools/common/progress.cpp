// Progress line rendering and the TTY/log policy described in progress.h.
#include "tools/common/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include "engine/error.h"

namespace brenier::tools {
namespace {

constexpr auto kMinRedrawInterval = std::chrono::milliseconds(200);  // ~5 redraws per second

bool running_under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && ci[0] != '\0';
}

// A line wider than the terminal wraps, and '\r' then redraws only its last part.
size_t terminal_columns(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 1) return size.ws_col;
  return 0;  // unknown: do not truncate
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<int64_t>(std::llround(seconds));
  int64_t hours = total / 3600, minutes = (total / 60) % 60, secs = total % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
  return fmt::format("{}:{:02}", minutes, secs);
}

std::string format_progress_line(const std::string& label, int64_t step, int64_t total,
                                 const std::map<std::string, double>& stats,
                                 double elapsed_seconds, int64_t first_step) {
  const int percent = static_cast<int>(step * 100 / total);
  std::string line = fmt::format("{} {}/{} {}%", label, step, total, percent);
  for (const auto& [name, value] : stats) line += fmt::format(" {}={:.4g}", name, value);
  if (step > first_step && elapsed_seconds > 0) {
    const double rate = static_cast<double>(step - first_step) / elapsed_seconds;
    line +=
        rate >= 1 ? fmt::format(" | {:.1f} it/s", rate) : fmt::format(" | {:.2f} s/it", 1 / rate);
    line += " | ETA " + format_duration(static_cast<double>(total - step) / rate);
  }
  return line;
}

Progress::Progress(std::string label, int64_t total, bool quiet, std::FILE* out)
    : label_(std::move(label)), total_(total), quiet_(quiet), out_(out) {
  BRENIER_CHECK(total_ > 0, "Progress: argument 'total' must be positive, got {}", total_);
  BRENIER_CHECK(out_ != nullptr, "Progress: argument 'out' must be an open FILE*, got null");
  interactive_ = ::isatty(::fileno(out_)) == 1 && !running_under_ci();
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_;
}

Progress::~Progress() {
  // A terminal line left mid-redraw (exception, early return) would be overwritten by the next
  // print.
  if (interactive_ && drawn_ && !finished_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

void Progress::resume_from(int64_t step) {
  BRENIER_CHECK(step >= 0 && step <= total_, "Progress::resume_from: argument 'step' must be in [0, {}], got {}", total_,
                step);
  first_step_ = last_step_ = step;
  last_decile_ = static_cast<int>(step * 10 / total_);  // log lines continue at the next tenth
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::emit(const std::string& line, bool final_line) {
  if (interactive_) {
    std::string shown = line;
    if (size_t columns = terminal_columns(out_); columns > 0 && shown.size() >= columns) {
      shown.resize(columns - 1);
    }
    // "\x1b[K" clears what is left of a longer previous line.
    std::fprintf(out_, "\r%s\x1b[K%s", shown.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
  drawn_ = true;
}

void Progress::update(int64_t step, const std::map<std::string, double>& stats) {
  BRENIER_CHECK(step >= 0 && step <= total_,
                "Progress::update: argument 'step' must be in [0, {}], got {}", total_, step);
  last_step_ = step;
  last_stats_ = stats;
  if (quiet_ || finished_) return;
  if (interactive_) {
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < kMinRedrawInterval && step != total_) return;
    last_draw_ = now;
    emit(format_progress_line(label_, step, total_, stats, elapsed_seconds(), first_step_), false);
    return;
  }
  const int decile = static_cast<int>(step * 10 / total_);
  if (decile > last_decile_) {
    last_decile_ = decile;
    emit(format_progress_line(label_, step, total_, stats, elapsed_seconds(), first_step_), false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (quiet_) return;
  std::string line =
      format_progress_line(label_, last_step_, total_, last_stats_, elapsed_seconds(), first_step_);
  if (interactive_) {
    emit(line, true);
  } else {
    std::string done = fmt::format("{} done: {}/{} steps in {}", label_, last_step_, total_,
                                   format_duration(elapsed_seconds()));
    for (const auto& [name, value] : last_stats_) done += fmt::format(" {}={:.4g}", name, value);
    emit(done, true);
  }
}

}  // namespace brenier::tools
