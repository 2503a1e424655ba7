// W2Solver tests (being written).
#include <doctest/doctest.h>

#include "ot/solvers/w2_solver.h"
