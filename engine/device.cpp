// Device parsing for CLIs and configs.
#include "engine/device.h"

#include "engine/error.h"

namespace brenier {

Device parse_device(const std::string& text, const char* what) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    std::string idx = text.substr(5);
    bool digits = !idx.empty() && idx.find_first_not_of("0123456789") == std::string::npos;
    BRENIER_CHECK(digits, "{}: expected 'cpu', 'cuda' or 'cuda:N', got '{}'", what, text);
    return Device::cuda(std::stoi(idx));
  }
  throw Error(fmt::format("{}: expected 'cpu', 'cuda' or 'cuda:N', got '{}'", what, text));
}

}  // namespace brenier
