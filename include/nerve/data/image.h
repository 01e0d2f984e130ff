// Image files: PNG (libpng) and JPEG (libjpeg-turbo) decoded into uint8 tensors (C, H, W) as
// torchvision.io.read_image gives them, PNG written back; and ImageFolder, torchvision's dataset of one folder per
// class. Transforms (data/transforms.h) turn the images into training tensors.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nerve/data/dataset.h"
#include "nerve/data/transforms.h"

namespace nerve::data {

/// The channels read_image returns: as stored (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA), gray (1) or RGB (3, alpha
/// dropped, gray replicated; PIL's convert("RGB"), which torchvision's ImageFolder applies).
enum class ImageMode { unchanged, gray, rgb };

/// Decodes a PNG or JPEG file (recognized by its first bytes, not its name) into u8 (C, H, W). A file that is not
/// one, is truncated or corrupt, or claims more than 2^28 pixels throws nerve::Error naming it and the reason.
///   Tensor img = data::read_image("cat.png");   // (3, H, W) u8
Tensor read_image(const std::string& path, ImageMode mode = ImageMode::rgb);
/// The same on bytes in memory; `name` is for messages.
Tensor decode_image(const uint8_t* bytes, size_t size, const std::string& name, ImageMode mode = ImageMode::rgb);
/// Writes u8 (C, H, W), C = 1, 2, 3 or 4, as a PNG file (atomically).
void write_png(const std::string& path, const Tensor& image);
/// Writes u8 (C, H, W), C = 1 or 3, as a baseline JPEG of the given quality (1-100), atomically.
void write_jpeg(const std::string& path, const Tensor& image, int quality = 95);

struct ImageFolderOptions {
  /// Applied to each decoded u8 (C, H, W) image; unset: ToTensor() (f32 in [0, 1]).
  transforms::Transform transform{};
  ImageMode mode = ImageMode::rgb;
  /// Seed of the random transforms; unset: drawn from the global generator when the dataset is made.
  std::optional<uint64_t> seed{};
};

/// torchvision's ImageFolder: root/<class>/<file> with classes sorted by name (targets 0, 1, ...) and files sorted
/// in each; files with the extensions .png, .jpg, .jpeg (any case) are the samples, other files are skipped.
/// Images are decoded when fetched (in the DataLoader's worker thread). The k-th time sample i is fetched its random
/// transforms draw from a stream fixed by (seed, i, k): the same seed gives the same augmented batches at any thread
/// count, with or without prefetching, and each epoch new ones. A batch stacks images, so the transform must give
/// them one size (Resize / RandomCrop / CenterCrop).
///   data::ImageFolder train("photos/train", {.transform = transforms::Compose({transforms::RandomCrop({32, 32}, 4),
///                           transforms::RandomHorizontalFlip(), transforms::ToTensor()})});
class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(const std::string& root, ImageFolderOptions options = {});
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  Example get(int64_t index) const override;  // data: the transform's result; target: i64 scalar

  const std::vector<std::string>& classes() const { return classes_; }
  /// (path, target) of every sample, in order.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }

 private:
  std::vector<std::string> classes_;
  std::vector<std::pair<std::string, int64_t>> samples_;
  ImageFolderOptions options_;
  uint64_t seed_;
  std::shared_ptr<detail::DrawCounts> draws_;
};

/// Applies an image transform to the data of every example of `base` (in-memory images such as CIFAR's, u8
/// (C, H, W) or already float), with the same per-sample random streams as ImageFolder.
///   data::ImageTransformDataset train(std::make_shared<TensorDataset>(x, y), transforms::RandomHorizontalFlip());
class ImageTransformDataset : public Dataset {
 public:
  ImageTransformDataset(std::shared_ptr<const Dataset> base, transforms::Transform transform,
                        std::optional<uint64_t> seed = std::nullopt);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override;

 private:
  std::shared_ptr<const Dataset> base_;
  transforms::Transform transform_;
  uint64_t seed_;
  std::shared_ptr<detail::DrawCounts> draws_;
};

}  // namespace nerve::data
