// The op set (PyTorch names, argument orders and broadcasting). Every differentiable op records its backward.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nerve/core/param_macros.h"
#include "nerve/ops/random.h"
#include "nerve/tensor/tensor.h"

namespace nerve {

// ---------------------------------------------------------------- views (no copy) and copies
Tensor reshape(const Tensor& x, const Shape& shape);  // one dim may be -1; copies only when a view is impossible
Tensor view(const Tensor& x, const Shape& shape);     // like reshape, but throws when a view is impossible
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
/// x[start:end:step] along dim (end is clamped, negatives wrap).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a dim
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType d);  // differentiable between floating types
Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
/// Sums a broadcast gradient back to `shape` (the backward of expand).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---------------------------------------------------------------- elementwise binary (broadcasting)
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// comparisons give bool tensors
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// logical ops: nonzero (NaN included) is true; bool results, no gradient
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
/// A double is a floating scalar, as a Python float: an integer or bool tensor with it gives f32
/// (i64 tensor * 2.0 is f32), a floating tensor keeps its dtype.
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);

// ---------------------------------------------------------------- elementwise unary
// One function per line of unary_ops.def (neg, exp, log, sqrt, abs, relu, leaky_relu(x, negative_slope = 0.01),
// sigmoid, tanh, gelu, ...): Tensor name(const Tensor& x [, double param = default ...]).
#define NERVE_UNARY(name, params, ...) Tensor name(const Tensor& x NERVE_PARAM_DECL(params));
#define NERVE_UNARY_FAST NERVE_UNARY
#define NERVE_UNARY_HIDDEN(...)
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
/// approximate: "none" (the erf form) or "tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch.
Tensor gelu(const Tensor& x, const std::string& approximate);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
/// x * scale + offset in f32 for an integer x (raw u8 images: one fused pass, the two roundings of
/// x.float() * scale + offset, as PyTorch's), in x's dtype for a floating x.  rescale(images, 1.0 / 255, 0.0)
Tensor rescale(const Tensor& x, double scale, double offset = 0.0);

// ---------------------------------------------------------------- reductions (dims empty = all dims)
Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
/// Variance with Bessel's correction by default (PyTorch: correction=1).
Tensor var(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
/// Standard deviation, sqrt(var(x, dims, correction, keepdim)); its gradient is 0 where the result is 0 (as torch).
///   std(x, {1});  std(x, {}, 0, true)
Tensor std(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor min(const Tensor& x);
/// (values, indices) along dim.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
/// (values, indices) of the k largest (smallest when !largest) elements along dim, in descending (ascending) order
/// when sorted, NaN counted as the largest; the order of ties and of unsorted results is torch's CPU order.
///   auto [v, i] = topk(logits, 5);
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim = false);
/// The smallest value over dims (all when empty); tied minima share the gradient evenly (as torch.amin).
///   amin(x, {0, 2}, true)
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim = false);
/// log(sum(exp(x))) over dims (all when empty), computed stably as torch: the max is subtracted first, a row of
/// -inf gives -inf, a row holding +inf gives +inf.  logsumexp(scores, {-1})
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
/// The p-norm over dims (all when empty), torch.norm with a number p: p = 2 (Euclidean), 1, inf (largest |x|),
/// -inf, 0 (count of non-zeros) or any other p, (sum |x|^p)^(1/p). Gradients as torch: 0 at a zero norm.
///   norm(x, 2);  norm(x, INFINITY, {1}, true)
Tensor norm(const Tensor& x, double p, const Shape& dims = {}, bool keepdim = false);
/// Running sum along dim; integer and bool tensors give i64 (as torch).  cumsum(x, -1)
Tensor cumsum(const Tensor& x, int64_t dim);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---------------------------------------------------------------- linear algebra
/// PyTorch's matmul: 1-D dot, 2-D mm, batched with broadcasting of the batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
/// Batched matrix product of 3-D tensors of one floating dtype: (B, n, m) @ (B, m, p) -> (B, n, p); no broadcasting
/// (matmul broadcasts).  bmm(q, transpose(k, 1, 2))
Tensor bmm(const Tensor& a, const Tensor& b);
/// beta * input + alpha * bmm(batch1, batch2), input broadcast to (B, n, p); beta = 0 ignores input (NaN in it
/// does not propagate), as torch.  baddbmm(bias, q, k, 1.0, 0.125)
Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta = 1.0, double alpha = 1.0);
/// y = x W^T + b fused (x: (N, in), W: (out, in), b: (out) or undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
/// relu(x W^T + b) as one op (what a Dense(units, "relu") layer computes): no separate ReLU pass or node.
Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
/// linear(x * scale + offset, W, b), then ReLU if `relu`, for uint8 x (raw pixels: Keras's Rescaling before a
/// Dense layer) without a float copy of x: each thread converts x for its own part of the product, forward and
/// backward. No gradient flows into x.  linear_u8(images, 1.0 / 255, 0.0, w, b, true)
Tensor linear_u8(const Tensor& x, double scale, double offset, const Tensor& weight, const Tensor& bias = Tensor(),
                 bool relu = false);

/// The lower (tril) or upper (triu) triangle of the last two dims, batched over the others: elements (i, j) with
/// j - i <= diagonal (tril) or j - i >= diagonal (triu) are kept, the others set to 0.  tril(scores, -1)
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);

// ---------------------------------------------------------------- selection and indexing
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
/// The elements of x where mask (bool) is true, x and mask broadcast together, as a 1-D tensor in row-major order.
///   masked_select(scores, gt(scores, zeros({})))
Tensor masked_select(const Tensor& x, const Tensor& mask);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
/// out = x, then out[index[i][j]][j] += src[i][j] (dim 0 example).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
/// out = x, then out.select(dim, index[i]) += alpha * source.select(dim, i); source has x's shape except
/// index.numel() at dim (repeated indices add up).  index_add(counts, 0, labels, ones({n, 1}))
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha = 1.0);
/// out = x, then out[index[i][j]][j] = src[i][j] (dim 0 example); repeated indices keep one of their values. The
/// gradient of x is 0 where src was written, src's is the gradient gathered at the index.
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
/// (N...) int64 labels -> (N..., num_classes) int64.
Tensor one_hot(const Tensor& labels, int64_t num_classes = -1);

// ---------------------------------------------------------------- vision: convolution, pooling, normalization
/// The padding of a convolution: one value for both sides of H and W, two (H, W), or "same" (stride 1; the
/// output keeps H and W, any odd total padding going to the bottom and right, as torch) or "valid" (none).
struct ConvPadding {
  Shape values{0};
  std::string mode;  // "", "same" or "valid"
  ConvPadding() = default;
  ConvPadding(std::initializer_list<int64_t> v) : values(v) {}
  ConvPadding(const Shape& v) : values(v) {}
  ConvPadding(int64_t v) : values{v} {}
  template <size_t N>
  ConvPadding(const char (&m)[N]) : mode(m) {}  // a literal: "same", "valid"
  ConvPadding(const std::string& m) : mode(m) {}
};
/// PyTorch's conv2d: x (N, C, H, W), weight (O, C / groups, kH, kW), bias (O) or undefined -> (N, O, Ho, Wo).
/// stride and dilation: one value or (H, W); groups = C gives a depthwise convolution.
///   conv2d(x, w, b, {1}, {1});  conv2d(x, w, Tensor(), {1}, "same", {2});  conv2d(x, dw, b, {1}, {1}, {1}, C)
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Shape& stride = {1},
              const ConvPadding& padding = {}, const Shape& dilation = {1}, int64_t groups = 1);
/// max_pool2d(relu(conv2d(x, weight, bias, ...)), 2) as one op: the 2x2 max pool of stride 2 after a convolution and
/// ReLU (a CNN's Conv2d -> ReLU -> MaxPool2d(2)). In f32 the pooling reads each piece of the batch's convolution
/// output in oneDNN's layout, and the backward builds the convolution output's gradient there, so the full-size
/// output is never reordered, stored or read again; the same bits as the three ops.
Tensor conv2d_relu_max_pool2x2(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                               const Shape& stride = {1}, const ConvPadding& padding = {}, const Shape& dilation = {1},
                               int64_t groups = 1);
/// PyTorch's max_pool2d over (N, C, H, W): kernel_size, stride (empty: the kernel size), padding (at most half
/// the kernel; padding counts as -inf), dilation, ceil_mode.  max_pool2d(x, {2})
Tensor max_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride = {}, const Shape& padding = {0},
                  const Shape& dilation = {1}, bool ceil_mode = false);
/// max_pool2d and the flat index (h * W + w) of each maximum in its input plane (torch's return_indices=True).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Shape& kernel_size, const Shape& stride = {},
                                                  const Shape& padding = {0}, const Shape& dilation = {1},
                                                  bool ceil_mode = false);
/// PyTorch's avg_pool2d over (N, C, H, W); count_include_pad: padded zeros count in the divisor.
///   avg_pool2d(x, {3}, {2}, {1}, false, false)
Tensor avg_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride = {}, const Shape& padding = {0},
                  bool ceil_mode = false, bool count_include_pad = true);
/// Averages (N, C, H, W) over windows chosen to give output_size (one value or (Ho, Wo)), as torch.
///   adaptive_avg_pool2d(features, {1})   // global average pooling, (N, C, 1, 1)
Tensor adaptive_avg_pool2d(const Tensor& x, const Shape& output_size);
/// PyTorch's batch_norm over (N, C, ...): training normalizes with the batch's mean and biased variance and, when
/// the running stats are given, updates them in place: r = (1 - momentum) r + momentum * stat, the variance
/// unbiased. Otherwise the running stats normalize. weight, bias: (C) or undefined.
///   batch_norm(x, rm, rv, gamma, beta, true, 0.1, 1e-5)
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);
/// Normalizes over the last dims (normalized_shape), then weight * x + bias (of normalized_shape), as torch.
///   layer_norm(x, {768}, gamma, beta)
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
/// Normalizes (N, C, ...) over each group of C / num_groups channels, then a per-channel weight and bias, as torch.
///   group_norm(x, 8, gamma, beta)
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

/// PyTorch's conv_transpose2d (the adjoint of conv2d, "deconvolution"): x (N, Cin, H, W), weight
/// (Cin, Cout / groups, kH, kW), bias (Cout) or undefined -> (N, Cout, Ho, Wo) with
/// Ho = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1.  conv_transpose2d(x, w, b, {2}, {1}, {1})
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Shape& stride = {1},
                        const Shape& padding = {0}, const Shape& output_padding = {0}, int64_t groups = 1,
                        const Shape& dilation = {1});
/// Normalizes each (sample, channel) of (N, C, ...) over its spatial dims, then a per-channel weight and bias
/// (torch's instance_norm with use_input_stats, no running stats).  instance_norm(x, gamma, beta)
Tensor instance_norm(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                     double eps = 1e-5);
/// PyTorch's conv1d: x (N, C, L), weight (O, C / groups, k), bias (O) or undefined; one value each for stride,
/// padding (or "same" / "valid") and dilation.  conv1d(x, w, b, {1}, "same")
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Shape& stride = {1},
              const ConvPadding& padding = {}, const Shape& dilation = {1}, int64_t groups = 1);
/// The max of (N, C, H, W) over windows chosen to give output_size, as torch's adaptive_max_pool2d (the same
/// windows as adaptive_avg_pool2d).  adaptive_max_pool2d(x, {1})
Tensor adaptive_max_pool2d(const Tensor& x, const Shape& output_size);
/// Pads the last dims as torch.nn.functional.pad: pads = (left, right) of the last dim, then (top, bottom) of
/// the one before, ...; mode "constant" (with value), "reflect" (the edge not repeated; pad < size) or
/// "replicate" (the edge repeated).  pad(x, {1, 1, 2, 0}, "reflect")
Tensor pad(const Tensor& x, const Shape& pads, const std::string& mode = "constant", double value = 0.0);
/// Resizes the spatial dims of (N, C, H, W) (or (N, C, L)) to `size` (one value per spatial dim, or one for all),
/// or by `scale_factor` when size is empty (out = floor(in * scale), coordinates mapped with 1 / scale, as torch);
/// mode "nearest" or "bilinear" ("linear" for 3-D), align_corners as torch.  interpolate(x, {56, 56}, "bilinear")
Tensor interpolate(const Tensor& x, const Shape& size, const std::string& mode = "nearest",
                   bool align_corners = false, std::optional<double> scale_factor = std::nullopt);

}  // namespace nerve
