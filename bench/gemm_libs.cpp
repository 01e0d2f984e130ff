// Times row-major SGEMM (NN/NT/TN at MLP-layer shapes and 1024^3) for one library loaded with dlopen.
// Usage: gemm_libs <dnnl|cblas> <path-to-.so> <label>   (thread count comes from OMP/BLIS/OPENBLAS_NUM_THREADS)
// Shapes are labelled MxKxN. Built and driven by bench/gemm_libs.sh; one process per library so env vars (OPENBLAS_CORETYPE) apply at load.
#include <dlfcn.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using dnnl_fn = int (*)(char, char, long, long, long, float, const float*, long, const float*, long, float, float*, long);
using cblas_fn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

struct Shape { const char* name; bool ta, tb; int M, N, K; };

int main(int argc, char** argv) {
  if (argc < 4) { std::fprintf(stderr, "usage: %s dnnl|cblas lib.so label\n", argv[0]); return 2; }
  bool is_dnnl = std::string_view(argv[1]) == "dnnl";
  void* h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!h) { std::fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  auto dg = (dnnl_fn)dlsym(h, "dnnl_sgemm");
  auto cg = (cblas_fn)dlsym(h, "cblas_sgemm");
  int threads = std::atoi(std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "1");
  if (auto f = (void (*)(int))dlsym(h, "openblas_set_num_threads")) f(threads);
  if (auto f = (void (*)(long))dlsym(h, "bli_thread_set_num_threads")) f(threads);
  std::string core;
  if (auto f = (char* (*)())dlsym(h, "openblas_get_corename")) core = std::string(" core=") + f();
  if ((is_dnnl && !dg) || (!is_dnnl && !cg)) { std::fprintf(stderr, "symbol missing\n"); return 1; }

  // y = x W^T (x[32,784], W[128,784]); dX = dY W; dW = dY^T X; plus a big square NN.
  const Shape shapes[] = {{"fwd NT 32x784x128", false, true, 32, 128, 784},
                          {"dX  NN 32x128x784", false, false, 32, 784, 128},
                          {"dW  TN 128x32x784", true, false, 128, 784, 32},
                          {"NN 1024^3", false, false, 1024, 1024, 1024}};
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> U(-1, 1);
  for (const Shape& s : shapes) {
    // Stored sizes: A is MxK (or KxM if ta), B is KxN (or NxK if tb); row-major leading dims.
    std::vector<float> A((size_t)s.M * s.K), B((size_t)s.K * s.N), C((size_t)s.M * s.N), R(C.size());
    for (auto& v : A) v = U(rng);
    for (auto& v : B) v = U(rng);
    int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N, ldc = s.N;
    auto call = [&] {
      if (is_dnnl) dg(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), ldc);
      else cg(RowMajor, s.ta ? Trans : NoTrans, s.tb ? Trans : NoTrans, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), ldc);
    };
    // Correctness vs naive loop (double accumulation).
    call();
    double maxerr = 0;
    for (int i = 0; i < s.M; ++i)
      for (int j = 0; j < s.N; ++j) {
        double acc = 0;
        for (int k = 0; k < s.K; ++k)
          acc += (double)(s.ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                 (s.tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
        maxerr = std::max(maxerr, std::fabs(acc - C[(size_t)i * ldc + j]) / (1.0 + std::fabs(acc)));
      }
    // Warm-up ~0.2 s, then sample single calls for ~1 s (min 20); report median.
    using clk = std::chrono::steady_clock;
    auto t0 = clk::now();
    while (clk::now() - t0 < std::chrono::milliseconds(200)) call();
    std::vector<double> ts;
    t0 = clk::now();
    while (ts.size() < 20 || clk::now() - t0 < std::chrono::seconds(1)) {
      auto a = clk::now();
      call();
      ts.push_back(std::chrono::duration<double>(clk::now() - a).count());
    }
    std::nth_element(ts.begin(), ts.begin() + ts.size() / 2, ts.end());
    double med = ts[ts.size() / 2], gflops = 2.0 * s.M * s.N * s.K / med * 1e-9;
    std::printf("%-26s t=%d  %-18s %8.1f GFLOP/s  median %9.1f us  n=%zu  maxrelerr=%.1e %s%s\n", argv[3], threads,
                s.name, gflops, med * 1e6, ts.size(), maxerr, maxerr < 1e-4 ? "OK" : "FAIL", core.c_str());
  }
}
