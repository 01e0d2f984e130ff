// Image transforms composed as torchvision's, on tensors (C, H, W): ToTensor, Normalize, Resize, CenterCrop,
// RandomCrop (with padding), RandomHorizontalFlip, ColorJitter (brightness, contrast). A transform takes the image
// and the random stream it may draw from (data::ImageFolder gives each fetch its own seeded stream).
//   auto t = transforms::Compose({transforms::RandomCrop({28, 28}, 4), transforms::RandomHorizontalFlip(),
//                                 transforms::ToTensor(), transforms::Normalize({0.286}, {0.353})});
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "nerve/core/rng.h"
#include "nerve/tensor/tensor.h"

namespace nerve::data {

namespace detail {
/// How often each sample was fetched: the k-th fetch of sample i draws from the stream (seed, i, k).
struct DrawCounts {
  explicit DrawCounts(int64_t n) : count(static_cast<size_t>(n)) {}
  std::vector<std::atomic<uint64_t>> count;
  /// The stream of the next fetch of sample i.
  SplitMix64 next(uint64_t seed, int64_t i) {
    const uint64_t k = count[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
    return SplitMix64(mix64(seed ^ mix64(static_cast<uint64_t>(i) ^ mix64(k + 0x9E3779B97F4A7C15ull))));
  }
};
}  // namespace detail

namespace transforms {

/// An image (C, H, W) in, an image out; random transforms draw from `rng`.
using Transform = std::function<Tensor(const Tensor& image, SplitMix64& rng)>;

/// The transforms one after the other.
Transform Compose(std::vector<Transform> transforms);
/// u8 (C, H, W) -> f32 in [0, 1] (x / 255); a floating image is returned unchanged.
Transform ToTensor();
/// (x - mean[c]) / std[c] per channel; one value for all channels or one per channel.
Transform Normalize(std::vector<double> mean, std::vector<double> std);
/// Bilinear resize (align_corners false, as torchvision on tensors) to size {H, W}; u8 images are rounded back.
Transform Resize(const Shape& size);
/// The central {H, W} window (torchvision's rounding: top = round((H - h) / 2)).
Transform CenterCrop(const Shape& size);
/// A random {H, W} window of the image zero-padded by `padding` on every side.
Transform RandomCrop(const Shape& size, int64_t padding = 0);
/// Mirrors the width with probability p.
Transform RandomHorizontalFlip(double p = 0.5);
/// Brightness and contrast factors drawn uniformly from [max(0, 1 - b), 1 + b] and [max(0, 1 - c), 1 + c], applied
/// in a random order as torchvision does: brightness scales the image, contrast blends it with the mean of its
/// grayscale (0.299 R + 0.587 G + 0.114 B); results are clamped to [0, 1] (floating images) or [0, 255] (u8).
Transform ColorJitter(double brightness = 0.0, double contrast = 0.0);

/// Uniform in [0, 1) from rng (53 bits).
inline double uniform01(SplitMix64& rng) { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; }

}  // namespace transforms
}  // namespace nerve::data
