// nerve's thread pool.
//
// One job at a time. A job of n chunks is cut into one contiguous range of chunks per thread (the caller is
// thread 0), so chunk i runs on the same thread in every job of the same size: a GEMM tile, the Adam update and
// the elementwise ops over the same tensor keep their data in that core's cache instead of moving it between
// cores each step. A thread runs its own range from the front, then steals from the back of the others' ranges,
// so a busy or descheduled thread never makes the others wait for work they could do themselves.
//
// Each range is one 64-bit word, generation:32 | front:16 | back:16, claimed by compare-exchange: a worker still
// holding a word of an older job can never claim a chunk of a newer one. Workers spin for a short while after a
// job (training steps issue jobs microseconds apart), then sleep on a futex (std::atomic::wait).
#include "nerve/core/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "nerve/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NERVE_CPU_RELAX() _mm_pause()
#else
#define NERVE_CPU_RELAX() ((void)0)
#endif

namespace nerve {

namespace {

thread_local bool t_in_region = false;

// How long a worker keeps spinning for the next job before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(300);
constexpr int64_t kMaxChunks = 0xffff;

constexpr uint64_t pack(uint32_t gen, uint64_t front, uint64_t back) {
  return (uint64_t{gen} << 32) | (front << 16) | back;
}

class Pool {
 public:
  explicit Pool(int threads)
      : n_(threads),
        // more threads than cores: a spinning worker would take the core from the one doing the work
        spin_(threads > static_cast<int>(std::thread::hardware_concurrency()) ? std::chrono::microseconds(0) : kSpin),
        ranges_(new Range[threads]) {
    workers_.reserve(threads - 1);
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker(t); });
  }
  ~Pool() {
    stop_.store(true);
    gen_.fetch_add(1);
    gen_.notify_all();
    for (auto& w : workers_) w.join();
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // false when another thread owns the pool (the caller then runs the job inline)
  bool try_run(int64_t chunks, void (*body)(void*, int64_t), void* ctx) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    body_ = body;
    ctx_ = ctx;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    const uint32_t g = gen_.load(std::memory_order_relaxed) + 1;
    for (int t = 0; t < n_; ++t)
      ranges_[t].word.store(pack(g, chunks * t / n_, chunks * (t + 1) / n_), std::memory_order_release);
    gen_.store(g, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) gen_.notify_all();
    t_in_region = true;
    work(g, 0);
    // wait for chunks that workers claimed; yield if that takes long (the worker may share our core)
    for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
      if (spins < (1 << 14))
        NERVE_CPU_RELAX();
      else
        std::this_thread::yield();
    }
    t_in_region = false;
    std::exception_ptr err = error_;
    busy_.store(false, std::memory_order_release);
    if (err) std::rethrow_exception(err);
    return true;
  }

 private:
  struct alignas(64) Range {
    std::atomic<uint64_t> word{0};
  };

  // Claims one chunk of job `g` from range r (its front when `own`, else its back); -1 when it is empty.
  int64_t claim(uint32_t g, int r, bool own) {
    std::atomic<uint64_t>& w = ranges_[r].word;
    uint64_t v = w.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t front = (v >> 16) & 0xffff, back = v & 0xffff;
      if (uint32_t(v >> 32) != g || front >= back) return -1;
      const uint64_t next = own ? pack(g, front + 1, back) : pack(g, front, back - 1);
      if (w.compare_exchange_weak(v, next, std::memory_order_acq_rel)) return int64_t(own ? front : back - 1);
    }
  }

  void run(int64_t i) {
    try {
      body_(ctx_, i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
  }

  // Thread `self` runs its own range of job g, then helps with the others'.
  void work(uint32_t g, int self) {
    for (int64_t i; (i = claim(g, self, true)) >= 0;) run(i);
    for (int k = 1; k < n_; ++k)
      for (int64_t i; (i = claim(g, (self + k) % n_, false)) >= 0;) run(i);
  }

  void worker(int self) {
    t_in_region = true;
    uint32_t seen = 0;
    for (;;) {
      uint32_t g = 0;
      auto spin_until = std::chrono::steady_clock::now() + spin_;
      for (int spins = 0;; ++spins) {
        if (stop_.load(std::memory_order_relaxed)) return;
        g = gen_.load(std::memory_order_acquire);
        if (g != seen) break;
        if ((spins & 63) != 63 || std::chrono::steady_clock::now() < spin_until) {
          NERVE_CPU_RELAX();
          continue;
        }
        // sleep: announce it, then wait while the generation is still the one seen (try_run wakes sleepers)
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        if (!stop_.load()) gen_.wait(seen, std::memory_order_seq_cst);
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        spin_until = std::chrono::steady_clock::now() + spin_;
      }
      seen = g;
      work(g, self);
    }
  }

  const int n_;
  const std::chrono::microseconds spin_;
  std::unique_ptr<Range[]> ranges_;
  std::vector<std::thread> workers_;
  alignas(64) std::atomic<uint32_t> gen_{0};
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false}, busy_{false};
  void (*body_)(void*, int64_t) = nullptr;
  void* ctx_ = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

int hardware_threads() {
  unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

void warn_oversubscribed(int n) {
  static std::once_flag once;
  std::call_once(once, [n] {
    std::fprintf(stderr, "nerve: warning: %d threads on %d hardware threads; the results are the same, but it runs "
                 "slower than with %d\n", n, hardware_threads(), hardware_threads());
  });
}

// NERVE_NUM_THREADS when it is a number in [1, kMaxThreads] (else a warning and the core count)
int initial_threads() {
  if (const char* s = std::getenv("NERVE_NUM_THREADS"); s && *s) {
    char* end = nullptr;
    long n = std::strtol(s, &end, 10);
    if (*end == '\0' && n >= 1 && n <= kMaxThreads) {
      if (n > hardware_threads()) warn_oversubscribed(static_cast<int>(n));
      return static_cast<int>(n);
    }
    std::fprintf(stderr, "nerve: warning: NERVE_NUM_THREADS='%s' is not a number in [1, %d]; using %d threads\n", s,
                 kMaxThreads, hardware_threads());
  }
  return hardware_threads();
}

struct State {
  std::mutex mutex;  // guards resizing
  int threads = initial_threads();
  std::unique_ptr<Pool> pool;  // created on first use
};

// Never destroyed: workers may still be parked in the pool while static destructors run at exit.
State& state() {
  static State* s = new State();
  return *s;
}

std::atomic<Pool*> g_pool{nullptr};

Pool* pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return p;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.pool) s.pool = std::make_unique<Pool>(s.threads);
  g_pool.store(s.pool.get(), std::memory_order_release);
  return s.pool.get();
}

}  // namespace

void set_num_threads(int n) {
  NERVE_CHECK(n >= 1 && n <= kMaxThreads, "set_num_threads: expected n in [1, ", kMaxThreads, "], got ", n);
  if (n > hardware_threads()) warn_oversubscribed(n);
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (n == s.threads) return;
  g_pool.store(nullptr, std::memory_order_release);
  s.pool.reset();
  s.threads = n;
}

int get_num_threads() { return state().threads; }

namespace detail {

bool in_parallel_region() { return t_in_region; }

void run_chunks(int64_t chunks, void (*body)(void*, int64_t), void* ctx) {
  if (chunks <= 0) return;
  if (t_in_region || get_num_threads() == 1 || chunks == 1) {
    for (int64_t i = 0; i < chunks; ++i) body(ctx, i);
    return;
  }
  Pool* p = pool();
  for (int64_t base = 0; base < chunks; base += kMaxChunks) {
    const int64_t n = std::min(kMaxChunks, chunks - base);
    struct Shifted {
      void (*body)(void*, int64_t);
      void* ctx;
      int64_t base;
    } sh{body, ctx, base};
    auto shifted = [](void* c, int64_t i) {
      auto* s = static_cast<Shifted*>(c);
      s->body(s->ctx, s->base + i);
    };
    if (!p->try_run(n, shifted, &sh))
      for (int64_t i = 0; i < n; ++i) body(ctx, base + i);
  }
}

}  // namespace detail

}  // namespace nerve
