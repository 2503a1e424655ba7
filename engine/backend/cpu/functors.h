// The CPU backend's view of the shared element-wise math (engine/backend/functors.h, written once
// for host and device): the same names in namespace brenier::cpu.
#pragma once
#include "engine/backend/functors.h"
#include "engine/backend/primitives.h"

namespace brenier::cpu {
using fn::binary_fn;
using fn::BinaryTag;
using fn::normal_cdf;
using fn::normal_pdf;
using fn::stable_sigmoid;
using fn::unary_fn;
using fn::UnaryTag;
using fn::with_binary;
using fn::with_unary;
}  // namespace brenier::cpu
