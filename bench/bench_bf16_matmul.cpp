// bf16 matmul against f32 matmul in one process (issue 12: bf16 at 1024^3 >= 1.6x the f32 GFLOP/s on a CPU with
// AVX512-BF16 or AMX). Rounds alternate the two dtypes on the same shapes; prints each round, the medians in
// GFLOP/s and the ratio, and which kernel oneDNN picked for bf16 ("f32 fallback" on a CPU without AVX-512).
//   bench_bf16_matmul [rounds=8] [calls=10]      (threads: NERVE_NUM_THREADS)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/gemm.h"

using namespace nerve;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// GFLOP/s of `calls` products y = a @ b (after one warm-up call)
double gflops(const Tensor& a, const Tensor& b, int calls) {
  Tensor y = matmul(a, b);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) y = matmul(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * double(a.shape()[0]) * double(a.shape()[1]) * double(b.shape()[1]) * calls / s / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 8, calls = argc > 2 ? std::atoi(argv[2]) : 10;
  manual_seed(1);
  struct Shape3 {
    const char* name;
    int64_t m, k, n;
  };
  const std::vector<Shape3> shapes = {{"1024^3", 1024, 1024, 1024}, {"MLP forward 256x784x128", 256, 784, 128}};
  std::printf("bf16 kernel: %s; %d threads, %d rounds of %d calls\n", cpu::gemm_bf16_impl(), get_num_threads(), rounds,
              calls);
  for (const Shape3& s : shapes) {
    const Tensor a = randn({s.m, s.k}), b = randn({s.k, s.n});
    const Tensor a16 = a.to(DType::bf16), b16 = b.to(DType::bf16);
    const int n = s.m * s.k * s.n >= (int64_t{1} << 28) ? calls : calls * 20;
    std::vector<double> f32, bf16;
    for (int r = 0; r < rounds; ++r) {
      f32.push_back(gflops(a, b, n));
      bf16.push_back(gflops(a16, b16, n));
      std::printf("  %-24s round %d: f32 %7.1f  bf16 %7.1f GFLOP/s\n", s.name, r + 1, f32.back(), bf16.back());
    }
    const double mf = median(f32), mb = median(bf16);
    std::printf("%-26s f32 %7.1f  bf16 %7.1f GFLOP/s (medians)  bf16 / f32 = %.2fx\n", s.name, mf, mb, mb / mf);
  }
  return 0;
}
