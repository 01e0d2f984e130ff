// Thread count policy: NERVE_NUM_THREADS or the core count, shared by nerve's OpenMP loops and the GEMM library.
#include "nerve/core/parallel.h"
#include "nerve/core/error.h"

#include <omp.h>

#include <cstdlib>
#include <thread>

namespace nerve {

namespace {
int initial_threads() {
  if (const char* s = std::getenv("NERVE_NUM_THREADS")) {
    int n = std::atoi(s);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}
int& threads_ref() {
  static int n = [] {
    int t = initial_threads();
    omp_set_num_threads(t);
    return t;
  }();
  return n;
}
}  // namespace

void set_num_threads(int n) {
  NERVE_CHECK(n > 0, "set_num_threads: expected n >= 1, got ", n);
  threads_ref() = n;
  omp_set_num_threads(n);
}

int get_num_threads() { return threads_ref(); }

}  // namespace nerve
