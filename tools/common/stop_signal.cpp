// The stop-on-signal flag (see stop_signal.h).
#include "tools/common/stop_signal.h"

#include <fmt/format.h>

#include <csignal>

#include <signal.h>

namespace brenier::tools {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void record_stop(int signal) { g_signal = signal; }

struct sigaction g_previous_int, g_previous_term;

}  // namespace

StopOnSignal::StopOnSignal() {
  g_signal = 0;
  struct sigaction action {};
  action.sa_handler = record_stop;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the handler runs once; a second signal takes the default action and ends the process.
  // SA_RESTART: system calls interrupted by the first signal (a checkpoint's write) continue.
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool stop_requested() { return g_signal != 0; }

int stop_signal() { return static_cast<int>(g_signal); }

int Stopped::exit_code() const { return 128 + (stop_signal() != 0 ? stop_signal() : SIGINT); }

std::string stopped_message(const std::string& what, int64_t step, int64_t total,
                            const std::filesystem::path& checkpoint) {
  return fmt::format("{}: stopped at step {} of {}, saved in '{}'; continue with --resume", what, step, total,
                     checkpoint.string());
}

}  // namespace brenier::tools
