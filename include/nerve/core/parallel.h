// One thread pool for nerve: its own workers (NERVE_NUM_THREADS or the core count, the caller included), used
// by every parallel loop and by the GEMM, which it splits into tiles (the GEMM library itself runs on one thread).
#pragma once
#include <cstdint>

namespace nerve {

/// Sets the number of threads nerve uses, the calling thread included.  nerve::set_num_threads(2);
/// Call it while no parallel loop is running.
void set_num_threads(int n);
int get_num_threads();

/// Elements per chunk below which an elementwise kernel does not split further (waking a thread costs more).
inline constexpr int64_t kParallelGrain = 16384;

namespace detail {
/// Runs body(ctx, i) for every i in [0, chunks), spread over the pool; the calling thread takes chunks too and
/// does any chunk no worker has started yet, so a busy or descheduled worker never makes it wait for work it
/// could do itself. Calls from inside a chunk, or while another thread owns the pool, run inline. An exception
/// thrown by a chunk is rethrown here after every chunk has finished.
void run_chunks(int64_t chunks, void (*body)(void*, int64_t), void* ctx);
bool in_parallel_region();
}  // namespace detail

/// Runs f(i) for i in [0, chunks) on the pool.
template <class F>
void parallel_chunks(int64_t chunks, const F& f) {
  if (chunks <= 0) return;
  if (chunks == 1) {
    f(int64_t{0});
    return;
  }
  detail::run_chunks(chunks, [](void* c, int64_t i) { (*static_cast<const F*>(c))(i); },
                     const_cast<void*>(static_cast<const void*>(&f)));
}

/// Runs f(begin, end) over [0, n) in up to get_num_threads() chunks of at least `grain` elements.
///   parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) { for (...) });
template <class F>
void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  int64_t chunks = grain > 0 ? n / grain : n;
  const int64_t nt = get_num_threads();
  if (chunks > nt) chunks = nt;
  if (chunks <= 1 || detail::in_parallel_region()) {
    f(int64_t{0}, n);
    return;
  }
  parallel_chunks(chunks, [&](int64_t i) { f(n * i / chunks, n * (i + 1) / chunks); });
}

}  // namespace nerve
