// MNIST / Fashion-MNIST loading from small generated IDX files: .gz and plain names, env var default, and the
// errors for missing files, count mismatches and bad labels.
#include <gtest/gtest.h>
#include <nerve/data/dataloader.h>
#include <nerve/data/datasets.h>
#include <nerve/data/idx.h>
#include <nerve/ops/ops.h>

#include <cstdlib>
#include <optional>

#include "data/test_util.h"

using namespace nerve;
using namespace nerve::data;
using nerve::test::error_of;
using nerve::test::TempDir;

namespace {

// (n, 28, 28) u8 with pixel i = 3 i mod 256.
Tensor fake_images(int64_t n) {
  std::vector<uint8_t> v(static_cast<size_t>(n * 784));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 3);
  return from_vector(v, {n, 28, 28});
}

// Writes a split into dir; suffix "" or ".gz".
void write_split(const TempDir& dir, const std::string& prefix, const Tensor& images,
                 const std::vector<uint8_t>& labels, const std::string& suffix) {
  write_idx(dir / (prefix + "-images-idx3-ubyte" + suffix), images);
  write_idx(dir / (prefix + "-labels-idx1-ubyte" + suffix), from_vector(labels));
}

// Restores an environment variable at scope exit.
class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    const char* v = std::getenv(name);
    if (v) old_ = v;
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST(Mnist, LoadsGzipAndPlainSplits) {
  TempDir dir;
  write_split(dir, "train", fake_images(5), {0, 1, 9, 3, 3}, ".gz");
  write_split(dir, "t10k", fake_images(2), {7, 2}, "");
  datasets::Mnist train = datasets::mnist(dir.path().string());
  EXPECT_EQ(train.images.shape(), (Shape{5, 28, 28}));
  EXPECT_EQ(train.images.dtype(), DType::u8);
  EXPECT_EQ(train.labels.dtype(), DType::i64);
  EXPECT_EQ(train.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 9, 3, 3}));
  EXPECT_EQ(train.images.to_vector<uint8_t>(), fake_images(5).to_vector<uint8_t>());
  datasets::Mnist test = datasets::mnist(dir.path().string(), false);
  EXPECT_EQ(test.size(), 2);
  EXPECT_EQ(test.labels.to_vector<int64_t>(), (std::vector<int64_t>{7, 2}));
  // as a dataset: f32 images in [0, 1] at batch time
  DataLoader loader(train.dataset(), {.batch_size = 4});
  auto it = loader.begin();
  EXPECT_EQ(it->data.dtype(), DType::f32);
  EXPECT_EQ(it->data.shape(), (Shape{4, 28, 28}));
  EXPECT_FLOAT_EQ(it->data.flatten().to_vector<float>()[1], 3.f / 255.f);
}

TEST(Mnist, DottedNames) {
  TempDir dir;
  write_idx(dir / "train-images.idx3-ubyte", fake_images(1));
  write_idx(dir / "train-labels.idx1-ubyte", from_vector<uint8_t>({4}));
  EXPECT_EQ(datasets::mnist(dir.path().string()).labels.to_vector<int64_t>(), (std::vector<int64_t>{4}));
}

TEST(Mnist, MissingFileSaysWhichAndHowToGetIt) {
  TempDir dir;
  write_idx(dir / "train-images-idx3-ubyte.gz", fake_images(1));
  std::string d = dir.path().string();
  std::string msg = error_of([&] { datasets::mnist(d); });
  EXPECT_NE(msg.find("mnist: " + d + ": cannot find train-labels-idx1-ubyte[.gz]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist, or put the MNIST IDX files"), std::string::npos) << msg;
  msg = error_of([&] { datasets::fashion_mnist(d, false); });
  EXPECT_NE(msg.find("fashion_mnist: " + d + ": cannot find t10k-images-idx3-ubyte[.gz]"), std::string::npos) << msg;
}

TEST(Mnist, CountMismatchAndBadLabels) {
  TempDir dir;
  std::string d = dir.path().string();
  write_split(dir, "train", fake_images(3), {1, 2}, "");
  std::string msg = error_of([&] { datasets::mnist(d); });
  EXPECT_NE(msg.find("mnist: 3 images in " + dir / "train-images-idx3-ubyte" + " but 2 labels in " +
                     dir / "train-labels-idx1-ubyte"),
            std::string::npos)
      << msg;
  write_split(dir, "train", fake_images(3), {1, 12, 2}, "");
  msg = error_of([&] { datasets::mnist(d); });
  EXPECT_NE(msg.find("label 12 at index 1 is out of range, expected 0 to 9"), std::string::npos) << msg;
  write_idx(dir / "train-labels-idx1-ubyte", from_vector<float>({1, 2, 3}));
  msg = error_of([&] { datasets::mnist(d); });
  EXPECT_NE(msg.find("expected (N) u8 labels, found [3] f32"), std::string::npos) << msg;
  write_idx(dir / "train-images-idx3-ubyte", zeros({3, 784}, DType::u8));
  msg = error_of([&] { datasets::mnist(d); });
  EXPECT_NE(msg.find("expected (N, rows, cols) u8 images, found [3, 784] u8"), std::string::npos) << msg;
}

TEST(Mnist, FashionDirFromArgumentEnvOrDefault) {
  EnvGuard guard("NERVE_FASHION_MNIST_DIR");
  ::unsetenv("NERVE_FASHION_MNIST_DIR");
  EXPECT_EQ(datasets::default_fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
  TempDir dir;
  write_split(dir, "t10k", fake_images(2), {5, 6}, ".gz");
  ::setenv("NERVE_FASHION_MNIST_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(datasets::default_fashion_mnist_dir(), dir.path().string());
  EXPECT_EQ(datasets::fashion_mnist("", false).labels.to_vector<int64_t>(), (std::vector<int64_t>{5, 6}));
  TempDir other;
  write_split(other, "t10k", fake_images(1), {8}, "");
  EXPECT_EQ(datasets::fashion_mnist(other.path().string(), false).size(), 1);  // the argument wins
  EXPECT_STREQ(datasets::fashion_mnist_classes()[9], "Ankle boot");
}
