// torchvision's transforms on (C, H, W) tensors, written with nerve's ops; the random ones draw their parameters
// from the SplitMix64 stream they are handed (one per fetch of one sample, see data/image.h).
#include "nerve/data/transforms.h"

#include <algorithm>
#include <cmath>

#include "nerve/autograd/grad_mode.h"
#include "nerve/core/error.h"
#include "nerve/ops/ops.h"

namespace nerve::data::transforms {

namespace {
void check_image(const Tensor& x, const char* who) {
  nerve::detail::check_arg(x, who, "image");
  NERVE_CHECK(x.dim() == 3, who, ": expected an image (C, H, W), got ", to_string(x.shape()));
}
std::pair<int64_t, int64_t> hw(const Shape& s, const char* who) {
  NERVE_CHECK((s.size() == 1 || s.size() == 2) && s[0] > 0 && s.back() > 0 && s[0] <= (int64_t{1} << 24) &&
                  s.back() <= (int64_t{1} << 24),
              who, ": size must be one or two positive numbers, got ", to_string(s));
  return {s[0], s.back()};
}
Tensor as_float(const Tensor& x) { return is_floating(x.dtype()) ? x : x.to(DType::f32); }
// back to the input's dtype: u8 rounded and clamped to [0, 255]
Tensor like(const Tensor& y, const Tensor& x) {
  if (is_floating(x.dtype())) return y;
  return clamp(round(y), 0.0, 255.0).to(x.dtype());
}
}  // namespace

Transform Compose(std::vector<Transform> ts) {
  for (const Transform& t : ts) NERVE_CHECK(static_cast<bool>(t), "Compose: an empty transform");
  return [ts = std::move(ts)](const Tensor& x, SplitMix64& rng) {
    Tensor y = x;
    for (const Transform& t : ts) y = t(y, rng);
    return y;
  };
}

Transform ToTensor() {
  return [](const Tensor& x, SplitMix64&) {
    check_image(x, "ToTensor");
    if (is_floating(x.dtype())) return x;
    NERVE_CHECK(x.dtype() == DType::u8, "ToTensor: expected a u8 or floating image, got ", dtype_name(x.dtype()));
    return rescale(x, 1.0 / 255.0, 0.0);
  };
}

Transform Normalize(std::vector<double> mean, std::vector<double> std) {
  NERVE_CHECK(!mean.empty() && mean.size() == std.size(), "Normalize: mean and std need the same number of values, got ",
              mean.size(), " and ", std.size());
  for (double s : std) NERVE_CHECK(s > 0, "Normalize: std must be positive, got ", s);
  return [mean = std::move(mean), std = std::move(std)](const Tensor& x, SplitMix64&) {
    check_image(x, "Normalize");
    NERVE_CHECK(is_floating(x.dtype()), "Normalize: expected a floating image (ToTensor first), got ",
                dtype_name(x.dtype()));
    const int64_t c = x.shape()[0], n = static_cast<int64_t>(mean.size());
    NERVE_CHECK(n == 1 || n == c, "Normalize: ", n, " means for an image of ", c, " channels");
    Tensor m = from_vector<double>(mean).to(x.dtype()).reshape({n, 1, 1}),
           s = from_vector<double>(std).to(x.dtype()).reshape({n, 1, 1});
    return (x - m) / s;
  };
}

Transform Resize(const Shape& size) {
  auto [h, w] = hw(size, "Resize");
  return [h, w](const Tensor& x, SplitMix64&) {
    check_image(x, "Resize");
    if (x.shape()[1] == h && x.shape()[2] == w) return x;
    Tensor y = interpolate(as_float(x).unsqueeze(0), {h, w}, "bilinear", false).squeeze(0);
    return like(y, x);
  };
}

Transform CenterCrop(const Shape& size) {
  auto [h, w] = hw(size, "CenterCrop");
  return [h, w](const Tensor& x, SplitMix64&) {
    check_image(x, "CenterCrop");
    const int64_t H = x.shape()[1], W = x.shape()[2];
    NERVE_CHECK(h <= H && w <= W, "CenterCrop: crop ", h, " x ", w, " is larger than the image ", to_string(x.shape()));
    const int64_t top = static_cast<int64_t>(std::lround((H - h) / 2.0));
    const int64_t left = static_cast<int64_t>(std::lround((W - w) / 2.0));
    return narrow(narrow(x, 1, top, h), 2, left, w).contiguous();
  };
}

Transform RandomCrop(const Shape& size, int64_t padding) {
  auto [h, w] = hw(size, "RandomCrop");
  NERVE_CHECK(padding >= 0 && padding <= (int64_t{1} << 20), "RandomCrop: padding must be in 0..2^20, got ", padding);
  return [h, w, padding](const Tensor& x, SplitMix64& rng) {
    check_image(x, "RandomCrop");
    const Tensor p = padding > 0 ? pad(x, {padding, padding, padding, padding}) : x;
    const int64_t H = p.shape()[1], W = p.shape()[2];
    NERVE_CHECK(h <= H && w <= W, "RandomCrop: crop ", h, " x ", w, " is larger than the padded image ",
                to_string(p.shape()));
    const int64_t top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(H - h + 1)));
    const int64_t left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(W - w + 1)));
    return narrow(narrow(p, 1, top, h), 2, left, w).contiguous();
  };
}

Transform RandomHorizontalFlip(double p) {
  NERVE_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got ", p);
  return [p](const Tensor& x, SplitMix64& rng) {
    check_image(x, "RandomHorizontalFlip");
    if (!(uniform01(rng) < p)) return x;
    const int64_t W = x.shape()[2];
    return index_select(x, 2, arange(W - 1, -1, -1, DType::i64));
  };
}

Transform ColorJitter(double brightness, double contrast) {
  NERVE_CHECK(brightness >= 0 && contrast >= 0 && std::isfinite(brightness) && std::isfinite(contrast),
              "ColorJitter: brightness and contrast must be >= 0, got ", brightness, " and ", contrast);
  return [brightness, contrast](const Tensor& x, SplitMix64& rng) {
    check_image(x, "ColorJitter");
    auto factor = [&](double v) { return std::max(0.0, 1.0 - v) + uniform01(rng) * (1.0 + v - std::max(0.0, 1.0 - v)); };
    const bool contrast_first = rng.below(2) == 1;  // torchvision applies its jitters in a random order
    const double bf = brightness > 0 ? factor(brightness) : 1.0, cf = contrast > 0 ? factor(contrast) : 1.0;
    const double hi = is_floating(x.dtype()) ? 1.0 : 255.0;
    Tensor y = as_float(x);
    auto apply_brightness = [&] { y = clamp(y * bf, 0.0, hi); };
    auto apply_contrast = [&] {
      NERVE_CHECK(y.shape()[0] == 1 || y.shape()[0] == 3, "ColorJitter: contrast needs 1 or 3 channels, got ",
                  y.shape()[0]);
      Tensor gray = y.shape()[0] == 3 ? narrow(y, 0, 0, 1) * 0.299 + narrow(y, 0, 1, 1) * 0.587 + narrow(y, 0, 2, 1) * 0.114
                                      : y;
      const double m = mean(gray).item<double>();
      y = clamp(y * cf + m * (1.0 - cf), 0.0, hi);
    };
    if (contrast_first) {
      apply_contrast();
      apply_brightness();
    } else {
      apply_brightness();
      apply_contrast();
    }
    return like(y, x);
  };
}

}  // namespace nerve::data::transforms
