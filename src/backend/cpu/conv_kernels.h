// Kernels of the 2-D convolution (im2col / col2im, the lowering to one GEMM per image and group) and of the
// 2-D pooling ops (max with indices, average, adaptive average), forward and backward, on one (C, H, W) image.
// f32 and f64; every function works on contiguous row-major buffers.
#pragma once
#include <cstdint>

namespace nerve::cpu {

/// Geometry of a 2-D window op over an (H, W) plane: kernel, stride, padding (top, left; the bottom and right
/// padding only enter through Ho, Wo), dilation, and the output size.
struct Window2d {
  int64_t H, W;     // input plane
  int64_t kh, kw;   // kernel
  int64_t sh, sw;   // stride
  int64_t ph, pw;   // padding at the top and the left
  int64_t dh, dw;   // dilation
  int64_t Ho, Wo;   // output plane
};

/// col (C * kh * kw, Ho * Wo) from x (C, H, W): col[(c, i, j), (oh, ow)] = x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
/// (0 outside the image).
template <class T>
void im2col(const T* x, int64_t C, const Window2d& g, T* col);
/// The adjoint of im2col: dx (C, H, W) += the entries of col (C * kh * kw, Ho * Wo) at the pixels they were read from.
template <class T>
void col2im_add(const T* col, int64_t C, const Window2d& g, T* dx);

/// y (planes, Ho, Wo) = the max of each window over x (planes, H, W), padding counting as -inf, NaN counting as the
/// largest (torch); idx = the flat index (h * W + w) of the chosen input pixel in its plane.
template <class T>
void max_pool2d_forward(const T* x, int64_t planes, const Window2d& g, T* y, int64_t* idx);
/// dx (planes, H, W) = 0, then dx[idx] += dy for every output.
template <class T>
void max_pool2d_backward(const T* dy, const int64_t* idx, int64_t planes, const Window2d& g, T* dx);

/// y (planes, Ho, Wo) = the mean of each window of x (planes, H, W) (torch's avg_pool2d: windows end at most at
/// H + padding; count_include_pad divides by that clipped window, else by its part inside the image).
template <class T>
void avg_pool2d_forward(const T* x, int64_t planes, const Window2d& g, bool count_include_pad, T* y);
/// dx (planes, H, W) = the adjoint of avg_pool2d_forward applied to dy.
template <class T>
void avg_pool2d_backward(const T* dy, int64_t planes, const Window2d& g, bool count_include_pad, T* dx);

/// y (planes, Ho, Wo): output (i, j) is the mean of rows [floor(i H / Ho), ceil((i+1) H / Ho)) and the columns
/// likewise (torch's adaptive_avg_pool2d). g's kernel, stride and padding are unused.
template <class T>
void adaptive_avg_pool2d_forward(const T* x, int64_t planes, const Window2d& g, T* y);
template <class T>
void adaptive_avg_pool2d_backward(const T* dy, int64_t planes, const Window2d& g, T* dx);
/// The max over the windows of adaptive_avg_pool2d_forward, and the flat index of each maximum in its plane
/// (NaN counts as the largest, as torch); its backward is max_pool2d_backward.
template <class T>
void adaptive_max_pool2d_forward(const T* x, int64_t planes, const Window2d& g, T* y, int64_t* idx);

}  // namespace nerve::cpu
