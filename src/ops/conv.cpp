// conv2d lowered to GEMM: per image and group, im2col makes the (C/g * kH * kW, Ho * Wo) patch matrix and
// cpu::gemm multiplies the group's weight rows with it (a 1x1 stride-1 convolution uses the image itself).
// Backward: dx through W^T @ dy and col2im, dW through dy @ col^T (patches recomputed, not kept), db = sum(dy).
// Images are spread over the thread pool, each thread with its own patch buffer (and dW part in backward).
#include <algorithm>
#include <vector>

#include "backend/cpu/conv_kernels.h"
#include "backend/cpu/dnnl_conv.h"
#include "backend/cpu/gemm.h"
#include "nerve/core/parallel.h"
#include "nerve/core/profiler.h"
#include "ops/op_util.h"
#include "ops/vision_util.h"

namespace nerve {

namespace {

struct ConvGeom {
  int64_t N, C, O, G;
  cpu::Window2d win;  // Ho, Wo include the bottom and right padding
  int64_t K() const { return C / G * win.kh * win.kw; }  // rows of the patch matrix
  int64_t HWo() const { return win.Ho * win.Wo; }
  bool direct() const {  // the image is its own patch matrix
    return win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 && win.ph == 0 && win.pw == 0 &&
           win.Ho == win.H && win.Wo == win.W;
  }
};

cpu::ConvShape shape_of(const ConvGeom& c) { return {c.N, c.C, c.O, c.G, c.win}; }

// Spreads images [0, N) over the pool: body(chunk, begin, end). One chunk (batch 1, one thread) runs on the
// caller, so its GEMMs split over the pool instead.
template <class F>
int64_t over_images(int64_t N, const F& body) {
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(N, get_num_threads()));
  parallel_chunks(chunks, [&](int64_t i) { body(i, N * i / chunks, N * (i + 1) / chunks); });
  return chunks;
}

// y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C/G, kh, kw)) + b (O) or null
template <class T>
void conv_forward(const ConvGeom& c, const T* x, const T* w, const T* b, T* y) {
  const cpu::Window2d& g = c.win;
  const int64_t Cg = c.C / c.G, Og = c.O / c.G, K = c.K(), HWo = c.HWo(), HW = g.H * g.W;
  over_images(c.N, [&](int64_t, int64_t n0, int64_t n1) {
    std::vector<T> col(c.direct() ? 0 : K * HWo);
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t gi = 0; gi < c.G; ++gi) {
        const T* xg = x + (n * c.C + gi * Cg) * HW;
        if (!c.direct()) cpu::im2col(xg, Cg, g, col.data());
        T* yg = y + (n * c.O + gi * Og) * HWo;
        cpu::gemm(false, false, Og, HWo, K, T(1), w + gi * Og * K, K, c.direct() ? xg : col.data(), HWo, T(0), yg, HWo);
        if (b)
          for (int64_t o = 0; o < Og; ++o) {
            const T bo = b[gi * Og + o];
            T* r = yg + o * HWo;
            for (int64_t k = 0; k < HWo; ++k) r[k] += bo;
          }
      }
  });
}

constexpr int64_t kWeightGradChunks = 8;

// dx (N, C, H, W) and/or dw (O, C/G, kh, kw) from dy (N, O, Ho, Wo); either output may be null
template <class T>
void conv_backward(const ConvGeom& c, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const cpu::Window2d& g = c.win;
  const int64_t Cg = c.C / c.G, Og = c.O / c.G, K = c.K(), HWo = c.HWo(), HW = g.H * g.W;
  // With dw: a fixed count of chunks (the shape decides, not the thread count), each summing its images' part of
  // dw, added in chunk order, so dw is the same bits at any thread count.
  const int64_t chunks = dw ? std::min<int64_t>(std::max<int64_t>(c.N, 1), kWeightGradChunks)
                            : std::max<int64_t>(1, std::min<int64_t>(c.N, get_num_threads()));
  std::vector<std::vector<T>> dw_parts(dw ? chunks - 1 : 0, std::vector<T>(c.O * K, T(0)));
  if (dw) std::fill(dw, dw + c.O * K, T(0));
  auto body = [&](int64_t chunk, int64_t n0, int64_t n1) {
    std::vector<T> col(c.direct() ? 0 : K * HWo);
    T* dwc = dw ? (chunk == 0 ? dw : dw_parts[chunk - 1].data()) : nullptr;
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t gi = 0; gi < c.G; ++gi) {
        const T* dyg = dy + (n * c.O + gi * Og) * HWo;
        if (dwc) {  // dW_g (Og, K) += dy_g (Og, HWo) @ col^T (HWo, K)
          const T* xg = x + (n * c.C + gi * Cg) * HW;  // x is null when only dx is wanted (conv_transpose2d)
          if (!c.direct()) cpu::im2col(xg, Cg, g, col.data());
          cpu::gemm(false, true, Og, K, HWo, T(1), dyg, HWo, c.direct() ? xg : col.data(), HWo, T(1),
                    dwc + gi * Og * K, K);
        }
        if (dx) {  // dcol (K, HWo) = W_g^T (K, Og) @ dy_g (Og, HWo), scattered back by col2im
          T* dxg = dx + (n * c.C + gi * Cg) * HW;
          cpu::gemm(true, false, K, HWo, Og, T(1), w + gi * Og * K, K, dyg, HWo, T(0), c.direct() ? dxg : col.data(),
                    HWo);
          if (!c.direct()) {
            std::fill(dxg, dxg + Cg * HW, T(0));
            cpu::col2im_add(col.data(), Cg, g, dxg);
          }
        }
      }
  };
  if (chunks == 1)
    body(0, 0, c.N);
  else
    parallel_chunks(chunks, [&](int64_t i) { body(i, c.N * i / chunks, c.N * (i + 1) / chunks); });
  for (const std::vector<T>& part : dw_parts)
    for (int64_t i = 0; i < c.O * K; ++i) dw[i] += part[i];
}

// conv2d's gradients from dy (N, O, Ho, Wo): x's, w's and b's as wanted (the others undefined)
std::vector<Tensor> conv_grads(const Tensor& x, const Tensor& w, const ConvGeom& g, const Tensor& dy_in, bool want_x,
                               bool want_w, bool want_b) {
  const Device dev = dy_in.is_meta() || x.is_meta() || w.is_meta() ? Device::meta : Device::cpu;
  Tensor gx = want_x ? empty(x.shape(), x.dtype(), dev) : Tensor();
  Tensor gw = want_w ? empty(w.shape(), w.dtype(), dev) : Tensor();
  Tensor gb;
  if (dev == Device::meta) {
    if (want_b) gb = empty({g.O}, w.dtype(), dev);
    return {gx, gw, gb};
  }
  const Tensor dy = dy_in.contiguous();
  bool dx_done = false, dw_done = false;  // by oneDNN (f32; the bias gradient with the weight gradient)
  if (x.dtype() == DType::f32) {
    if (want_x) dx_done = cpu::dnnl_conv2d_backward_data(shape_of(g), w.data<float>(), dy.data<float>(), gx.data<float>());
    if (want_w) {
      if (want_b) gb = empty({g.O}, w.dtype(), dev);
      dw_done = cpu::dnnl_conv2d_backward_weights(shape_of(g), x.data<float>(), dy.data<float>(), gw.data<float>(),
                                                  want_b ? gb.data<float>() : nullptr);
      if (!dw_done) gb = Tensor();
    }
  }
  if ((want_x && !dx_done) || (want_w && !dw_done))
    visit_floating(x.dtype(), "conv2d", [&](auto tag) {
      using T = decltype(tag);
      conv_backward<T>(g, x.data<T>(), w.data<T>(), dy.data<T>(), want_x && !dx_done ? gx.data<T>() : nullptr,
                       want_w && !dw_done ? gw.data<T>() : nullptr);
    });
  if (want_b && !dw_done) gb = sum(dy, {0, 2, 3});
  return {gx, gw, gb};
}

class Conv2dBackward : public Node {
 public:
  Conv2dBackward(const Tensor& x, const Tensor& w, const ConvGeom& g) : x_(x), w_(w), g_(g) {}
  const char* name() const override { return "Conv2dBackward"; }
  void release() override {
    x_.reset();
    w_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const bool want_b = next_edges.size() > 2 && next_edges[2].fn;
    return conv_grads(x_.unpack(this), w_.unpack(this), g_, grads[0], next_edges[0].fn != nullptr,
                      next_edges[1].fn != nullptr, want_b);
  }

 private:
  SavedTensor x_, w_;  // contiguous
  ConvGeom g_;
};

// conv2d's arguments checked (messages name `op`), and the geometry they give
ConvGeom conv_geometry(const char* op, const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                       const Shape& stride, const ConvPadding& padding, const Shape& dilation, int64_t groups) {
  detail::check_arg(x_in, op, "input");
  detail::check_arg(weight, op, "weight");
  NERVE_CHECK(x_in.dim() == 4, op, ": expected a 4-D input (N, C, H, W), got ", detail::describe(x_in));
  NERVE_CHECK(weight.dim() == 4, op, ": expected a 4-D weight (out_channels, in_channels / groups, kH, kW), got ",
              detail::describe(weight));
  NERVE_CHECK(x_in.dtype() == weight.dtype() && is_floating(x_in.dtype()),
              op, ": expected input and weight of one floating dtype, got input ", detail::describe(x_in),
              ", weight ", detail::describe(weight));
  NERVE_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  const int64_t C = x_in.shape()[1], O = weight.shape()[0];
  int64_t expects = 0;  // the channels the weight expects (without overflow for a huge groups)
  const bool fits = !__builtin_mul_overflow(weight.shape()[1], groups, &expects);
  NERVE_CHECK(fits && expects == C, op, ": input has ", C, " channels, but weight ", detail::describe(weight),
              " with groups=", groups, " expects ", fits ? std::to_string(expects) : std::string("more than 2^63"),
              " (input ", detail::describe(x_in), ")");
  NERVE_CHECK(O % groups == 0, op, ": out_channels ", O, " (weight ", detail::describe(weight),
              ") is not divisible by groups=", groups);
  if (bias.defined())
    NERVE_CHECK(bias.dim() == 1 && bias.shape()[0] == O && bias.dtype() == weight.dtype(), op, ": bias must be (",
                O, ") ", dtype_name(weight.dtype()), ", got ", detail::describe(bias));
  const auto [sh, sw] = detail::pair_arg(stride, op, "stride");
  const auto [dh, dw] = detail::pair_arg(dilation, op, "dilation");
  constexpr int64_t kMax = int64_t{1} << 31;  // (larger values would overflow the geometry below)
  NERVE_CHECK(sh > 0 && sw > 0 && sh <= kMax && sw <= kMax, op, ": stride must be positive (and at most 2^31), got ",
              to_string(stride));
  NERVE_CHECK(dh > 0 && dw > 0 && dh <= kMax && dw <= kMax, op, ": dilation must be positive (and at most 2^31), got ",
              to_string(dilation));
  const int64_t H = x_in.shape()[2], W = x_in.shape()[3], kh = weight.shape()[2], kw = weight.shape()[3];
  NERVE_CHECK(kh > 0 && kw > 0, op, ": the kernel must be at least 1x1, got weight ", detail::describe(weight));
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  if (padding.mode == "same") {
    NERVE_CHECK(sh == 1 && sw == 1, op, ": padding='same' needs stride 1, got stride ", to_string(stride));
    pt = dh * (kh - 1) / 2, pb = dh * (kh - 1) - pt, pl = dw * (kw - 1) / 2, pr = dw * (kw - 1) - pl;
  } else if (padding.mode.empty()) {
    const auto [ph, pw] = detail::pair_arg(padding.values, op, "padding");
    NERVE_CHECK(ph >= 0 && pw >= 0 && ph <= kMax && pw <= kMax, op, ": padding must be >= 0 (and at most 2^31), got ",
                to_string(padding.values));
    pt = pb = ph, pl = pr = pw;
  } else {
    NERVE_CHECK(padding.mode == "valid", op, ": padding must be numbers, 'same' or 'valid', got '", padding.mode,
                "'");
  }
  const int64_t ekh = dh * (kh - 1) + 1, ekw = dw * (kw - 1) + 1;
  NERVE_CHECK(ekh <= H + pt + pb && ekw <= W + pl + pr, op, ": kernel ", kh, "x", kw, " (", ekh, "x", ekw,
              " dilated) is larger than the padded input ", H + pt + pb, "x", W + pl + pr, " (input ",
              detail::describe(x_in), ", weight ", detail::describe(weight), ")");
  ConvGeom g{x_in.shape()[0], C, O, groups,
             {H, W, kh, kw, sh, sw, pt, pl, dh, dw, (H + pt + pb - ekh) / sh + 1, (W + pl + pr - ekw) / sw + 1}};
  return g;
}
}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Shape& stride,
              const ConvPadding& padding, const Shape& dilation, int64_t groups) {
  NERVE_RECORD_FUNCTION("conv2d");
  const ConvGeom g = conv_geometry("conv2d", x_in, weight, bias, stride, padding, dilation, groups);
  const int64_t O = g.O;
  const Tensor x = x_in.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  const bool meta = x.is_meta() || w.is_meta() || (b.defined() && b.is_meta());
  Tensor y = empty({g.N, O, g.win.Ho, g.win.Wo}, x.dtype(), meta ? Device::meta : Device::cpu);
  if (!meta && y.numel() > 0 &&
      !(x.dtype() == DType::f32 && cpu::dnnl_conv2d_forward(shape_of(g), x.data<float>(), w.data<float>(),
                                                            b.defined() ? b.data<float>() : nullptr, y.data<float>())))
    visit_floating(x.dtype(), "conv2d", [&](auto tag) {
      using T = decltype(tag);
      conv_forward<T>(g, x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, y.data<T>());
    });
  if (b.defined() ? any_requires_grad({&x, &w, &b}) : any_requires_grad({&x, &w})) {
    auto node = make_node<Conv2dBackward>(x, w, g);
    if (b.defined())
      set_history(node, {&x, &w, &b}, {&y});
    else
      set_history(node, {&x, &w}, {&y});
  }
  return y;
}

namespace {

// conv2d_relu_max_pool2x2's backward where its forward ran fused (f32, oneDNN): the pooled gradient goes straight
// into each piece's convolution-output gradient (cpu::PoolGrad); if oneDNN refused a backward pass, that gradient
// is made whole in plain layout and conv2d's backward runs on it.
class Conv2dReluMaxPoolBackward : public Node {
 public:
  Conv2dReluMaxPoolBackward(const Tensor& x, const Tensor& w, const Tensor& y, const Tensor& idx, const ConvGeom& g)
      : x_(x), w_(w), y_(y, true), idx_(idx), g_(g) {}
  const char* name() const override { return "Conv2dReluMaxPoolBackward"; }
  void release() override {
    x_.reset();
    w_.reset();
    y_.reset();
    idx_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor x = x_.unpack(this), w = w_.unpack(this), y = y_.unpack(this), idx = idx_.unpack(this);
    const bool want_x = next_edges[0].fn != nullptr, want_w = next_edges[1].fn != nullptr;
    const bool want_b = next_edges.size() > 2 && next_edges[2].fn;
    const Tensor& dy = grads[0];  // (any strides: the scatter reads them)
    const cpu::PoolGrad pg{shape_of(g_), dy.data<float>(), dy.strides().data(), y.data<float>(), idx.data<uint8_t>()};
    Tensor gx = want_x ? empty(x.shape(), DType::f32) : Tensor();
    Tensor gw = want_w || want_b ? empty(w.shape(), DType::f32) : Tensor();
    Tensor gb = want_b ? empty({g_.O}, DType::f32) : Tensor();
    const bool done = cpu::dnnl_conv2d_pool2_relu_backward(
        pg, x.data<float>(), w.data<float>(), want_x ? gx.data<float>() : nullptr,
        want_w || want_b ? gw.data<float>() : nullptr, want_b ? gb.data<float>() : nullptr);
    if (!done) {
      Tensor dc = empty({g_.N, g_.O, g_.win.Ho, g_.win.Wo}, DType::f32);
      cpu::conv2d_pool2_relu_grad(pg, dc.data<float>());
      return conv_grads(x, w, g_, dc, want_x, want_w, want_b);
    }
    return {gx, want_w ? gw : Tensor(), gb};
  }

 private:
  SavedTensor x_, w_, y_, idx_;  // x, w contiguous; y the output; idx u8, the window position of each maximum
  ConvGeom g_;
};

}  // namespace

Tensor conv2d_relu_max_pool2x2(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Shape& stride,
                               const ConvPadding& padding, const Shape& dilation, int64_t groups) {
  const char* op = "conv2d_relu_max_pool2x2";
  NERVE_RECORD_FUNCTION(op);
  const ConvGeom g = conv_geometry(op, x_in, weight, bias, stride, padding, dilation, groups);
  const Tensor x = x_in.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  const bool meta = x.is_meta() || w.is_meta() || (b.defined() && b.is_meta());
  if (!meta && x.dtype() == DType::f32 && g.N > 0 && g.win.Ho >= 2 && g.win.Wo >= 2) {
    Tensor y = empty({g.N, g.O, g.win.Ho / 2, g.win.Wo / 2}, DType::f32);
    Tensor idx = empty(y.shape(), DType::u8);
    if (cpu::dnnl_conv2d_pool2_relu_forward(shape_of(g), x.data<float>(), w.data<float>(),
                                            b.defined() ? b.data<float>() : nullptr, y.data<float>(),
                                            idx.data<uint8_t>())) {
      if (b.defined() ? any_requires_grad({&x, &w, &b}) : any_requires_grad({&x, &w})) {
        auto node = make_node<Conv2dReluMaxPoolBackward>(x, w, y, idx, g);
        if (b.defined())
          set_history(node, {&x, &w, &b}, {&y});
        else
          set_history(node, {&x, &w}, {&y});
      }
      return y;
    }
  }
  // other dtypes, the meta device, shapes oneDNN refuses: the three ops (ReLU after the pool: the same values)
  return relu(max_pool2d(conv2d(x, w, b, stride, padding, dilation, groups), {2, 2}));
}

namespace {

// conv_transpose2d is conv2d's adjoint: with a conv2d geometry from the output (N, Cout, Ho, Wo) to the input
// (N, Cin, H, W) and the same weight (Cin, Cout/g, kh, kw), its forward is conv2d's input gradient, its input
// gradient conv2d's forward, and its weight gradient conv2d's with the roles of x and dy swapped.
class ConvTranspose2dBackward : public Node {
 public:
  ConvTranspose2dBackward(const Tensor& x, const Tensor& w, const ConvGeom& g) : x_(x), w_(w), g_(g) {}
  const char* name() const override { return "ConvTranspose2dBackward"; }
  void release() override {
    x_.reset();
    w_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor x = x_.unpack(this), w = w_.unpack(this);
    const bool want_x = next_edges[0].fn != nullptr, want_w = next_edges[1].fn != nullptr;
    const bool want_b = next_edges.size() > 2 && next_edges[2].fn;
    const Device dev = grads[0].is_meta() || x.is_meta() || w.is_meta() ? Device::meta : Device::cpu;
    Tensor gx = want_x ? empty(x.shape(), x.dtype(), dev) : Tensor();
    Tensor gw = want_w ? empty(w.shape(), w.dtype(), dev) : Tensor();
    Tensor gb;
    if (dev == Device::meta) {
      if (want_b) gb = empty({g_.C}, w.dtype(), dev);
      return {gx, gw, gb};
    }
    const Tensor dy = grads[0].contiguous();
    visit_floating(x.dtype(), "conv_transpose2d", [&](auto tag) {
      using T = decltype(tag);
      if (want_x && gx.numel() > 0) conv_forward<T>(g_, dy.data<T>(), w.data<T>(), nullptr, gx.data<T>());
      if (want_w) conv_backward<T>(g_, dy.data<T>(), w.data<T>(), x.data<T>(), nullptr, gw.data<T>());
    });
    if (want_b) gb = sum(dy, {0, 2, 3});
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_;  // contiguous
  ConvGeom g_;
};

}  // namespace

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Shape& stride,
                        const Shape& padding, const Shape& output_padding, int64_t groups, const Shape& dilation) {
  detail::check_arg(x_in, "conv_transpose2d", "input");
  detail::check_arg(weight, "conv_transpose2d", "weight");
  NERVE_RECORD_FUNCTION("conv_transpose2d");
  const char* op = "conv_transpose2d";
  NERVE_CHECK(x_in.dim() == 4, op, ": expected a 4-D input (N, C, H, W), got ", detail::describe(x_in));
  NERVE_CHECK(weight.dim() == 4, op, ": expected a 4-D weight (in_channels, out_channels / groups, kH, kW), got ",
              detail::describe(weight));
  NERVE_CHECK(x_in.dtype() == weight.dtype() && is_floating(x_in.dtype()), op,
              ": expected input and weight of one floating dtype, got input ", detail::describe(x_in), ", weight ",
              detail::describe(weight));
  NERVE_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  const int64_t Cin = x_in.shape()[1];
  NERVE_CHECK(weight.shape()[0] == Cin && Cin % groups == 0 && groups <= std::max<int64_t>(Cin, 1), op, ": input has ", Cin, " channels, but weight ",
              detail::describe(weight), " with groups=", groups, " expects ", weight.shape()[0], " (input ",
              detail::describe(x_in), ")");
  const int64_t Cout = weight.shape()[1] * groups;
  if (bias.defined())
    NERVE_CHECK(bias.dim() == 1 && bias.shape()[0] == Cout && bias.dtype() == weight.dtype(), op,
                ": bias must be (", Cout, ") ", dtype_name(weight.dtype()), ", got ", detail::describe(bias));
  const auto [sh, sw] = detail::pair_arg(stride, op, "stride");
  const auto [ph, pw] = detail::pair_arg(padding, op, "padding");
  const auto [oph, opw] = detail::pair_arg(output_padding, op, "output_padding");
  const auto [dh, dw] = detail::pair_arg(dilation, op, "dilation");
  constexpr int64_t kMax = int64_t{1} << 31;  // (larger values would overflow the geometry below)
  NERVE_CHECK(sh > 0 && sw > 0 && sh <= kMax && sw <= kMax, op, ": stride must be positive (and at most 2^31), got ",
              to_string(stride));
  NERVE_CHECK(dh > 0 && dw > 0 && dh <= kMax && dw <= kMax, op, ": dilation must be positive (and at most 2^31), got ",
              to_string(dilation));
  NERVE_CHECK(ph >= 0 && pw >= 0 && ph <= kMax && pw <= kMax, op, ": padding must be >= 0 (and at most 2^31), got ",
              to_string(padding));
  NERVE_CHECK(oph >= 0 && opw >= 0 && (oph < sh || oph < dh) && (opw < sw || opw < dw), op,
              ": output_padding must be smaller than stride or dilation, got output_padding ",
              to_string(output_padding), ", stride ", to_string(stride), ", dilation ", to_string(dilation));
  const int64_t H = x_in.shape()[2], W = x_in.shape()[3], kh = weight.shape()[2], kw = weight.shape()[3];
  NERVE_CHECK(kh > 0 && kw > 0, op, ": the kernel must be at least 1x1, got weight ", detail::describe(weight));
  NERVE_CHECK(H > 0 && W > 0 && H <= kMax && W <= kMax, op, ": expected an input of at least 1x1 pixels, got ",
              detail::describe(x_in));
  const int64_t Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const int64_t Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  NERVE_CHECK(Ho > 0 && Wo > 0, op, ": the output would be ", Ho, "x", Wo, " (input ", detail::describe(x_in),
              ", weight ", detail::describe(weight), ", padding ", to_string(padding), ")");
  // the conv2d from the output (Cout, Ho, Wo) to the input (Cin, H, W)
  const ConvGeom g{x_in.shape()[0], Cout, Cin, groups, {Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw, H, W}};
  const Tensor x = x_in.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  const bool meta = x.is_meta() || w.is_meta() || (b.defined() && b.is_meta());
  Tensor y = empty({g.N, Cout, Ho, Wo}, x.dtype(), meta ? Device::meta : Device::cpu);
  if (!meta && y.numel() > 0)
    visit_floating(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      conv_backward<T>(g, nullptr, w.data<T>(), x.data<T>(), y.data<T>(), nullptr);
      if (b.defined()) {
        const T* pb = b.data<T>();
        T* py = y.data<T>();
        const int64_t HWo = Ho * Wo;
        for (int64_t n = 0; n < g.N; ++n)
          for (int64_t c = 0; c < Cout; ++c)
            for (int64_t k = 0; k < HWo; ++k) py[(n * Cout + c) * HWo + k] += pb[c];
      }
    });
  if (b.defined() ? any_requires_grad({&x, &w, &b}) : any_requires_grad({&x, &w})) {
    auto node = make_node<ConvTranspose2dBackward>(x, w, g);
    if (b.defined())
      set_history(node, {&x, &w, &b}, {&y});
    else
      set_history(node, {&x, &w}, {&y});
  }
  return y;
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Shape& stride,
              const ConvPadding& padding, const Shape& dilation, int64_t groups) {
  detail::check_arg(x, "conv1d", "input");
  detail::check_arg(weight, "conv1d", "weight");
  NERVE_RECORD_FUNCTION("conv1d");
  NERVE_CHECK(x.dim() == 3, "conv1d: expected a 3-D input (N, C, L), got ", detail::describe(x));
  NERVE_CHECK(weight.dim() == 3, "conv1d: expected a 3-D weight (out_channels, in_channels / groups, k), got ",
              detail::describe(weight));
  NERVE_CHECK(stride.size() == 1 && dilation.size() == 1 && (!padding.mode.empty() || padding.values.size() == 1),
              "conv1d: stride, padding and dilation take one value each, got stride ", to_string(stride),
              ", padding ", to_string(padding.values), ", dilation ", to_string(dilation));
  // a convolution over (N, C, 1, L) with a (O, C/g, 1, k) kernel
  const ConvPadding p2 = padding.mode.empty() ? ConvPadding(Shape{0, padding.values[0]}) : padding;
  return squeeze(conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, {1, stride[0]}, p2, {1, dilation[0]}, groups), 2);
}

}  // namespace nerve
