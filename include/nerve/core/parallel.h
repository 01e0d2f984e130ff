// One thread pool for nerve: its own workers (NERVE_NUM_THREADS or the core count, the caller included), used
// by every parallel loop and by the GEMM, which it splits into tiles (the GEMM library itself runs on one thread).
#pragma once
#include <cstdint>

namespace nerve {

/// Sets the number of threads nerve uses, the calling thread included.  nerve::set_num_threads(2);
/// Call it while no parallel loop is running. n must be in [1, kMaxThreads]; more threads than the hardware has
/// are allowed (results never depend on the thread count) but warned about once on stderr, since they run slower.
void set_num_threads(int n);
int get_num_threads();

/// The most threads set_num_threads accepts.
inline constexpr int kMaxThreads = 256;

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

/// Chunk boundaries of parallel_for with a grain of at least this are multiples of it (in elements): every element
/// then takes the same path through a kernel (vector body or remainder loop) at any thread count, so the results
/// are bit-identical whatever the thread count.
inline constexpr int64_t kChunkAlign = 64;

/// Runs f(begin, end) over [0, n) in up to get_num_threads() chunks of at least `grain` elements; with
/// grain >= kChunkAlign every boundary is a multiple of kChunkAlign.
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
  // chunks of >= grain >= kChunkAlign elements: rounding the inner boundaries down keeps every chunk non-empty
  const int64_t align_mask = grain >= kChunkAlign ? ~(kChunkAlign - 1) : ~int64_t{0};
  parallel_chunks(chunks, [&](int64_t i) {
    f((n * i / chunks) & align_mask, i + 1 == chunks ? n : (n * (i + 1) / chunks) & align_mask);
  });
}

}  // namespace nerve
