// libgomp wake-up latency: time of an empty `#pragma omp parallel` after the pool idled 0/1/10/100 ms
// (main thread either sleeping or busy meanwhile). Run under different OMP_WAIT_POLICY / GOMP_SPINCOUNT settings.
// Build: g++ -O2 -fopenmp bench/omp_wake.cpp -o omp_wake ; usage: OMP_WAIT_POLICY=active ./omp_wake [label]
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

using clk = std::chrono::steady_clock;
volatile int sink[64];  // a store per thread so GCC cannot drop the "empty" region

int main(int argc, char** argv) {
  const char* label = argc > 1 ? argv[1] : "default";
  #pragma omp parallel
  sink[omp_get_thread_num()] = 1;  // create the pool
  for (int busy = 0; busy <= 1; ++busy) {
    std::printf("%-22s threads=%d main=%-5s", label, omp_get_max_threads(), busy ? "busy" : "sleep");
    for (int idle_us : {0, 1000, 10000, 100000}) {
      int reps = idle_us == 0 ? 2000 : std::min(300, 3000000 / idle_us);
      std::vector<double> ts;
      for (int r = 0; r < reps; ++r) {
        auto until = clk::now() + std::chrono::microseconds(idle_us);
        if (busy) while (clk::now() < until) {}
        else if (idle_us) std::this_thread::sleep_until(until);
        auto t0 = clk::now();
        #pragma omp parallel
        sink[omp_get_thread_num()] = r;
        ts.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
      }
      std::sort(ts.begin(), ts.end());
      std::printf(" | idle %3dms: med %6.1f p90 %6.1f us", idle_us / 1000, ts[ts.size() / 2], ts[ts.size() * 9 / 10]);
    }
    std::printf("\n");
  }
}
