// Keras's probability-space losses (keras/src/losses/losses.py, backend ops): class axis -1, probabilities
// renormalized and clipped to [eps, 1 - eps] (eps = 1e-7) before the log, so they stay finite at saturated
// outputs. from_logits = true routes to the exact logit forms (the fused cross_entropy, BCE with logits).
#include <limits>

#include "nn/loss_util.h"
#include "ops/op_util.h"

namespace nerve::nn::functional {

namespace {

constexpr int64_t kNoIgnore = std::numeric_limits<int64_t>::min();  // Keras has no ignore_index

// Keras reductions over per-sample losses: 'mean' = sum_over_batch_size
Tensor keras_reduce(const Tensor& per_sample, Reduction r) {
  return r == Reduction::none ? per_sample : detail::reduce(per_sample, r);
}

Tensor clip_probs(const Tensor& p) { return clamp(p, kKerasEpsilon, 1.0 - kKerasEpsilon); }

void check_pred(const char* op, const Tensor& y_pred) {
  NERVE_CHECK(y_pred.defined() && is_floating(y_pred.dtype()), op, ": y_pred must be an f32 or f64 tensor, got ",
              y_pred.defined() ? nerve::detail::describe(y_pred) : "undefined");
  NERVE_CHECK(y_pred.dim() >= 1, op, ": y_pred must have a class axis, got a 0-d tensor");
}

// Labels are class indices: a floating y_true is a dtype mistake (Keras users often hold labels as floats)
void check_labels(const Tensor& y_true) {
  NERVE_CHECK(y_true.defined(), "sparse_categorical_crossentropy: y_true is an undefined tensor");
  NERVE_CHECK(!is_floating(y_true.dtype()) && y_true.dtype() != DType::b8,
              "sparse_categorical_crossentropy: y_true must hold integer class indices (i64, i32 or u8), got ",
              dtype_name(y_true.dtype()), " ", to_string(y_true.shape()), "; convert with y.to(DType::i64), or use ",
              "categorical_crossentropy for one-hot or probability targets");
}

}  // namespace

Tensor sparse_categorical_crossentropy_from_logits(const Tensor& logits, const Tensor& y_true, Reduction r) {
  check_pred("sparse_categorical_crossentropy", logits);
  check_labels(y_true);
  int64_t C = logits.shape().back();
  Shape tshape(logits.shape().begin(), logits.shape().end() - 1);
  NERVE_CHECK(y_true.shape() == tshape, "sparse_categorical_crossentropy: y_true shape ", to_string(y_true.shape()),
              " does not match y_pred ", to_string(logits.shape()), "; expected labels of shape ", to_string(tshape));
  // class axis last: rows of C, which is cross_entropy's (N, C) layout. With no ignored rows its 'mean' and
  // 'sum' are Keras's sum_over_batch_size and sum, so those need no per-sample loss tensor.
  if (r != Reduction::none)
    return cross_entropy(reshape(logits, {-1, C}), reshape(y_true, {-1}), {.ignore_index = kNoIgnore, .reduction = r});
  Tensor loss = cross_entropy(reshape(logits, {-1, C}), reshape(y_true, {-1}),
                              {.ignore_index = kNoIgnore, .reduction = Reduction::none});
  return reshape(loss, tshape);
}

Tensor sparse_categorical_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits, Reduction r) {
  if (from_logits) return sparse_categorical_crossentropy_from_logits(y_pred, y_true, r);
  check_pred("sparse_categorical_crossentropy", y_pred);
  check_labels(y_true);
  int64_t C = y_pred.shape().back(), last = y_pred.dim() - 1;
  Shape tshape(y_pred.shape().begin(), y_pred.shape().end() - 1);
  NERVE_CHECK(y_true.shape() == tshape, "sparse_categorical_crossentropy: y_true shape ", to_string(y_true.shape()),
              " does not match y_pred ", to_string(y_pred.shape()), "; expected labels of shape ", to_string(tshape));
  Tensor t = detail::class_targets("sparse_categorical_crossentropy", y_pred, y_true, C, kNoIgnore);
  Tensor p = clip_probs(y_pred / sum(y_pred, {last}, true));
  Tensor loss = -squeeze(gather(log(p), last, unsqueeze(t, last)), last);
  return keras_reduce(loss, r);
}

Tensor categorical_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits, double label_smoothing,
                                Reduction r) {
  check_pred("categorical_crossentropy", y_pred);
  detail::check_same("categorical_crossentropy", y_pred, y_true);
  NERVE_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "categorical_crossentropy: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  int64_t C = y_pred.shape().back(), last = y_pred.dim() - 1;
  Tensor t = label_smoothing > 0 ? y_true * (1.0 - label_smoothing) + label_smoothing / static_cast<double>(C) : y_true;
  Tensor logp = from_logits ? log_softmax(y_pred, last) : log(clip_probs(y_pred / sum(y_pred, {last}, true)));
  return keras_reduce(-sum(t * logp, {last}), r);
}

Tensor binary_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits, Reduction r) {
  check_pred("binary_crossentropy", y_pred);
  detail::check_same("binary_crossentropy", y_pred, y_true);
  int64_t last = y_pred.dim() - 1;
  Tensor elem;
  if (from_logits) {
    elem = binary_cross_entropy_with_logits(y_pred, y_true, Tensor(), Reduction::none);
  } else {
    Tensor p = clip_probs(y_pred);
    elem = -(y_true * log(p) + (1.0 - y_true) * log(1.0 - p));
  }
  return keras_reduce(mean(elem, {last}), r);
}

Tensor mean_squared_error(const Tensor& y_pred, const Tensor& y_true, Reduction r) {
  check_pred("mean_squared_error", y_pred);
  Tensor elem = mse_loss(y_pred, y_true, Reduction::none);
  return keras_reduce(mean(elem, {y_pred.dim() - 1}), r);
}

}  // namespace nerve::nn::functional
