// brenier: one include for users of the library.
#pragma once
#include "engine/autograd/var.h"
#include "engine/ops/ops.h"
#include "engine/tensor.h"
