// GEMM: f32 through oneDNN's dnnl_sgemm (chosen by bench/gemm_libs.sh), f64 through a simple blocked loop
// (f64 is only used for exact gradient checks on tiny tensors).
#include "backend/cpu/gemm.h"

#include <dnnl.h>
#include <omp.h>

#include "nerve/core/error.h"
#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {
// multiply-adds below which a GEMM stays on one thread (32x784x128, an MLP layer at batch 32, is 3.2M)
constexpr int64_t kParallelGemmMacs = int64_t{8} << 20;

template <class T>
void gemm_loop(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
               int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : c[j] * beta;
    for (int64_t k = 0; k < K; ++k) {
      T a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
      if (a == T(0)) continue;
      if (!tb) {
        const T* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      } else {
        for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
      }
    }
  }
}
}  // namespace

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : C[i * ldc + j] * beta;
    return;
  }
  // Small products run on one thread: the second thread saves at most a few microseconds there, and waiting
  // for it at the barrier costs milliseconds whenever another process holds that core.
  int threads = get_num_threads();
  bool serial = threads > 1 && M * N * K < kParallelGemmMacs;
  if (serial) omp_set_num_threads(1);
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (serial) omp_set_num_threads(threads);
  NERVE_ASSERT(st == dnnl_success, "dnnl_sgemm failed with status ", int(st));
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_loop(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_loop(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace nerve::cpu
