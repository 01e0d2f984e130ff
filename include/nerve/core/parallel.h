// One thread pool for nerve and its BLAS: OpenMP, sized by NERVE_NUM_THREADS or the core count.
#pragma once
#include <omp.h>

#include <cstdint>

namespace nerve {

/// Sets the number of threads nerve (and its GEMM library) use.  nerve::set_num_threads(2);
void set_num_threads(int n);
int get_num_threads();

/// Elements below which an elementwise kernel stays on one thread (waking a thread costs more).
inline constexpr int64_t kParallelGrain = 32768;

/// Runs f(begin, end) over [0, n) split across threads when n >= grain, else inline.
///   parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) { for (...) });
template <class F>
void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  if (n < grain || get_num_threads() == 1) {
    f(int64_t{0}, n);
    return;
  }
  int nt = get_num_threads();
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = t * chunk, e = b + chunk < n ? b + chunk : n;
    if (b < e) f(b, e);
  }
}

}  // namespace nerve
