// Image files and transforms: PNG and JPEG decode as PIL decodes them (files and expected pixels from
// images/make_images.py), PNG/JPEG round trips, errors for files that are not images, truncated or claim huge sizes;
// ImageFolder's classes, samples and seeded augmentation (the same batches at any prefetch setting, new ones each
// epoch); each transform against its definition.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "data/test_util.h"
#include "nerve/core/rng.h"
#include "nerve/data/dataloader.h"
#include "nerve/data/image.h"
#include "nerve/ops/ops.h"

namespace nerve {
namespace {

using test::error_of;
namespace T = data::transforms;

const std::string kImages = std::string(NERVE_TEST_DATA_DIR) + "/data/images/";

Tensor pattern(int64_t c, int64_t h, int64_t w, int64_t shift = 0) {  // a u8 image, every value different
  std::vector<uint8_t> v(static_cast<size_t>(c * h * w));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 29 + 7 + size_t(shift)) % 251);
  return from_vector(v, {c, h, w});
}

// same shape and values (compared in f64)
bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to(DType::f64).to_vector<double>() == b.to(DType::f64).to_vector<double>();
}
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  std::vector<double> x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i]))) return false;
  return true;
}

TEST(Image, DecodesAsPil) {
  std::ifstream f(kImages + "expected.txt");
  ASSERT_TRUE(f) << kImages;
  std::string line;
  int cases = 0;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string file, mode;
    int64_t c, h, w;
    in >> file >> mode >> c >> h >> w;
    std::vector<uint8_t> want;
    for (int v; in >> v;) want.push_back(static_cast<uint8_t>(v));
    Tensor got = data::read_image(kImages + file, mode == "rgb" ? data::ImageMode::rgb : data::ImageMode::gray);
    EXPECT_EQ(got.shape(), (Shape{c, h, w})) << file << " " << mode;
    EXPECT_EQ(got.dtype(), DType::u8);
    EXPECT_EQ(got.to_vector<uint8_t>(), want) << file << " " << mode;
    ++cases;
  }
  EXPECT_EQ(cases, 8);
  // unchanged: the RGBA file keeps its alpha channel
  Tensor rgba = data::read_image(kImages + "rgba.png", data::ImageMode::unchanged);
  EXPECT_EQ(rgba.shape(), (Shape{4, 7, 9}));
}

TEST(Image, PngAndJpegRoundTrip) {
  test::TempDir dir;
  for (int64_t c : {1, 2, 3, 4}) {
    Tensor img = pattern(c, 5, 6);
    data::write_png(dir / "x.png", img);
    EXPECT_EQ(data::read_image(dir / "x.png", data::ImageMode::unchanged).to_vector<uint8_t>(), img.to_vector<uint8_t>());
  }
  // gray replicated into RGB; RGB to gray with PIL's integer luma
  Tensor gray = pattern(1, 3, 4);
  data::write_png(dir / "g.png", gray);
  Tensor rgb = data::read_image(dir / "g.png");
  EXPECT_EQ(rgb.shape(), (Shape{3, 3, 4}));
  EXPECT_EQ(narrow(rgb, 0, 2, 1).contiguous().to_vector<uint8_t>(), gray.to_vector<uint8_t>());
  Tensor col = pattern(3, 1, 1);  // R 7, G 36, B 65: (7*19595 + 36*38470 + 65*7471 + 32768) >> 16 = 31
  data::write_png(dir / "c.png", col);
  EXPECT_EQ(data::read_image(dir / "c.png", data::ImageMode::gray).to_vector<uint8_t>(), std::vector<uint8_t>{31});
  // JPEG is lossy: a smooth image comes back within a few levels at quality 100
  Tensor smooth = (arange(0, 3 * 16 * 16, 1, DType::f32).reshape({3, 16, 16}) * 0.3).to(DType::u8);
  data::write_jpeg(dir / "s.jpg", smooth, 100);
  Tensor back = data::read_image(dir / "s.jpg");
  EXPECT_EQ(back.shape(), (Shape{3, 16, 16}));
  EXPECT_LE(max(abs(back.to(DType::f32) - smooth.to(DType::f32))).item<float>(), 4.f);
  EXPECT_NE(error_of([&] { data::write_png(dir / "bad.png", zeros({3, 4, 4})); }).find("expected a u8 image (C, H, W)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { data::write_jpeg(dir / "bad.jpg", pattern(4, 2, 2)); }).find("C in {1, 3}"), std::string::npos);
}

TEST(Image, BadFilesAreErrorsNamingThem) {
  test::TempDir dir;
  test::write_text(dir / "text.png", "hello, not an image");
  EXPECT_NE(error_of([&] { data::read_image(dir / "text.png"); }).find("text.png: not a PNG or JPEG file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { data::read_image(dir / "missing.png"); }).find("missing.png: cannot open"), std::string::npos);
  std::vector<uint8_t> png = test::read_bytes(kImages + "rgba.png"), jpg = test::read_bytes(kImages + "rgb_q90.jpg");
  for (size_t cut : {size_t{20}, png.size() / 2, png.size() - 13}) {
    test::write_bytes(dir / "cut.png", std::vector<uint8_t>(png.begin(), png.begin() + cut));
    EXPECT_NE(error_of([&] { data::read_image(dir / "cut.png"); }).find("cut.png"), std::string::npos) << cut;
  }
  for (size_t cut : {size_t{4}, size_t{200}, jpg.size() / 2, jpg.size() - 2}) {
    test::write_bytes(dir / "cut.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + cut));
    EXPECT_NE(error_of([&] { data::read_image(dir / "cut.jpg"); }).find("cut.jpg: corrupt or truncated JPEG"),
              std::string::npos) << cut;
  }
  // a PNG whose header claims 2^19 x 2^19 pixels (valid CRC): refused before anything that size is allocated
  std::vector<uint8_t> big = png;
  auto put32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) big[at + k] = static_cast<uint8_t>(v >> (24 - 8 * k));
  };
  put32(16, 1u << 19);  // IHDR data starts at byte 16: width, height
  put32(20, 1u << 19);
  put32(29, static_cast<uint32_t>(crc32(0, big.data() + 12, 17)));  // CRC over "IHDR" + 13 data bytes
  test::write_bytes(dir / "huge.png", big);
  EXPECT_NE(error_of([&] { data::read_image(dir / "huge.png"); }).find("claims 524288 x 524288 pixels"),
            std::string::npos);
}

TEST(Image, ImageFolderClassesSamplesAndSeededAugmentation) {
  test::TempDir dir;
  const std::vector<std::string> classes{"ant", "bee", "cat"};
  for (size_t c = 0; c < classes.size(); ++c)
    for (int i = 0; i < 3; ++i) {
      Tensor img = pattern(3, 10, 10, int64_t(c * 40 + i));
      const std::string base = dir / (classes[c] + "/" + std::to_string(i));
      std::filesystem::create_directories(dir / classes[c]);
      if (i == 2) data::write_jpeg(base + ".JPG", img, 95); else data::write_png(base + ".png", img);
    }
  test::write_text(dir / "bee/notes.txt", "skipped");
  data::ImageFolder plain(dir.path().string());
  EXPECT_EQ(plain.classes(), classes);
  ASSERT_EQ(plain.size(), 9);
  EXPECT_EQ(plain.samples()[3].second, 1);
  EXPECT_NE(plain.samples()[5].first.find("bee/2.JPG"), std::string::npos);
  data::Example e = plain.get(4);
  EXPECT_EQ(e.data.shape(), (Shape{3, 10, 10}));
  EXPECT_EQ(e.data.dtype(), DType::f32);  // ToTensor by default
  EXPECT_EQ(e.target.item<int64_t>(), 1);

  auto aug = T::Compose({T::RandomCrop({8, 8}, 2), T::RandomHorizontalFlip(), T::ColorJitter(0.4, 0.4), T::ToTensor()});
  auto epochs = [&](bool prefetch) {
    auto ds = std::make_shared<data::ImageFolder>(dir.path().string(), data::ImageFolderOptions{.transform = aug, .seed = 5});
    data::DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .seed = 1, .prefetch = prefetch});
    std::vector<Tensor> out;
    for (int ep = 0; ep < 2; ++ep)
      for (auto& b : loader) out.push_back(b.data);
    return out;
  };
  std::vector<Tensor> a = epochs(true), b = epochs(false);
  ASSERT_EQ(a.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(equal(a[i], b[i])) << i;
  EXPECT_EQ(a[0].shape(), (Shape{4, 3, 8, 8}));
  // the k-th fetch of a sample draws stream (seed, sample, k): the second fetch (the next epoch) is augmented anew,
  // and another dataset with the seed repeats both
  data::ImageFolder s1(dir.path().string(), {.transform = aug, .seed = 5}), s2(dir.path().string(), {.transform = aug, .seed = 5});
  Tensor first = s1.get(2).data, second = s1.get(2).data;
  EXPECT_FALSE(equal(first, second));
  EXPECT_TRUE(equal(s2.get(2).data, first));
  EXPECT_TRUE(equal(s2.get(2).data, second));

  test::write_text(dir / "cat/3.png", "broken");
  data::ImageFolder with_broken(dir.path().string());
  EXPECT_NE(error_of([&] { with_broken.get(9); }).find("cat/3.png: not a PNG or JPEG file"), std::string::npos);
  std::filesystem::create_directories(dir / "empty/none");
  EXPECT_NE(error_of([&] { data::ImageFolder(dir / "empty"); }).find("no .png, .jpg or .jpeg files"), std::string::npos);
  EXPECT_NE(error_of([&] { data::ImageFolder(dir / "nowhere"); }).find("not a directory"), std::string::npos);
}

TEST(Image, TransformsMatchTheirDefinitions) {
  SplitMix64 rng(3);
  Tensor img = pattern(3, 6, 8);
  Tensor f = T::ToTensor()(img, rng);
  EXPECT_TRUE(allclose(f, img.to(DType::f32) / 255.0, 1e-7, 0));
  Tensor n = T::Normalize({0.5, 0.25, 0.0}, {0.5, 2.0, 1.0})(f, rng);
  EXPECT_TRUE(allclose(narrow(n, 0, 1, 1), (narrow(f, 0, 1, 1) - 0.25) / 2.0, 1e-6, 0));
  EXPECT_TRUE(equal(T::CenterCrop({4, 4})(img, rng), narrow(narrow(img, 1, 1, 4), 2, 2, 4).contiguous()));
  EXPECT_TRUE(equal(T::RandomHorizontalFlip(1.0)(img, rng), index_select(img, 2, arange(7, -1, -1, DType::i64))));
  EXPECT_TRUE(equal(T::RandomHorizontalFlip(0.0)(img, rng), img));
  // a random crop is one of the windows of the zero-padded image
  Tensor padded = pad(img, {2, 2, 2, 2});
  for (int k = 0; k < 5; ++k) {
    Tensor c = T::RandomCrop({6, 8}, 2)(img, rng);
    bool found = false;
    for (int64_t t = 0; t <= 4 && !found; ++t)
      for (int64_t l = 0; l <= 4 && !found; ++l) found = equal(c, narrow(narrow(padded, 1, t, 6), 2, l, 8));
    EXPECT_TRUE(found);
  }
  // Resize to the same size is the identity; to another size it is bilinear interpolation (align_corners false)
  EXPECT_TRUE(equal(T::Resize({6, 8})(f, rng), f));
  Tensor r = T::Resize({3, 4})(f, rng);
  EXPECT_TRUE(allclose(r, interpolate(f.unsqueeze(0), {3, 4}, "bilinear", false).squeeze(0), 0, 0));
  EXPECT_EQ(T::Resize({12, 16})(img, rng).dtype(), DType::u8);
  // brightness alone scales the image by one factor in [0.5, 1.5]
  Tensor small = f * 0.5;
  Tensor bj = T::ColorJitter(0.5, 0.0)(small, rng);
  const double k = (bj.sum() / small.sum()).item<double>();
  EXPECT_GE(k, 0.5);
  EXPECT_LE(k, 1.5);
  EXPECT_TRUE(allclose(bj, small * k, 1e-5, 1e-6));
  // contrast alone blends with the grayscale mean: the mean of the image's luma is kept (no value clamped here)
  Tensor mid = f * 0.25 + 0.25;
  Tensor cj = T::ColorJitter(0.0, 0.3)(mid, rng);
  auto luma = [](const Tensor& x) {
    return (narrow(x, 0, 0, 1) * 0.299 + narrow(x, 0, 1, 1) * 0.587 + narrow(x, 0, 2, 1) * 0.114).mean().item<double>();
  };
  EXPECT_NEAR(luma(cj), luma(mid), 1e-6);
  EXPECT_FALSE(allclose(cj, mid, 1e-3, 0));
  EXPECT_NE(error_of([&] { T::CenterCrop({7, 2})(img, rng); }).find("larger than the image"), std::string::npos);
  EXPECT_NE(error_of([&] { T::Normalize({0.5}, {0.0}); }).find("std must be positive"), std::string::npos);
  EXPECT_NE(error_of([&] { T::Normalize({0.5, 0.5}, {1, 1})(f, rng); }).find("2 means for an image of 3 channels"),
            std::string::npos);
  EXPECT_NE(error_of([&] { T::ToTensor()(zeros({4, 4}), rng); }).find("expected an image (C, H, W)"), std::string::npos);
  // ImageTransformDataset: in-memory images through the same per-sample streams
  auto base = std::make_shared<data::TensorDataset>(stack({img, img}, 0), arange(2, DType::i64));
  data::ImageTransformDataset d1(base, T::RandomCrop({4, 4}), 9), d2(base, T::RandomCrop({4, 4}), 9);
  EXPECT_TRUE(equal(d1.get(1).data, d2.get(1).data));
}

}  // namespace
}  // namespace nerve
