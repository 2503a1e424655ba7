// Stopping long work cleanly on Ctrl-C (SIGINT) or SIGTERM (what a cluster's scheduler sends before it kills a
// job). While a StopOnSignal is alive, the first such signal only raises a flag; training loops look at it
// between steps (stop_requested()), save a checkpoint and throw Stopped, which run_cli turns into the exit code
// 128 + signal number (130 for Ctrl-C) after printing where the run can be continued. A second signal ends the
// process at once (the default action), as users expect of a second Ctrl-C.
#pragma once
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace brenier::tools {

class StopOnSignal {
 public:
  StopOnSignal();   // installs the handlers for SIGINT and SIGTERM and clears the flag
  ~StopOnSignal();  // restores the handlers that were there before
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
};

// True once SIGINT or SIGTERM arrived while a StopOnSignal was alive.
bool stop_requested();
// The signal that asked to stop (SIGINT, SIGTERM), 0 when none did.
int stop_signal();

// Thrown by a loop that stopped on request after saving its state; what() says how to continue.
class Stopped : public std::runtime_error {
 public:
  explicit Stopped(const std::string& message) : std::runtime_error(message) {}
  // 128 + the signal number (the shell's convention for a process ended by a signal); 130 when none is known.
  int exit_code() const;
};

// The message of a loop that saved `checkpoint` at `step` of `total` and stops:
// "<what>: stopped at step 40 of 500, saved in '<checkpoint>'; continue with --resume".
std::string stopped_message(const std::string& what, int64_t step, int64_t total,
                            const std::filesystem::path& checkpoint);

}  // namespace brenier::tools
