// Fused scaled dot-product attention kernels (FlashAttention-2 on the CPU): tiled, with an online softmax, so
// neither the forward nor the backward holds the L x S score matrix. Dao, "FlashAttention-2: Faster Attention with
// Better Parallelism and Work Partitioning" (2023), Algorithms 1 and 2. No autograd here.
#pragma once
#include <cstdint>
#include <vector>

namespace nerve::cpu {

/// One attention problem of BH independent (batch, head) slices, every operand contiguous per slice.
template <class T>
struct AttentionArgs {
  int64_t BH = 0, L = 0, S = 0, E = 0, Ev = 0;
  double scale = 1.0;  // multiplies q k^T (1/sqrt(E))
  const T* q = nullptr;  // q: (BH, L, E)
  const T* k = nullptr;  // k: (BH, S, E)
  const T* v = nullptr;  // v: (BH, S, Ev)
  // the mask, read as mask[mask_off[bh] + l * mask_sl + s * mask_ss] (strides may be 0: broadcast); at most one
  const bool* bool_mask = nullptr;  // true = attend (torch's convention)
  const T* add_mask = nullptr;      // added to the scaled scores
  std::vector<int64_t> mask_off;    // (BH)
  int64_t mask_sl = 0, mask_ss = 0;
  bool causal = false;  // key s is seen by query l only when s <= l (top-left aligned, torch's is_causal)
  // dropout of the attention probabilities: element (bh, l, s) is dropped when its hash of dropout_seed falls
  // below dropout_p; the kept ones are scaled by 1 / (1 - dropout_p). The backward recomputes the same drops.
  double dropout_p = 0.0;
  uint64_t dropout_seed = 0;
};

/// out: (BH, L, Ev); lse: (BH, L) the log-sum-exp of each row of the masked, scaled scores (+inf for a row in
/// which every key is masked: its output row is 0). Parallel over (bh, block of rows); results do not depend on the
/// thread count.
template <class T>
void attention_forward(const AttentionArgs<T>& a, T* out, T* lse);

/// Gradients from dout: (BH, L, Ev), given out and lse of the forward. dq: (BH, L, E), dk: (BH, S, E),
/// dv: (BH, S, Ev) are overwritten; dmask (BH, L, S) or null: the gradient of the additive mask, written in full
/// (only when the caller asked for it). Parallel over bh, or, with fewer slices than threads, over blocks of keys
/// (dK, dV) and then of queries (dQ); the results are the same either way.
template <class T>
void attention_backward(const AttentionArgs<T>& a, const T* out, const T* lse, const T* dout, T* dq, T* dk, T* dv,
                        T* dmask);

}  // namespace nerve::cpu
