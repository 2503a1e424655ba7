// run_cli's error-to-exit-code policy and the comma-separated integer list parser.
#include "tools/common/cli.h"

#include <fmt/format.h>

#include <charconv>

#include "engine/error.h"
#include "tools/common/stop_signal.h"

namespace brenier::tools {

int run_cli(CLI::App& app, int argc, const char* const* argv, const std::function<int()>& body,
            std::ostream& out, std::ostream& err) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version: not a failure
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes differ per error (106, 109, ...); tools promise 2 for every usage error.
    app.exit(e, out, err);
    return kExitUsageError;
  }
  try {
    return body();
  } catch (const Stopped& e) {  // a loop saved its state on Ctrl-C / SIGTERM: not an error
    err << "stopped: " << e.what() << "\n";
    return e.exit_code();
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    return kExitUsageError;
  } catch (const std::exception& e) {
    err << "internal error: " << e.what() << "\n";
    return kExitInternalError;
  } catch (...) {
    err << "internal error: unknown exception\n";
    return kExitInternalError;
  }
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<int64_t> parse_int_list(std::string_view text, std::string_view flag) {
  BRENIER_CHECK(!trim(text).empty(),
                "{}: expected a comma-separated list of integers such as 2,4,8, got an empty value",
                flag);
  std::vector<int64_t> values;
  size_t start = 0;
  for (int item = 1;; ++item) {
    size_t comma = text.find(',', start);
    std::string_view piece =
        trim(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    BRENIER_CHECK(!piece.empty(),
                  "{}: expected a comma-separated list of integers such as 2,4,8, got '{}' (item "
                  "{} is empty)",
                  flag, text, item);
    // from_chars rejects a leading '+', which users may type; accept it (but not "+-3").
    const bool plus = piece.front() == '+';
    std::string_view digits = plus ? piece.substr(1) : piece;
    int64_t value = 0;
    std::from_chars_result parsed{digits.data(), std::errc::invalid_argument};
    if (!digits.empty() && !(plus && digits.front() == '-')) {
      parsed = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    }
    BRENIER_CHECK(parsed.ec != std::errc::result_out_of_range,
                  "{}: item {} '{}' in '{}' is out of the 64-bit integer range", flag, item, piece,
                  text);
    BRENIER_CHECK(
        parsed.ec == std::errc{} && parsed.ptr == digits.data() + digits.size(),
        "{}: expected a comma-separated list of integers such as 2,4,8, got '{}' (item {} '{}' "
        "is not an integer)",
        flag, text, item, piece);
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return values;
}

std::vector<std::string> parse_name_list(std::string_view text, std::string_view flag, bool allow_empty) {
  std::vector<std::string> items;
  if (allow_empty && trim(text).empty()) return items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = trim(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    BRENIER_CHECK(!item.empty(), "{}: empty item in '{}'", flag, text);
    items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

}  // namespace brenier::tools
