// Transformer ops: fused scaled dot-product attention (FlashAttention-2 on the CPU) and RMS normalization.
#pragma once
#include <optional>

#include "nerve/core/shape.h"
#include "nerve/tensor/tensor.h"

namespace nerve {

/// softmax(q k^T / sqrt(E) + mask) v without the L x S matrix (PyTorch 2's F.scaled_dot_product_attention).
/// q: (..., L, E), k: (..., S, E), v: (..., S, Ev) with equal leading dims -> (..., L, Ev).
/// attn_mask: undefined for none, bool (true = attend) or floating (added to the scaled scores), broadcastable
/// to (..., L, S) and read through its strides (a key padding mask (B, 1, 1, S) is never expanded). A floating
/// mask that requires grad gets its gradient; the backward then writes dS in full, (..., L, S), the only case
/// that holds an L x S matrix. is_causal: query l sees keys s <= l (top-left aligned, as torch). A row whose keys
/// are all masked gives 0 output and 0 gradients (torch gives NaN). dropout_p: each probability dropped with
/// probability p and the rest scaled by 1/(1-p), from a seed drawn from the global generator (manual_seed makes it
/// reproducible); pass 0 in eval mode. Forward and backward are tiled with an online softmax (memory O(L + S)
/// per slice besides the operands), parallel over batch*heads (the forward also over blocks of 64 queries),
/// results independent of the thread count.
///   Tensor y = scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true);  // (B, H, T, D) causal
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                    bool is_causal = false);

/// x * rsqrt(mean(x^2 over normalized_shape) + eps) * weight (Zhang & Sennrich 2019, "Root Mean Square Layer
/// Normalization"; PyTorch 2.4's F.rms_norm). normalized_shape: the last dims of x; weight: that shape or
/// undefined; eps: nullopt (torch's None) means the epsilon of x's dtype.
///   Tensor y = rms_norm(x, {512}, w, 1e-6);
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                std::optional<double> eps = std::nullopt);

}  // namespace nerve
