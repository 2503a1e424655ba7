// Command-line conventions shared by every tool, so all of them fail the same way:
// exit 0 after --help, 2 for a usage error (bad flag, bad value, brenier::Error from the run),
// 1 for an unexpected internal error, 128 + signal after a run stopped on Ctrl-C / SIGTERM and saved its state
// (tools::Stopped, stop_signal.h). Messages go to stderr, prefixed "error: " / "internal error: " / "stopped: ".
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace brenier::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternalError = 1;
inline constexpr int kExitUsageError = 2;

// Parses argv with `app`, then runs `body` and returns its exit code. Parse errors print CLI11's
// own message (to `err`; --help text goes to `out`) and return 2 without running `body`.
int run_cli(CLI::App& app, int argc, const char* const* argv, const std::function<int()>& body,
            std::ostream& out = std::cout, std::ostream& err = std::cerr);

// "2,4,8" -> {2, 4, 8}. Spaces around items are allowed; empty items, trailing commas, non-integers
// and out-of-range values throw brenier::Error naming `flag` (e.g. "--dims") and the bad item.
std::vector<int64_t> parse_int_list(std::string_view text, std::string_view flag);

// "a, b,c" -> {"a", "b", "c"} (spaces around items trimmed). An empty item ("a,,b", "a,") throws
// brenier::Error naming `flag`; so does an empty value unless `allow_empty` (then "" -> {}).
std::vector<std::string> parse_name_list(std::string_view text, std::string_view flag, bool allow_empty = false);

}  // namespace brenier::tools
