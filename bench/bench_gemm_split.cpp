// How to split a GEMM over nerve's pool, measured: for the shapes of the MLP and the char-LSTM, one thread vs two
// threads splitting the rows (M) or the columns (N) of C, the transposed product C^T = B op(A)^T for a weight B,
// and B transposed or not. The rules in src/backend/cpu/gemm.cpp and rnn.cpp come from this table.
//   bench_gemm_split [reps]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/gemm.h"

using namespace nerve;
using Clock = std::chrono::steady_clock;

namespace {
int g_reps = 2000;

double time_us(const std::function<void()>& f) {
  for (int i = 0; i < g_reps / 10 + 1; ++i) f();
  auto t0 = Clock::now();
  for (int i = 0; i < g_reps; ++i) f();
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / g_reps;
}

// One product C (M, N) = op(A) op(B), timed on one thread and split in two by rows and by columns.
void row(const char* name, bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  std::vector<float> A(M * K, 0.5f), B(K * N, 0.25f), C(M * N), Ct(N * M);
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  auto tile = [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    cpu::gemm(ta, tb, m1 - m0, n1 - n0, K, 1.f, ta ? A.data() + m0 : A.data() + m0 * lda, lda,
              tb ? B.data() + n0 * ldb : B.data() + n0, ldb, 0.f, C.data() + m0 * N + n0, N);
  };
  set_num_threads(1);
  const double one = time_us([&] { tile(0, M, 0, N); });
  set_num_threads(2);
  const int64_t hm = M / 2 / 8 * 8, hn = N / 2 / 16 * 16;
  const double by_rows = hm > 0 ? time_us([&] {
    parallel_chunks(2, [&](int64_t i) { tile(i ? hm : 0, i ? M : hm, 0, N); });
  }) : 0;
  const double by_cols = hn > 0 ? time_us([&] {
    parallel_chunks(2, [&](int64_t i) { tile(0, M, i ? hn : 0, i ? N : hn); });
  }) : 0;
  // C^T halves = B[rows] op(A)^T, only meaningful for B stored as (N, K) (a weight)
  const double transposed = tb && hn > 0 ? time_us([&] {
    parallel_chunks(2, [&](int64_t i) {
      const int64_t n0 = i ? hn : 0, n1 = i ? N : hn;
      cpu::gemm(false, !ta, n1 - n0, M, K, 1.f, B.data() + n0 * ldb, ldb, A.data(), lda, 0.f, Ct.data() + n0 * M, M);
    });
  }) : 0;
  const double gf = 2.0 * M * N * K / 1e3;
  std::printf("%-26s %c%c %5lld x %5lld x %5lld | 1 thread %8.1f us %5.0f GF | 2 threads: rows %8.1f, cols %8.1f",
              name, ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)M, (long long)N, (long long)K, one, gf / one, by_rows,
              by_cols);
  if (tb) std::printf(", C^T %8.1f", transposed);
  std::printf(" us\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_reps = std::atoi(argv[1]);
  std::printf("GEMM splits (us per product; GF on one thread). Columns of C^T = rows of a (N, K) weight B.\n");
  row("MLP fwd, W (out,in)", false, true, 32, 128, 784);
  row("MLP fwd, kernel (in,out)", false, false, 32, 128, 784);
  row("MLP dW (out,in)", true, false, 128, 784, 32);
  row("MLP dW (in,out)", true, false, 784, 128, 32);
  row("MLP fwd batch 128", false, true, 128, 128, 784);
  row("MLP dW batch 128", true, false, 128, 784, 128);
  row("inference, batch 1", false, true, 1, 128, 784);
  row("LSTM input projection", false, true, 2048, 1024, 128);
  row("LSTM step, W_hh", false, true, 16, 1024, 256);
  row("LSTM step, W_hh^T", false, false, 16, 1024, 256);
  row("LSTM step C^T = W_hh h^T", false, false, 1024, 16, 256);
  row("LSTM step C^T, h as B^T", false, true, 1024, 16, 256);
  row("LSTM bwd step, W_hh", false, false, 16, 256, 1024);
  row("LSTM bwd C^T = W_hh^T dG^T", true, false, 256, 16, 1024);
  row("LSTM bwd C^T, W_hh^T copy", false, false, 256, 16, 1024);
  row("LSTM bwd step, W_hh^T", false, true, 16, 256, 1024);
  row("LSTM dW_hh", true, false, 1024, 256, 2048);
  row("LSTM dW_hh from dG^T", false, false, 1024, 256, 2048);
  row("output layer (vocab 114)", false, true, 2048, 114, 256);
  row("output layer, W^T copy", false, false, 2048, 114, 256);
  row("output layer, N padded 128", false, true, 2048, 128, 256);
  row("output layer dX = dY W", false, false, 2048, 256, 114);
  row("output layer dW = dY^T X", true, false, 114, 256, 2048);
  row("square", false, false, 1024, 1024, 1024);
  return 0;
}
