// Routes each primitive to its backend after checking the arguments once, here.
#include "engine/backend/cpu/cpu.h"
#include "engine/backend/primitives.h"

namespace brenier::prim {
namespace {

[[noreturn]] void no_backend(const char* op, Device d) {
  throw Error(fmt::format("{}: no backend for device {} in this build (CUDA lands with the GPU "
                          "issue); move the tensors to 'cpu'",
                          op, d.str()));
}

}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(x, "cast", "x");
  if (x.device().is_cpu()) return cpu::cast(x, dtype);
  no_backend("cast", x.device());
}

}  // namespace brenier::prim
