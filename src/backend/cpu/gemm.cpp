// GEMM: f32 through oneDNN's dnnl_sgemm (chosen by bench/gemm_libs.sh), f64 through a simple blocked loop
// (f64 is only used for exact gradient checks on tiny tensors).
#include "backend/cpu/gemm.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "nerve/core/error.h"
#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {
// multiply-adds per tile below which a GEMM is not split further (a pool round trip costs ~1 us)
constexpr int64_t kMinTileMacs = int64_t{1} << 19;

// The GEMM library runs on the thread that calls it: nerve splits the product into tiles on its own pool.
void gemm_library_single_threaded() {
  thread_local bool done = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)done;
}

// bias (N) or null: C = alpha op(A) op(B) + bias in every row (beta is then ignored)
void sgemm_tile(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias = nullptr) {
  gemm_library_single_threaded();
  if (bias) {
    for (int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, C + i * ldc);
    beta = 1.f;
  }
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  NERVE_ASSERT(st == dnnl_success, "dnnl_sgemm failed with status ", int(st), " (", ta ? "T" : "N", tb ? "T" : "N", " M=", M,
               " N=", N, " K=", K, " lda=", lda, " ldb=", ldb, " ldc=", ldc, ")");
}

// Start of part i of n split into `parts`, rounded to `align`.
int64_t split_edge(int64_t n, int64_t parts, int64_t align, int64_t i) {
  return i >= parts ? n : std::min(n, (n * i / parts + align / 2) / align * align);
}

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

namespace {
void gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = bias ? bias[j] : beta == 0.f ? 0.f : C[i * ldc + j] * beta;
    return;
  }
  // Tiles: one per thread while each keeps kMinTileMacs, split so that each thread owns a slice of the largest
  // operand. Tile t runs on thread t in every call, so when B is a weight (the largest operand of a forward
  // product) each core reads only its rows of it, and the optimizer's split of the same tensor updates the same
  // rows on the same core: measured, the MLP's Adam step took 56 us with W shared by both cores and 20 us owned.
  // Otherwise rows (bench/bench_gemm_split.cpp: as fast or faster than columns on every MLP, LSTM and square shape), in
  // multiples of 8; columns in multiples of 16.
  // Work counts the multiply-adds and, for products too thin to reuse their operands (a GEMV at batch 1),
  // ~16 per element of the largest operand: reading a weight from memory is what such a product waits on.
  const int64_t work = std::max(M * N * K, 16 * std::max({M * K, K * N, M * N}));
  const int64_t tiles = std::min<int64_t>(get_num_threads(), work / kMinTileMacs);
  const bool by_cols = K * N >= M * K && K * N >= M * N;
  int64_t pm = 1, pn = 1;
  for (int64_t f = tiles; f >= 1 && tiles > 1; --f) {
    if (tiles % f) continue;
    const int64_t a = by_cols ? tiles / f : f, b = tiles / a;
    if ((a == 1 || M / a >= 8) && (b == 1 || N / b >= 16)) {
      pm = a, pn = b;
      break;
    }
  }
  const bool serial = pm * pn <= 1 || detail::in_parallel_region();
  if (serial) pm = pn = 1;
  // B transposed (an (N, K) weight) and few rows of A: the library is faster on the transposed product
  // C^T = B op(A)^T than on C directly, up to 2.6x for a small layer (32x10x128: 1.09 vs 2.85 us) and 1.5x for
  // column tiles (bench/bench_gemm_split.cpp); C^T is small here, so it goes through a per-thread buffer.
  if (pm == 1 && tb && (pn > 1 || (M >= 2 && M <= 256))) {
    auto tile = [&](int64_t j) {
      const int64_t n0 = split_edge(N, pn, 16, j), n1 = split_edge(N, pn, 16, j + 1), w = n1 - n0;
      if (w <= 0) return;
      thread_local std::vector<float> buf;
      if (buf.size() < size_t(w * M)) buf.resize(w * M);
      sgemm_tile(false, !ta, w, M, K, 1.f, B + n0 * ldb, ldb, A, lda, 0.f, buf.data(), M);
      for (int64_t i = 0; i < M; ++i) {
        float* c = C + i * ldc + n0;
        if (bias)
          for (int64_t q = 0; q < w; ++q) c[q] = alpha * buf[q * M + i] + bias[n0 + q];
        else if (beta == 0.f)
          for (int64_t q = 0; q < w; ++q) c[q] = alpha * buf[q * M + i];
        else
          for (int64_t q = 0; q < w; ++q) c[q] = alpha * buf[q * M + i] + beta * c[q];
      }
    };
    if (pn == 1)
      tile(0);
    else
      parallel_chunks(pn, tile);
    return;
  }
  if (serial) return sgemm_tile(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
  parallel_chunks(pm * pn, [&](int64_t t) {
    const int64_t i = t / pn, j = t % pn;
    const int64_t m0 = split_edge(M, pm, 8, i), m1 = split_edge(M, pm, 8, i + 1);
    const int64_t n0 = split_edge(N, pn, 16, j), n1 = split_edge(N, pn, 16, j + 1);
    if (m0 >= m1 || n0 >= n1) return;
    const float* a = ta ? A + m0 : A + m0 * lda;
    const float* b = tb ? B + n0 * ldb : B + n0;
    sgemm_tile(ta, tb, m1 - m0, n1 - n0, K, alpha, a, lda, b, ldb, beta, C + m0 * ldc + n0, ldc,
               bias ? bias + n0 : nullptr);
  });
}
}  // namespace

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

void gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
               int64_t ldb, const float* bias, float* C, int64_t ldc) {
  gemm_f32(ta, tb, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc, bias);
}

void gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
               int64_t ldb, const double* bias, double* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) std::copy(bias, bias + N, C + i * ldc);
  gemm_loop(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 1.0, C, ldc);
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
