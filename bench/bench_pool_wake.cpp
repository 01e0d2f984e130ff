// Wake-up latency of nerve's thread pool: the time of an almost empty 2-chunk parallel_chunks after the pool
// idled 0 / 0.1 / 1 / 10 / 100 ms, with the main thread sleeping or spinning meanwhile. Workers spin ~300 us
// after a job, then sleep on a futex.   bench_pool_wake [threads]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <nerve/nerve.h>

using namespace nerve;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  set_num_threads(threads);
  volatile int sink[64] = {};
  parallel_chunks(threads, [&](int64_t i) { sink[i] = 1; });  // create the pool
  std::printf("%-6s %10s %10s %10s %10s %10s   (median us, p90 in brackets, %d threads)\n", "main", "0 ms",
              "0.1 ms", "1 ms", "10 ms", "100 ms", threads);
  for (bool busy : {false, true}) {
    std::printf("%-6s", busy ? "busy" : "sleep");
    for (double idle_ms : {0.0, 0.1, 1.0, 10.0, 100.0}) {
      const int reps = idle_ms >= 100 ? 15 : idle_ms >= 10 ? 60 : 300;
      std::vector<double> t;
      for (int r = 0; r < reps; ++r) {
        const auto until = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(idle_ms * 1000));
        if (busy)
          while (Clock::now() < until) {
          }
        else if (idle_ms > 0)
          std::this_thread::sleep_until(until);
        auto t0 = Clock::now();
        parallel_chunks(threads, [&](int64_t i) { sink[i] = r; });
        t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
      std::sort(t.begin(), t.end());
      std::printf(" %6.1f (%5.1f)", t[t.size() / 2], t[t.size() * 9 / 10]);
    }
    std::printf("\n");
  }
  return 0;
}
