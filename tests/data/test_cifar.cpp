// CIFAR-10/100 binary readers on small files the test writes: values, labels, the split's files concatenated in
// order, and errors for missing, truncated and out-of-range files.
#include <gtest/gtest.h>

#include <nerve/nerve.h>

#include "data/test_util.h"
#include "golden/golden_reader.h"

using namespace nerve;
using nerve::test::TempDir;
using nerve::test::write_bytes;

namespace {

// n records; record i: label bytes `labels(i)`, pixel p = (i * 7 + p) % 251
std::vector<uint8_t> records(int n, const std::function<std::vector<uint8_t>(int)>& labels) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    for (uint8_t l : labels(i)) out.push_back(l);
    for (int p = 0; p < 3072; ++p) out.push_back(static_cast<uint8_t>((i * 7 + p) % 251));
  }
  return out;
}

using nerve::testing::error_of;

TEST(Cifar, ReadsCifar10Splits) {
  TempDir dir;
  for (int k = 1; k <= 5; ++k)
    write_bytes(dir / ("data_batch_" + std::to_string(k) + ".bin"),
                records(k, [k](int i) { return std::vector<uint8_t>{uint8_t((k + i) % 10)}; }));
  write_bytes(dir / "test_batch.bin", records(2, [](int i) { return std::vector<uint8_t>{uint8_t(9 - i)}; }));
  auto train = data::datasets::cifar10(dir.path().string());
  ASSERT_EQ(train.images.shape(), (Shape{15, 3, 32, 32}));
  EXPECT_EQ(train.images.dtype(), DType::u8);
  EXPECT_FALSE(train.coarse_labels.defined());
  // batch 1 (1 record), batch 2 (2 records), ...: the labels in file order
  EXPECT_EQ(train.labels.to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 3, 3, 4, 5, 4, 5, 6, 7, 5, 6, 7, 8, 9}));
  // record 1 of batch 2 (row 2): channel 1 (green), pixel (0, 5) is byte 1024 + 5 of its pixels
  EXPECT_EQ(train.images.select(0, 2).select(0, 1).select(0, 0).select(0, 5).item<uint8_t>(), (1 * 7 + 1029) % 251);
  auto test = data::datasets::cifar10(dir.path().string(), false);
  EXPECT_EQ(test.labels.to_vector<int64_t>(), (std::vector<int64_t>{9, 8}));
  EXPECT_EQ(test.images.select(0, 1).select(0, 2).select(0, 31).select(0, 31).item<uint8_t>(), (7 + 3071) % 251);
}

TEST(Cifar, ReadsCifar100) {
  TempDir dir;
  write_bytes(dir / "train.bin", records(3, [](int i) { return std::vector<uint8_t>{uint8_t(19 - i), uint8_t(97 + i)}; }));
  auto train = data::datasets::cifar100(dir.path().string());
  EXPECT_EQ(train.images.shape(), (Shape{3, 3, 32, 32}));
  EXPECT_EQ(train.labels.to_vector<int64_t>(), (std::vector<int64_t>{97, 98, 99}));
  EXPECT_EQ(train.coarse_labels.to_vector<int64_t>(), (std::vector<int64_t>{19, 18, 17}));
  EXPECT_EQ(train.images.select(0, 1).select(0, 0).select(0, 0).select(0, 0).item<uint8_t>(), 7);
}

TEST(Cifar, BadFiles) {
  TempDir dir;
  EXPECT_NE(error_of([&] { data::datasets::cifar10(dir.path().string(), false); }).find("test_batch.bin: cannot open"),
            std::string::npos);
  std::vector<uint8_t> bytes = records(2, [](int) { return std::vector<uint8_t>{3}; });
  bytes.pop_back();  // truncated
  write_bytes(dir / "test_batch.bin", bytes);
  EXPECT_NE(error_of([&] { data::datasets::cifar10(dir.path().string(), false); })
                .find("6145 bytes is not a whole number of 3073-byte records"),
            std::string::npos);
  write_bytes(dir / "test_batch.bin", records(2, [](int i) { return std::vector<uint8_t>{uint8_t(i ? 10 : 1)}; }));
  EXPECT_EQ(error_of([&] { data::datasets::cifar10(dir.path().string(), false); }),
            "cifar10: " + (dir / "test_batch.bin") + ": record 1 (byte 3073) has label 10, expected 0..9");
  write_bytes(dir / "test.bin", records(1, [](int) { return std::vector<uint8_t>{20, 5}; }));
  EXPECT_NE(error_of([&] { data::datasets::cifar100(dir.path().string(), false); }).find("coarse label 20, expected 0..19"),
            std::string::npos);
  write_bytes(dir / "test.bin", {});
  EXPECT_NE(error_of([&] { data::datasets::cifar100(dir.path().string(), false); }).find("0 bytes is not a whole number"),
            std::string::npos);
}

}  // namespace
