// conv2d f32 through oneDNN's convolution primitives (forward with bias, backward data, backward weights with the
// bias gradient), plain NCHW / OIHW at the boundary. Each call returns false when oneDNN refuses the shape (or the
// path is switched off); the caller then runs its im2col path.
//
// Determinism: the batch is cut into pieces whose count depends on the shape alone (never on the thread count);
// each piece runs a single-threaded primitive on a thread of nerve's pool, and the weight gradients of the pieces
// are summed in piece order. A result is thus the same bits at any thread count. A single image of much work is
// left to the im2col path (its GEMMs split over the threads; one piece would run on one thread).
#pragma once
#include <cstdint>

#include "backend/cpu/conv_kernels.h"

namespace nerve::cpu {

/// y (N, O, Ho, Wo) = conv(x (N, C, H, W), w (O, C/G, kh, kw)); win.ph/pw pad the top and the left, the bottom and
/// right padding follow from Ho, Wo.
struct ConvShape {
  int64_t N, C, O, G;
  Window2d win;
};

/// Whether conv2d f32 uses oneDNN: NERVE_CONV=im2col in the environment switches it off (read once); tests and
/// benchmarks switch it with set_dnnl_conv_enabled.
bool dnnl_conv_enabled();
void set_dnnl_conv_enabled(bool on);
/// oneDNN picks the activation and weight layouts (format_tag::any, reordered from and to the plain ones at each
/// call) when true (the default), or runs on the plain layouts (its GEMM-based kernels) when false;
/// NERVE_CONV_LAYOUT=plain in the environment sets false.
void set_dnnl_conv_any_layout(bool any);

/// y = conv(x, w) + b (b may be null)
bool dnnl_conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
/// dx = the input gradient from dy
bool dnnl_conv2d_backward_data(const ConvShape& s, const float* w, const float* dy, float* dx);
/// dw = the weight gradient and db (O, or null) = the bias gradient (the sum of dy over N, Ho, Wo)
bool dnnl_conv2d_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw, float* db);

/// The fused relu(max_pool2d(conv(x, w) + b, 2)) (kernel 2, stride 2; Ho, Wo >= 2): per piece, the pooling reads
/// the convolution's output in oneDNN's layout, so the full-size output is never reordered or written out.
/// y (N, O, Ho / 2, Wo / 2) plain, idx (the same shape) the window position of each maximum (0 top left, 1 top
/// right, 2 bottom left, 3 bottom right). The same bits as conv2d, max_pool2d and relu one after the other.
bool dnnl_conv2d_pool2_relu_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                                    uint8_t* idx);
/// The backward of the above from dy (the pooled output's gradient, any strides), its y and idx: each piece
/// scatters dy into the convolution output's gradient in the backward primitives' layout (relu's and max_pool2d's
/// backward, the same bits), then runs them. dx, or dw and db (db may be null), may be null.
struct PoolGrad {
  ConvShape s;
  const float* dy;
  const int64_t* dy_strides;  // (N, O, Ho / 2, Wo / 2)
  const float* y;
  const uint8_t* idx;
};
bool dnnl_conv2d_pool2_relu_backward(const PoolGrad& g, const float* x, const float* w, float* dx, float* dw,
                                     float* db);
/// The convolution output's gradient (N, O, Ho, Wo) from the above, plain (for the paths oneDNN refuses).
void conv2d_pool2_relu_grad(const PoolGrad& g, float* dc);

}  // namespace nerve::cpu
