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
/// An operand stored as uint8 and read as scale * u + offset (raw pixels before a Dense layer), rows x ld
/// contiguous. Each tile converts it into a buffer of its own thread, so no core reads another core's floats.
struct U8Operand {
  const uint8_t* data;
  float scale, offset;
  // non-zero: names this conversion of unchanged data (a layer's forward and its backward), so a thread that
  // still holds it from the forward skips converting again
  uint64_t tag = 0;
};
/// A fresh tag for U8Operand.
uint64_t new_u8_operand_tag();
/// What gemm_ex adds to a plain product: a bias row, a ReLU on the result (both applied by each tile to its own
/// part of C, while it is in cache), and uint8 operands (A or B, then the float pointer is ignored).
struct GemmExtra {
  const float* bias = nullptr;  // C = alpha op(A) op(B) + bias (beta ignored)
  bool relu = false;            // C = max(C, 0), NaN kept
  const U8Operand* a_u8 = nullptr;
  const U8Operand* b_u8 = nullptr;
  // A (as stored, same layout) read as 0 where a_relu_mask <= 0: the ReLU backward applied by each tile to the
  // part of A it reads (the mask is the ReLU's output, which the same thread wrote in the forward)
  const float* a_relu_mask = nullptr;
  float* a_row_sums = nullptr;  // (M): the sums of op(A)'s rows after masking (a linear layer's bias gradient)
};
void gemm_ex(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmExtra& extra);
/// C (M, N) = op(A) op(B) (+ bias, then max(., 0) when relu) for bf16 A, B and C (their bit patterns), accumulated
/// in f32 and rounded once to bf16 (nearest even, NaN kept, as PyTorch); bias is f32 or null. Through oneDNN's bf16
/// matmul, which picks AMX or AVX512-BF16 where the CPU has them (AVX-512 at least); on other CPUs the operands are
/// widened to f32 (exactly) for the f32 GEMM. Tiled by the shape alone, as the f32 GEMM: the same bits on any thread
/// count.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, uint16_t* C, int64_t ldc, const float* bias = nullptr,
               bool relu = false);
/// Tests: run gemm_bf16's f32 fallback even where oneDNN has bf16 kernels (both paths tested on any CPU).
void gemm_bf16_force_fallback(bool on);
/// The implementation gemm_bf16 runs on this CPU: oneDNN's name for its bf16 matmul kernel ("brg:avx512_core_amx",
/// "brg:avx512_core_bf16", ...) or "f32 fallback" (for benchmarks and their reports).
const char* gemm_bf16_impl();
/// Plain triple loop, the reference the fast path is tested against.
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace nerve::cpu
