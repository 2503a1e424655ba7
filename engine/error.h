// brenier::Error and BRENIER_CHECK: every bad argument becomes an exception whose message names
// the op, the argument, what was expected and what was given. The library throws; it never exits.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>
#include <string>

namespace brenier {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace brenier

// BRENIER_CHECK(cond, "matmul: argument 'b' must have {} rows, got {}", k, n)
#define BRENIER_CHECK(cond, ...)                                   \
  do {                                                             \
    if (!(cond)) throw ::brenier::Error(fmt::format(__VA_ARGS__)); \
  } while (0)
