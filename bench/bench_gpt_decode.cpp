// Time per generated token of examples/gpt's model (the benchmark configuration: 4 layers, width 256, 4 heads,
// ff 1024, context 128, vocabulary 114) with the KV cache, for the one-pass single-query attention path
// (KVCache::one_pass, what generation runs) against the general op path (chunk / reshape / copy_ / tiled attention),
// interleaved in rounds so that both see the same machine load. Each round fills the cache with a 4-token prompt,
// then decodes 120 tokens one at a time (greedy, as nn::generate's loop would feed them) on `threads` threads
// (nn::generate runs on the caller's count; examples/gpt's default is 2). Prints wall and thread-CPU microseconds per token (medians over rounds) and tokens/s.
//   bench_gpt_decode [rounds=15] [threads=1]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <nerve/nerve.h>

#include "../examples/gpt/gpt.h"

using namespace nerve;

namespace {
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  set_num_threads(threads);
  manual_seed(0);
  gpt::GPT model({.vocab = 114, .context = 128, .layers = 4, .heads = 4, .width = 256, .ff = 1024});
  model.eval();
  NoGradGuard no_grad;
  const int64_t new_tokens = 120;
  std::vector<double> wall[2], cpu[2];
  int64_t check[2] = {0, 0};
  for (int r = 0; r < rounds + 1; ++r)
    for (int path = 0; path < 2; ++path) {
      gpt::KVCache cache;
      cache.one_pass = path == 0;
      Tensor logits = model.decode(from_vector(std::vector<int64_t>{5, 17, 33, 2}, {1, 4}), cache);
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = thread_cpu_s();
      int64_t sum = 0;
      for (int64_t i = 0; i < new_tokens; ++i) {
        const Tensor rows = logits.reshape({-1, 114});
        const int64_t next = argmax(rows.select(0, rows.size(0) - 1), 0).item<int64_t>();
        sum += next;
        logits = model.decode(from_vector(std::vector<int64_t>{next}, {1, 1}), cache);
      }
      const double c1 = thread_cpu_s();
      const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      check[path] = sum;
      if (r == 0) continue;  // warm-up round
      wall[path].push_back(1e6 * w / double(new_tokens));
      cpu[path].push_back(1e6 * (c1 - c0) / double(new_tokens));
    }
  std::printf("# examples/gpt decode, bench configuration, %d thread(s), %d rounds x %ld tokens; load %s", threads, rounds,
              long(new_tokens), [] {
                static char buf[64] = "?\n";
                if (FILE* f = std::fopen("/proc/loadavg", "r")) {
                  if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
                  std::fclose(f);
                }
                return buf;
              }());
  const char* names[2] = {"one-pass attention (generation)", "general op path"};
  for (int p = 0; p < 2; ++p)
    std::printf("%-32s wall %7.1f us/token (%6.0f tokens/s)  thread CPU %7.1f us/token (%6.0f tokens/s)\n", names[p],
                median(wall[p]), 1e6 / median(wall[p]), median(cpu[p]), 1e6 / median(cpu[p]));
  std::printf("speed-up (thread CPU): %.3fx; same greedy tokens on both paths: %s\n", median(cpu[1]) / median(cpu[0]),
              check[0] == check[1] ? "yes" : "NO");
  return check[0] == check[1] ? 0 : 1;
}
