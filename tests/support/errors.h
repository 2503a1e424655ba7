// error_of(f): the message of the brenier::Error that f throws, or "" when it throws none.
#pragma once
#include <string>

#include "engine/error.h"

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const brenier::Error& e) {
    return e.what();
  }
  return "";
}
