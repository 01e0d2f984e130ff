// MNIST and Fashion-MNIST: find the IDX files (.gz or not), read them, check images against labels.
#include <cstdlib>
#include <filesystem>

#include "nerve/data/datasets.h"
#include "nerve/data/idx.h"

namespace nerve::data::datasets {

namespace {

constexpr const char* kDefaultFashionDir = "/usr/share/datasets/fashion-mnist";

// The first existing file among the accepted spellings of `base` ("train-images-idx3-ubyte").
std::string find_file(const std::string& dir, const std::string& base, const char* what) {
  std::string dotted = base;
  dotted[dotted.find("-idx")] = '.';  // "train-images.idx3-ubyte", as some mirrors name it
  for (const std::string& name : {base + ".gz", base, dotted + ".gz", dotted}) {
    std::filesystem::path p = std::filesystem::path(dir) / name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  }
  NERVE_CHECK(
      false, what, ": ", dir, ": cannot find ", base, "[.gz]. apt-get install dataset-fashion-mnist, or put the ",
      "MNIST IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], ",
      "t10k-labels-idx1-ubyte[.gz]) in ", dir);
  return {};
}

Mnist load(const std::string& dir, bool train, const char* what) {
  std::string prefix = train ? "train" : "t10k";
  std::string images_path = find_file(dir, prefix + "-images-idx3-ubyte", what);
  std::string labels_path = find_file(dir, prefix + "-labels-idx1-ubyte", what);
  Tensor images = read_idx(images_path), labels = read_idx(labels_path);
  NERVE_CHECK(images.dtype() == DType::u8 && images.dim() == 3, what, ": ", images_path,
              ": expected (N, rows, cols) u8 images, found ", to_string(images.shape()), " ",
              dtype_name(images.dtype()));
  NERVE_CHECK(labels.dtype() == DType::u8 && labels.dim() == 1, what, ": ", labels_path,
              ": expected (N) u8 labels, found ", to_string(labels.shape()), " ", dtype_name(labels.dtype()));
  NERVE_CHECK(images.size(0) == labels.size(0), what, ": ", images.size(0), " images in ", images_path, " but ",
              labels.size(0), " labels in ", labels_path);
  const uint8_t* l = labels.data<uint8_t>();
  for (int64_t i = 0; i < labels.numel(); ++i)
    NERVE_CHECK(l[i] < 10, what, ": ", labels_path, ": label ", int{l[i]}, " at index ", i,
                " is out of range, expected 0 to 9");
  return {images, labels.to(DType::i64)};
}

}  // namespace

Mnist mnist(const std::string& dir, bool train) { return load(dir, train, "mnist"); }

std::string default_fashion_mnist_dir() {
  const char* env = std::getenv("NERVE_FASHION_MNIST_DIR");
  return env && *env ? env : kDefaultFashionDir;
}

Mnist fashion_mnist(const std::string& dir, bool train) {
  return load(dir.empty() ? default_fashion_mnist_dir() : dir, train, "fashion_mnist");
}

const std::array<const char*, 10>& fashion_mnist_classes() {
  static const std::array<const char*, 10> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace nerve::data::datasets
