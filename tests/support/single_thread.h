// SingleThreadScope: runs a test's scope on one OpenMP thread. Training-length tests use it so their
// time does not depend on whether something else holds a core (many small parallel regions slow down
// 3-30x then; one thread is only ~1.5x slower than two on an idle machine).
#pragma once
#include <omp.h>

class SingleThreadScope {
 public:
  SingleThreadScope() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadScope() { omp_set_num_threads(previous_); }
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  int previous_;
};
