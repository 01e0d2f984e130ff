// im2col / col2im and the pooling loops (see conv_kernels.h). Formulas and edge rules follow PyTorch's CPU kernels
// (aten/src/ATen/native/Im2Col.cpp, DilatedMaxPool2d.cpp, AveragePool2d.cpp, AdaptiveAveragePooling.cpp).
#include "backend/cpu/conv_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/simd_clones.h"

namespace nerve::cpu {

namespace {
// the output columns [lo, hi) of a kernel tap whose input column ow*s + off lies inside [0, n)
inline void valid_range(int64_t n, int64_t s, int64_t off, int64_t No, int64_t& lo, int64_t& hi) {
  // ow*s + off >= 0  <=>  ow >= ceil(-off / s);  ow*s + off < n  <=>  ow < ceil((n - off) / s)
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = n - off <= 0 ? 0 : (n - off + s - 1) / s;
  lo = std::min(lo, No);
  hi = std::clamp(hi, lo, No);
}
}  // namespace

template <class T>
void im2col(const T* x, int64_t C, const Window2d& g, T* col) {
  const int64_t HWo = g.Ho * g.Wo;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * HWo;
        const int64_t hoff = i * g.dh - g.ph, woff = j * g.dw - g.pw;
        int64_t wlo, whi;
        valid_range(g.W, g.sw, woff, g.Wo, wlo, whi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          T* r = row + oh * g.Wo;
          const int64_t ih = oh * g.sh + hoff;
          if (ih < 0 || ih >= g.H) {
            std::fill(r, r + g.Wo, T(0));
            continue;
          }
          const T* xr = x + (c * g.H + ih) * g.W + woff;
          std::fill(r, r + wlo, T(0));
          if (g.sw == 1)
            std::copy(xr + wlo, xr + whi, r + wlo);
          else
            for (int64_t ow = wlo; ow < whi; ++ow) r[ow] = xr[ow * g.sw];
          std::fill(r + whi, r + g.Wo, T(0));
        }
      }
}

template <class T>
void col2im_add(const T* col, int64_t C, const Window2d& g, T* dx) {
  const int64_t HWo = g.Ho * g.Wo;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * HWo;
        const int64_t hoff = i * g.dh - g.ph, woff = j * g.dw - g.pw;
        int64_t wlo, whi;
        valid_range(g.W, g.sw, woff, g.Wo, wlo, whi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.sh + hoff;
          if (ih < 0 || ih >= g.H) continue;
          const T* r = row + oh * g.Wo;
          T* xr = dx + (c * g.H + ih) * g.W + woff;
          if (g.sw == 1)
            for (int64_t ow = wlo; ow < whi; ++ow) xr[ow] += r[ow];
          else
            for (int64_t ow = wlo; ow < whi; ++ow) xr[ow * g.sw] += r[ow];
        }
      }
}

namespace {
// One element of a max window, without a branch (the comparison of random data mispredicts half the time): v replaces the maximum when larger, or when NaN (torch's rule; a later
// NaN then never replaces it), so the first maximum's index is kept.
template <class T>
inline void take_max(T v, int64_t i, T& m, int64_t& best) {
  const bool take = (v > m) | (v != v);  // (| rather than ||: no branch)
  m = take ? v : m;
  best = take ? i : best;
}

// One output row of the 2x2 window of stride 2 (input rows r0, r1; i0 = the flat index of r0[0] in its plane),
// vectorized across the row: max_pool2d of (128, 32, 26, 26) in 2.6 ms on one thread, 15.4 ms with the branches of
// the general loop (3.7 instead of 22 ns per output; the first layer of cnn_fashion).
template <class T>
inline void max_pool_2x2_row_body(const T* r0, const T* r1, int64_t Wo, int64_t i0, int64_t W, T* y, int64_t* idx) {
#pragma omp simd
  for (int64_t ow = 0; ow < Wo; ++ow) {
    const int64_t c = 2 * ow, i = i0 + c;
    T m = r0[c];  // (a first element of -inf leaves the maximum -inf at the same index)
    int64_t best = i;
    take_max(r0[c + 1], i + 1, m, best);
    take_max(r1[c], i + W, m, best);
    take_max(r1[c + 1], i + W + 1, m, best);
    y[ow] = m;
    idx[ow] = best;
  }
}
// the f32 body compiled per instruction set
NERVE_SIMD_CLONES_V void max_pool_2x2_row_f32(const float* r0, const float* r1, int64_t Wo, int64_t i0, int64_t W,
                                              float* y, int64_t* idx) {
  max_pool_2x2_row_body(r0, r1, Wo, i0, W, y, idx);
}
template <class T>
void max_pool_2x2_row(const T* r0, const T* r1, int64_t Wo, int64_t i0, int64_t W, T* y, int64_t* idx) {
  if constexpr (std::is_same_v<T, float>)
    max_pool_2x2_row_f32(r0, r1, Wo, i0, W, y, idx);
  else
    max_pool_2x2_row_body(r0, r1, Wo, i0, W, y, idx);
}
}  // namespace

template <class T>
void max_pool2d_forward(const T* x, int64_t planes, const Window2d& g, T* y, int64_t* idx) {
  const int64_t HWo = g.Ho * g.Wo;
  // the common 2x2 window of stride 2 with every window inside the plane: four loads, no bounds
  if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 && g.ph == 0 && g.pw == 0 &&
      2 * g.Ho <= g.H && 2 * g.Wo <= g.W) {
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = x + p * g.H * g.W;
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        const T* r0 = xp + 2 * oh * g.W;
        max_pool_2x2_row(r0, r0 + g.W, g.Wo, 2 * oh * g.W, g.W, y + p * HWo + oh * g.Wo, idx + p * HWo + oh * g.Wo);
      }
    }
    return;
  }
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      int64_t h0 = oh * g.sh - g.ph;
      const int64_t h1 = std::min(h0 + (g.kh - 1) * g.dh + 1, g.H);
      while (h0 < 0) h0 += g.dh;
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        int64_t w0 = ow * g.sw - g.pw;
        const int64_t w1 = std::min(w0 + (g.kw - 1) * g.dw + 1, g.W);
        while (w0 < 0) w0 += g.dw;
        int64_t best = h0 * g.W + w0;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t h = h0; h < h1; h += g.dh)
          for (int64_t w = w0; w < w1; w += g.dw) take_max(xp[h * g.W + w], h * g.W + w, m, best);
        const int64_t o = p * HWo + oh * g.Wo + ow;
        y[o] = m;
        idx[o] = best;
      }
    }
  }
}

template <class T>
void max_pool2d_backward(const T* dy, const int64_t* idx, int64_t planes, const Window2d& g, T* dx) {
  const int64_t HW = g.H * g.W, HWo = g.Ho * g.Wo;
  std::fill(dx, dx + planes * HW, T(0));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o = 0; o < HWo; ++o) dx[p * HW + idx[p * HWo + o]] += dy[p * HWo + o];
}

namespace {
// The window of output (oh, ow) of avg_pool2d: rows [h0, h1), columns [w0, w1) inside the image, and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};
inline AvgWindow avg_window(const Window2d& g, int64_t oh, int64_t ow, bool count_include_pad) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, g.H + g.ph), w1 = std::min(w0 + g.kw, g.W + g.pw);
  const int64_t pool = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  return {h0, h1, w0, w1, count_include_pad ? pool : (h1 - h0) * (w1 - w0)};
}
}  // namespace

template <class T>
void avg_pool2d_forward(const T* x, int64_t planes, const Window2d& g, bool count_include_pad, T* y) {
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const AvgWindow a = avg_window(g, oh, ow, count_include_pad);
        T s = 0;
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) s += xp[h * g.W + w];
        y[(p * g.Ho + oh) * g.Wo + ow] = a.h0 >= a.h1 || a.w0 >= a.w1 ? T(0) : s / T(a.divisor);
      }
  }
}

template <class T>
void avg_pool2d_backward(const T* dy, int64_t planes, const Window2d& g, bool count_include_pad, T* dx) {
  std::fill(dx, dx + planes * g.H * g.W, T(0));
  for (int64_t p = 0; p < planes; ++p) {
    T* xp = dx + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const AvgWindow a = avg_window(g, oh, ow, count_include_pad);
        if (a.h0 >= a.h1 || a.w0 >= a.w1) continue;
        const T d = dy[(p * g.Ho + oh) * g.Wo + ow] / T(a.divisor);
        for (int64_t h = a.h0; h < a.h1; ++h)
          for (int64_t w = a.w0; w < a.w1; ++w) xp[h * g.W + w] += d;
      }
  }
}

template <class T>
void adaptive_avg_pool2d_forward(const T* x, int64_t planes, const Window2d& g, T* y) {
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const int64_t h0 = oh * g.H / g.Ho, h1 = ((oh + 1) * g.H + g.Ho - 1) / g.Ho;
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const int64_t w0 = ow * g.W / g.Wo, w1 = ((ow + 1) * g.W + g.Wo - 1) / g.Wo;
        T s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += xp[h * g.W + w];
        y[(p * g.Ho + oh) * g.Wo + ow] = s / T((h1 - h0) * (w1 - w0));
      }
    }
  }
}

template <class T>
void adaptive_avg_pool2d_backward(const T* dy, int64_t planes, const Window2d& g, T* dx) {
  std::fill(dx, dx + planes * g.H * g.W, T(0));
  for (int64_t p = 0; p < planes; ++p) {
    T* xp = dx + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const int64_t h0 = oh * g.H / g.Ho, h1 = ((oh + 1) * g.H + g.Ho - 1) / g.Ho;
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const int64_t w0 = ow * g.W / g.Wo, w1 = ((ow + 1) * g.W + g.Wo - 1) / g.Wo;
        const T d = dy[(p * g.Ho + oh) * g.Wo + ow] / T((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) xp[h * g.W + w] += d;
      }
    }
  }
}

template <class T>
void adaptive_max_pool2d_forward(const T* x, int64_t planes, const Window2d& g, T* y, int64_t* idx) {
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * g.H * g.W;
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const int64_t h0 = oh * g.H / g.Ho, h1 = ((oh + 1) * g.H + g.Ho - 1) / g.Ho;
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const int64_t w0 = ow * g.W / g.Wo, w1 = ((ow + 1) * g.W + g.Wo - 1) / g.Wo;
        T m = -std::numeric_limits<T>::infinity();
        int64_t best = h0 * g.W + w0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const T v = xp[h * g.W + w];
            if (v > m || std::isnan(v)) {
              m = v;
              best = h * g.W + w;
            }
          }
        const int64_t o = (p * g.Ho + oh) * g.Wo + ow;
        y[o] = m;
        idx[o] = best;
      }
    }
  }
}

#define NERVE_CONV_KERNELS(T)                                                                            \
  template void im2col<T>(const T*, int64_t, const Window2d&, T*);                                        \
  template void col2im_add<T>(const T*, int64_t, const Window2d&, T*);                                    \
  template void max_pool2d_forward<T>(const T*, int64_t, const Window2d&, T*, int64_t*);                  \
  template void max_pool2d_backward<T>(const T*, const int64_t*, int64_t, const Window2d&, T*);           \
  template void avg_pool2d_forward<T>(const T*, int64_t, const Window2d&, bool, T*);                      \
  template void avg_pool2d_backward<T>(const T*, int64_t, const Window2d&, bool, T*);                     \
  template void adaptive_avg_pool2d_forward<T>(const T*, int64_t, const Window2d&, T*);                   \
  template void adaptive_avg_pool2d_backward<T>(const T*, int64_t, const Window2d&, T*);                  \
  template void adaptive_max_pool2d_forward<T>(const T*, int64_t, const Window2d&, T*, int64_t*);
NERVE_CONV_KERNELS(float)
NERVE_CONV_KERNELS(double)
#undef NERVE_CONV_KERNELS

}  // namespace nerve::cpu
