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

/// One split of CIFAR-10 or CIFAR-100 (the binary version: https://www.cs.toronto.edu/~kriz/cifar.html).
struct Cifar {
  Tensor images;         // (N, 3, 32, 32) u8, channels first as the files store them
  Tensor labels;         // (N) i64: the class (CIFAR-100: the fine label, in [0, 100))
  Tensor coarse_labels;  // CIFAR-100: (N) i64 superclass in [0, 20); undefined for CIFAR-10
  int64_t size() const { return images.size(0); }
};

/// CIFAR-10 from `dir` (cifar-10-batches-bin): data_batch_1.bin .. data_batch_5.bin (train, 50000 images) or
/// test_batch.bin (10000). Each record: 1 label byte, then 3072 pixel bytes (1024 red, 1024 green, 1024 blue).
///   auto train = datasets::cifar10("data/cifar-10-batches-bin");
Cifar cifar10(const std::string& dir, bool train = true);
/// CIFAR-100 from `dir` (cifar-100-binary): train.bin or test.bin; records of a coarse label byte, a fine label
/// byte and 3072 pixel bytes.
Cifar cifar100(const std::string& dir, bool train = true);
/// The records of one CIFAR binary file; cifar100_format: two label bytes per record instead of one. Throws
/// naming the file for a missing file, a size that is not a whole number of records, and labels out of range.
Cifar read_cifar_file(const std::string& path, bool cifar100_format);
/// The ten CIFAR-10 class names, by label.
const std::array<const char*, 10>& cifar10_classes();

}  // namespace nerve::data::datasets
