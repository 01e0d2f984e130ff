// 2-D pooling over (N, C, H, W): max (with indices), average, adaptive average. Output sizes follow torch's
// pooling_output_shape (aten/src/ATen/native/Pool.h); the loops are in backend/cpu/conv_kernels.cpp, run over
// the N * C planes in parallel. One backward node serves the three kinds.
#include <algorithm>

#include "backend/cpu/conv_kernels.h"
#include "nerve/core/parallel.h"
#include "nerve/core/profiler.h"
#include "ops/op_util.h"
#include "ops/vision_util.h"

namespace nerve {

namespace {

enum class PoolKind { max, avg, adaptive_avg, adaptive_max };

// floor((in + 2 pad - dil (k - 1) - 1 [+ stride - 1 with ceil_mode]) / stride) + 1, less one when ceil_mode would
// start the last window in the right padding
int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
  const int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Runs f(begin, end) over planes [0, planes) in parallel, about kParallelGrain input elements per chunk.
template <class F>
void over_planes(int64_t planes, int64_t plane_size, const F& f) {
  parallel_for(planes, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(plane_size, 1)), f);
}

class Pool2dBackward : public Node {
 public:
  Pool2dBackward(PoolKind kind, const Tensor& x, const cpu::Window2d& g, bool count_include_pad, const Tensor& idx)
      : kind_(kind), shape_(x.shape()), dtype_(x.dtype()), g_(g), count_include_pad_(count_include_pad), idx_(idx) {}
  const char* name() const override {
    switch (kind_) {
      case PoolKind::max: return "MaxPool2dBackward";
      case PoolKind::avg: return "AvgPool2dBackward";
      case PoolKind::adaptive_avg: return "AdaptiveAvgPool2dBackward";
      case PoolKind::adaptive_max: return "AdaptiveMaxPool2dBackward";
    }
    return "Pool2dBackward";
  }
  void release() override { idx_ = Tensor(); }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const bool meta = grads[0].is_meta() || (idx_.defined() && idx_.is_meta());
    Tensor dx = empty(shape_, dtype_, meta ? Device::meta : Device::cpu);
    if (meta || dx.numel() == 0) return {dx};
    const Tensor dy = grads[0].contiguous();
    const int64_t planes = shape_[0] * shape_[1], HW = g_.H * g_.W, HWo = g_.Ho * g_.Wo;
    visit_floating(dtype_, name(), [&](auto tag) {
      using T = decltype(tag);
      const T* pdy = dy.data<T>();
      T* pdx = dx.data<T>();
      over_planes(planes, HW, [&](int64_t b, int64_t e) {
        const T* d = pdy + b * HWo;
        T* o = pdx + b * HW;
        if (kind_ == PoolKind::max || kind_ == PoolKind::adaptive_max)
          cpu::max_pool2d_backward(d, idx_.data<int64_t>() + b * HWo, e - b, g_, o);
        else if (kind_ == PoolKind::avg)
          cpu::avg_pool2d_backward(d, e - b, g_, count_include_pad_, o);
        else
          cpu::adaptive_avg_pool2d_backward(d, e - b, g_, o);
      });
    });
    return {dx};
  }

 private:
  PoolKind kind_;
  Shape shape_;
  DType dtype_;
  cpu::Window2d g_;
  bool count_include_pad_;
  Tensor idx_;  // max: the argmax of each output (no gradient, no history)
};

void check_input(const Tensor& x, const char* op) {
  NERVE_CHECK(x.dim() == 4, op, ": expected a 4-D input (N, C, H, W), got ", detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", detail::describe(x));
}

// The geometry of max_pool2d / avg_pool2d, with torch's checks.
cpu::Window2d pool_geometry(const Tensor& x, const Shape& kernel_size, const Shape& stride_in, const Shape& padding,
                            const Shape& dilation, bool ceil_mode, const char* op) {
  check_input(x, op);
  const auto [kh, kw] = detail::pair_arg(kernel_size, op, "kernel_size");
  const auto [sh, sw] = stride_in.empty() ? std::pair{kh, kw} : detail::pair_arg(stride_in, op, "stride");
  const auto [ph, pw] = detail::pair_arg(padding, op, "padding");
  const auto [dh, dw] = detail::pair_arg(dilation, op, "dilation");
  constexpr int64_t kMax = int64_t{1} << 31;  // (larger values would overflow pool_out)
  NERVE_CHECK(kh > 0 && kw > 0 && kh <= kMax && kw <= kMax, op, ": kernel_size must be positive (and at most 2^31), got ",
              to_string(kernel_size));
  NERVE_CHECK(sh > 0 && sw > 0 && sh <= kMax && sw <= kMax, op, ": stride must be positive (and at most 2^31), got ",
              to_string(stride_in));
  NERVE_CHECK(dh > 0 && dw > 0 && dh <= kMax && dw <= kMax, op, ": dilation must be positive (and at most 2^31), got ",
              to_string(dilation));
  NERVE_CHECK(ph >= 0 && pw >= 0 && ph <= kh / 2 && pw <= kw / 2, op,
              ": padding must be >= 0 and at most half the kernel size, got padding ", to_string(padding),
              " for kernel_size ", to_string(kernel_size));
  const int64_t H = x.shape()[2], W = x.shape()[3];
  const int64_t Ho = pool_out(H, kh, ph, sh, dh, ceil_mode), Wo = pool_out(W, kw, pw, sw, dw, ceil_mode);
  NERVE_CHECK(Ho >= 1 && Wo >= 1, op, ": kernel ", kh, "x", kw, " (dilation ", dh, "x", dw,
              ") is larger than the padded input ", H + 2 * ph, "x", W + 2 * pw, " (input ", detail::describe(x),
              "): the output would be ", Ho, "x", Wo);
  return {H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo};
}

// The forward of all three kinds: y (N, C, Ho, Wo) and, for max, the indices.
std::pair<Tensor, Tensor> pool_forward(PoolKind kind, const Tensor& x_in, const cpu::Window2d& g,
                                       bool count_include_pad) {
  const Tensor x = x_in.contiguous();
  const Shape os{x.shape()[0], x.shape()[1], g.Ho, g.Wo};
  Tensor y = empty(os, x.dtype(), x.device());
  const bool with_idx = kind == PoolKind::max || kind == PoolKind::adaptive_max;
  Tensor idx = with_idx ? empty(os, DType::i64, x.device()) : Tensor();
  if (!x.is_meta() && y.numel() > 0) {
    const int64_t planes = os[0] * os[1], HW = g.H * g.W, HWo = g.Ho * g.Wo;
    visit_floating(x.dtype(), "pool2d", [&](auto tag) {
      using T = decltype(tag);
      const T* px = x.data<T>();
      T* py = y.data<T>();
      over_planes(planes, HW, [&](int64_t b, int64_t e) {
        if (kind == PoolKind::max)
          cpu::max_pool2d_forward(px + b * HW, e - b, g, py + b * HWo, idx.data<int64_t>() + b * HWo);
        else if (kind == PoolKind::avg)
          cpu::avg_pool2d_forward(px + b * HW, e - b, g, count_include_pad, py + b * HWo);
        else if (kind == PoolKind::adaptive_max)
          cpu::adaptive_max_pool2d_forward(px + b * HW, e - b, g, py + b * HWo, idx.data<int64_t>() + b * HWo);
        else
          cpu::adaptive_avg_pool2d_forward(px + b * HW, e - b, g, py + b * HWo);
      });
    });
  }
  detail::record<Pool2dBackward>({&x_in}, y, kind, x, g, count_include_pad, idx);
  return {y, idx};
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Shape& kernel_size, const Shape& stride,
                                                  const Shape& padding, const Shape& dilation, bool ceil_mode) {
  detail::check_arg(x, "max_pool2d_with_indices", "input");
  NERVE_RECORD_FUNCTION("max_pool2d");
  const cpu::Window2d g = pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d");
  return pool_forward(PoolKind::max, x, g, false);
}

Tensor max_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride, const Shape& padding,
                  const Shape& dilation, bool ceil_mode) {
  detail::check_arg(x, "max_pool2d", "input");
  return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).first;
}

Tensor avg_pool2d(const Tensor& x, const Shape& kernel_size, const Shape& stride, const Shape& padding, bool ceil_mode,
                  bool count_include_pad) {
  detail::check_arg(x, "avg_pool2d", "input");
  NERVE_RECORD_FUNCTION("avg_pool2d");
  const cpu::Window2d g = pool_geometry(x, kernel_size, stride, padding, {1}, ceil_mode, "avg_pool2d");
  return pool_forward(PoolKind::avg, x, g, count_include_pad).first;
}

namespace {
Tensor adaptive_pool(const Tensor& x, const Shape& output_size, PoolKind kind, const char* op) {
  check_input(x, op);
  const auto [Ho, Wo] = detail::pair_arg(output_size, op, "output_size");
  NERVE_CHECK(Ho > 0 && Wo > 0, op, ": output_size must be positive, got ", to_string(output_size));
  const int64_t H = x.shape()[2], W = x.shape()[3];
  NERVE_CHECK(H > 0 && W > 0, op, ": the input plane is empty, input ", detail::describe(x));
  return pool_forward(kind, x, {H, W, 1, 1, 1, 1, 0, 0, 1, 1, Ho, Wo}, false).first;
}
}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, const Shape& output_size) {
  detail::check_arg(x, "adaptive_avg_pool2d", "input");
  NERVE_RECORD_FUNCTION("adaptive_avg_pool2d");
  return adaptive_pool(x, output_size, PoolKind::adaptive_avg, "adaptive_avg_pool2d");
}

Tensor adaptive_max_pool2d(const Tensor& x, const Shape& output_size) {
  detail::check_arg(x, "adaptive_max_pool2d", "input");
  NERVE_RECORD_FUNCTION("adaptive_max_pool2d");
  return adaptive_pool(x, output_size, PoolKind::adaptive_max, "adaptive_max_pool2d");
}

}  // namespace nerve
