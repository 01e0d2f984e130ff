// The one interface to the GEMM library (row-major C = alpha * op(A) op(B) + beta * C).
#pragma once
#include <cstdint>

namespace nerve::cpu {

// A: (M, K) or (K, M) if trans_a; B: (K, N) or (N, K) if trans_b; C: (M, N). ld* are row strides.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc);
/// C = op(A) op(B) + bias, the row vector bias (N) added to every row of C; each tile adds it to its own part.
void gemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
               const float* B, int64_t ldb, const float* bias, float* C, int64_t ldc);
void gemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
               const double* B, int64_t ldb, const double* bias, double* C, int64_t ldc);
/// Plain triple loop, the reference the fast path is tested against.
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace nerve::cpu
