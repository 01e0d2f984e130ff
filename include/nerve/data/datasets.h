// Ready-made datasets: MNIST and Fashion-MNIST from their IDX files (Debian: apt-get install dataset-fashion-mnist).
#pragma once
#include <array>
#include <string>

#include "nerve/data/dataset.h"

namespace nerve::data::datasets {

/// One split of an MNIST-style dataset.
struct Mnist {
  Tensor images;  // (N, 28, 28) u8
  Tensor labels;  // (N) i64 in [0, 10)
  /// A dataset of (image, label) rows; images become f32 in [0, 1] at batch time when u8_to_float is set.
  ///   DataLoader loader(fashion_mnist().dataset(), {.batch_size = 64, .shuffle = true});
  TensorDataset dataset(bool u8_to_float = true) const {
    return TensorDataset(images, labels, {.u8_to_float = u8_to_float});
  }
  int64_t size() const { return images.size(0); }
};

/// Loads the train (60000) or test (10000) split from `dir`, which holds train-images-idx3-ubyte,
/// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally with ".gz"
/// (the dotted names "train-images.idx3-ubyte" are accepted too).
///   auto train = datasets::mnist("data/mnist"); auto test = datasets::mnist("data/mnist", false);
Mnist mnist(const std::string& dir, bool train = true);

/// Where fashion_mnist() looks by default: $NERVE_FASHION_MNIST_DIR if set, else /usr/share/datasets/fashion-mnist
/// (the Debian package dataset-fashion-mnist).
std::string default_fashion_mnist_dir();

/// Fashion-MNIST (same format as MNIST) from `dir`, or default_fashion_mnist_dir() when dir is empty.
///   auto train = datasets::fashion_mnist(); auto test = datasets::fashion_mnist("", false);
Mnist fashion_mnist(const std::string& dir = "", bool train = true);

/// The ten Fashion-MNIST class names, by label.
const std::array<const char*, 10>& fashion_mnist_classes();

}  // namespace nerve::data::datasets
