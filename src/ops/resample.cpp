// pad and interpolate as compositions of cat / index_select and elementwise ops (their gradients come from
// those): reflect and replicate padding and the resampling modes are index maps along each spatial dim, the
// bilinear mode a weighted sum of two gathers per dim. Index formulas: aten/src/ATen/native/UpSample.h.
#include <cmath>

#include "nerve/core/profiler.h"
#include "ops/op_util.h"

namespace nerve {

namespace {
// (1, .., n, .., 1) with n at dim d of a rank-r tensor: weights that broadcast along d
Shape along(int64_t r, int64_t d, int64_t n) {
  Shape s(static_cast<size_t>(r), 1);
  s[static_cast<size_t>(d)] = n;
  return s;
}
}  // namespace

Tensor pad(const Tensor& x, const Shape& pads, const std::string& mode, double value) {
  detail::check_arg(x, "pad", "input");
  NERVE_RECORD_FUNCTION("pad");
  NERVE_CHECK(pads.size() % 2 == 0 && static_cast<int64_t>(pads.size()) / 2 <= x.dim(), "pad: expected pairs ",
              "(before, after) for at most ", x.dim(), " dims, got pads ", to_string(pads), " for input ",
              detail::describe(x));
  NERVE_CHECK(mode == "constant" || mode == "reflect" || mode == "replicate", "pad: mode must be constant, reflect ",
              "or replicate, got '", mode, "'");
  Tensor y = x;
  for (size_t k = 0; k < pads.size() / 2; ++k) {
    const int64_t d = x.dim() - 1 - static_cast<int64_t>(k), lo = pads[2 * k], hi = pads[2 * k + 1];
    const int64_t n = y.shape()[static_cast<size_t>(d)];
    NERVE_CHECK(lo >= 0 && hi >= 0, "pad: negative padding is not supported, got pads ", to_string(pads));
    NERVE_CHECK(lo <= (int64_t{1} << 31) && hi <= (int64_t{1} << 31), "pad: padding above 2^31 per side, got pads ",
                to_string(pads));
    if (lo == 0 && hi == 0) continue;
    if (mode == "constant") {
      std::vector<Tensor> parts;
      Shape s = y.shape();
      s[static_cast<size_t>(d)] = lo;
      if (lo > 0) parts.push_back(full(s, value, y.dtype(), y.device()));
      parts.push_back(y);
      s[static_cast<size_t>(d)] = hi;
      if (hi > 0) parts.push_back(full(s, value, y.dtype(), y.device()));
      y = cat(parts, d);
      continue;
    }
    if (mode == "reflect")
      NERVE_CHECK(lo < n && hi < n, "pad: reflect padding (", lo, ", ", hi, ") of dim ", d,
                  " must be smaller than its size ", n, " (input ", detail::describe(x), ")");
    else
      NERVE_CHECK(n > 0, "pad: replicate padding of dim ", d, ", which is empty (input ", detail::describe(x), ")");
    std::vector<int64_t> idx;
    for (int64_t j = -lo; j < n + hi; ++j) {
      if (mode == "reflect") idx.push_back(j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j);
      else idx.push_back(j < 0 ? 0 : j >= n ? n - 1 : j);
    }
    y = index_select(y, d, from_vector<int64_t>(idx));
  }
  return y;
}

Tensor interpolate(const Tensor& x, const Shape& size, const std::string& mode, bool align_corners,
                   std::optional<double> scale_factor) {
  detail::check_arg(x, "interpolate", "input");
  NERVE_RECORD_FUNCTION("interpolate");
  NERVE_CHECK(x.dim() == 3 || x.dim() == 4, "interpolate: expected an input (N, C, L) or (N, C, H, W), got ",
              detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), "interpolate: expected a floating input, got ", detail::describe(x));
  const bool nearest = mode == "nearest";
  NERVE_CHECK(nearest || (mode == "bilinear" && x.dim() == 4) || (mode == "linear" && x.dim() == 3),
              "interpolate: mode must be nearest, or bilinear for 4-D and linear for 3-D inputs, got '", mode,
              "' for input ", detail::describe(x));
  NERVE_CHECK(!(nearest && align_corners), "interpolate: align_corners only applies to the linear modes");
  const int64_t sd = x.dim() - 2;
  NERVE_CHECK(size.empty() != !scale_factor.has_value(), "interpolate: give size or scale_factor, exactly one");
  NERVE_CHECK(size.empty() || static_cast<int64_t>(size.size()) == 1 || static_cast<int64_t>(size.size()) == sd,
              "interpolate: size must hold 1 or ", sd, " values, got ", to_string(size));
  if (scale_factor)
    NERVE_CHECK(*scale_factor > 0 && std::isfinite(*scale_factor), "interpolate: scale_factor must be positive and ",
                "finite, got ", *scale_factor);
  Tensor y = x;
  for (int64_t k = 0; k < sd; ++k) {
    const int64_t d = 2 + k, in = x.shape()[static_cast<size_t>(d)];
    const int64_t out = size.empty() ? static_cast<int64_t>(std::floor(double(in) * *scale_factor))
                                     : size[size.size() == 1 ? 0 : static_cast<size_t>(k)];
    NERVE_CHECK(out > 0 && in > 0, "interpolate: input and output sizes must be positive, got ", in, " -> ", out,
                " (input ", detail::describe(x), ")");
    NERVE_CHECK(double(in) * (scale_factor ? *scale_factor : 1.0) < 0x1p31 && out < (int64_t{1} << 31),
                "interpolate: an output size of ", out, " is too large (at most 2^31 per dim; input ",
                detail::describe(x), ")");
    if (nearest) {  // torch: src = min(floor(dst * scale), in - 1) in float, scale = 1 / scale_factor or in / out
      const float scale = scale_factor ? float(1.0 / *scale_factor) : float(in) / float(out);
      std::vector<int64_t> idx;
      for (int64_t j = 0; j < out; ++j)
        idx.push_back(std::min(static_cast<int64_t>(std::floor(float(j) * scale)), in - 1));
      y = index_select(y, d, from_vector<int64_t>(idx));
      continue;
    }
    // linear: src = scale (dst + 0.5) - 0.5 clamped at 0 (align_corners: scale dst); the two neighbours weighted
    const double scale = align_corners ? (out > 1 ? double(in - 1) / double(out - 1) : 0.0)
                                       : scale_factor ? 1.0 / *scale_factor : double(in) / double(out);
    std::vector<int64_t> i0, i1;
    std::vector<double> w0, w1;
    for (int64_t j = 0; j < out; ++j) {
      const double src = align_corners ? scale * double(j) : std::max(scale * (double(j) + 0.5) - 0.5, 0.0);
      const int64_t lo = static_cast<int64_t>(src);
      const double l1 = src - double(lo);
      i0.push_back(lo);
      i1.push_back(lo + (lo < in - 1 ? 1 : 0));
      w0.push_back(1.0 - l1);
      w1.push_back(l1);
    }
    const Shape ws = along(y.dim(), d, out);
    y = index_select(y, d, from_vector<int64_t>(i0)) * from_vector<double>(w0, ws).to(y.dtype()) +
        index_select(y, d, from_vector<int64_t>(i1)) * from_vector<double>(w1, ws).to(y.dtype());
  }
  return y;
}

}  // namespace nerve
