// PNG through libpng's simplified API (png_image), JPEG through libjpeg(-turbo) with an error manager that turns
// its errors and warnings (a truncated or corrupt stream) into nerve::Error instead of exit() or gray filler.
// Sizes are checked from the header before anything is allocated.
#include "nerve/data/image.h"

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <filesystem>

#include "core/file_util.h"
#include "nerve/core/error.h"
#include "nerve/ops/ops.h"

namespace nerve::data {

namespace {

constexpr uint64_t kMaxPixels = uint64_t{1} << 28;

void check_pixels(uint64_t w, uint64_t h, const std::string& name) {
  NERVE_CHECK(w > 0 && h > 0 && w <= kMaxPixels && h <= kMaxPixels && w * h <= kMaxPixels, "read_image: ", name,
              ": the image claims ", w, " x ", h, " pixels (at most 2^28 are read)");
}

// (H, W, C) interleaved bytes -> (C', H, W) in the requested mode
Tensor to_chw(const Tensor& hwc, ImageMode mode) {
  const int64_t h = hwc.shape()[0], w = hwc.shape()[1], c = hwc.shape()[2], n = h * w;
  const bool alpha = c == 2 || c == 4;
  const int64_t colour = alpha ? c - 1 : c;
  const int64_t out_c = mode == ImageMode::unchanged ? c : mode == ImageMode::rgb ? 3 : 1;
  Tensor out = empty({out_c, h, w}, DType::u8);
  const uint8_t* in = hwc.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* px = in + i * c;
    if (mode == ImageMode::unchanged) {
      for (int64_t k = 0; k < c; ++k) o[k * n + i] = px[k];
    } else if (mode == ImageMode::rgb) {
      for (int64_t k = 0; k < 3; ++k) o[k * n + i] = px[colour == 1 ? 0 : k];
    } else {  // gray: ITU-R 601-2 luma rounded as PIL's convert("L")
      o[i] = colour == 1 ? px[0]
                         : static_cast<uint8_t>((px[0] * 19595u + px[1] * 38470u + px[2] * 7471u + 0x8000u) >> 16);
    }
  }
  return out;
}

Tensor decode_png(const uint8_t* bytes, size_t size, const std::string& name, ImageMode mode) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  NERVE_CHECK(png_image_begin_read_from_memory(&img, bytes, size), "read_image: ", name, ": not a valid PNG (",
              img.message, ")");
  struct Free {
    png_image* p;
    ~Free() { png_image_free(p); }
  } free_on_exit{&img};
  check_pixels(img.width, img.height, name);
  // 8 bits per channel, sRGB; keep the file's channel layout and convert the mode after
  const bool colour = img.format & PNG_FORMAT_FLAG_COLOR, alpha = img.format & PNG_FORMAT_FLAG_ALPHA;
  img.format = colour ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
  const int64_t c = PNG_IMAGE_PIXEL_CHANNELS(img.format);
  Tensor hwc = empty({int64_t(img.height), int64_t(img.width), c}, DType::u8);
  NERVE_CHECK(png_image_finish_read(&img, nullptr, hwc.data<uint8_t>(), 0, nullptr), "read_image: ", name,
              ": corrupt or truncated PNG (", img.message, ")");
  return to_chw(hwc, mode);
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void jpeg_warn(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);  // a corrupt or truncated stream: an error here, not gray pixels
}

// Runs libjpeg calls under setjmp; false when libjpeg failed (its message in err.message). The calls must create
// no object with a destructor: longjmp skips them.
template <class F>
bool jpeg_try(JpegError& err, F&& calls) {
  if (setjmp(err.jump)) return false;
  calls();
  return true;
}

Tensor decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name, ImageMode mode) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_warn;
  err.message[0] = '\0';
  auto fail = [&] { throw Error(nerve::detail::str_cat("read_image: ", name, ": corrupt or truncated JPEG (", err.message, ")")); };
  if (!jpeg_try(err, [&] { jpeg_create_decompress(&cinfo); })) fail();
  struct Destroy {
    jpeg_decompress_struct* c;
    ~Destroy() { jpeg_destroy_decompress(c); }
  } destroy{&cinfo};
  if (!jpeg_try(err, [&] {
        jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
        jpeg_read_header(&cinfo, TRUE);
        cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
        jpeg_calc_output_dimensions(&cinfo);
      }))
    fail();
  const uint64_t w = cinfo.output_width, h = cinfo.output_height;
  check_pixels(w, h, name);
  Tensor hwc = empty({int64_t(h), int64_t(w), int64_t(cinfo.output_components)}, DType::u8);
  uint8_t* out = hwc.data<uint8_t>();
  const int64_t stride = int64_t(w) * cinfo.output_components;
  if (!jpeg_try(err, [&] {
        jpeg_start_decompress(&cinfo);
        while (cinfo.output_scanline < cinfo.output_height) {
          JSAMPROW row = out + int64_t(cinfo.output_scanline) * stride;
          jpeg_read_scanlines(&cinfo, &row, 1);
        }
        jpeg_finish_decompress(&cinfo);
      }))
    fail();
  return to_chw(hwc, mode);
}

Tensor hwc_bytes(const Tensor& image, const char* who, std::initializer_list<int64_t> channels) {
  nerve::detail::check_arg(image, who, "image");
  std::string allowed;
  for (int64_t c : channels) allowed += (allowed.empty() ? "" : ", ") + std::to_string(c);
  NERVE_CHECK(image.dtype() == DType::u8 && image.dim() == 3 &&
                  std::find(channels.begin(), channels.end(), image.shape()[0]) != channels.end(),
              who, ": expected a u8 image (C, H, W) with C in {", allowed, "}, got ", dtype_name(image.dtype()), " ",
              to_string(image.shape()));
  NERVE_CHECK(image.shape()[1] > 0 && image.shape()[2] > 0 && image.shape()[1] <= int64_t{1} << 24 &&
                  image.shape()[2] <= int64_t{1} << 24,
              who, ": image of ", to_string(image.shape()), " has no pixels or is too large");
  return permute(image, {1, 2, 0}).contiguous();
}

}  // namespace

Tensor decode_image(const uint8_t* bytes, size_t size, const std::string& name, ImageMode mode) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(bytes, png_sig, 8) == 0) return decode_png(bytes, size, name, mode);
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(bytes, size, name, mode);
  NERVE_CHECK(false, "read_image: ", name, ": not a PNG or JPEG file (its first bytes are neither signature; ", size,
              " bytes)");
  return {};
}

Tensor read_image(const std::string& path, ImageMode mode) {
  std::vector<uint8_t> bytes = nerve::detail::read_file_bytes(path, "read_image");
  return decode_image(bytes.data(), bytes.size(), path, mode);
}

void write_png(const std::string& path, const Tensor& image) {
  Tensor hwc = hwc_bytes(image, "write_png", {1, 2, 3, 4});
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(hwc.shape()[1]);
  img.height = static_cast<png_uint_32>(hwc.shape()[0]);
  const int64_t c = hwc.shape()[2];
  img.format = c == 1 ? PNG_FORMAT_GRAY : c == 2 ? PNG_FORMAT_GA : c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  png_alloc_size_t n = 0;
  NERVE_CHECK(png_image_write_to_memory(&img, nullptr, &n, 0, hwc.data<uint8_t>(), 0, nullptr), "write_png: ", path,
              ": ", img.message);
  std::vector<uint8_t> bytes(n);
  NERVE_CHECK(png_image_write_to_memory(&img, bytes.data(), &n, 0, hwc.data<uint8_t>(), 0, nullptr), "write_png: ",
              path, ": ", img.message);
  bytes.resize(n);
  nerve::detail::write_file_atomic(path, bytes, "write_png");
}

void write_jpeg(const std::string& path, const Tensor& image, int quality) {
  NERVE_CHECK(quality >= 1 && quality <= 100, "write_jpeg: quality must be in 1..100, got ", quality);
  Tensor hwc = hwc_bytes(image, "write_jpeg", {1, 3});
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.message[0] = '\0';
  auto fail = [&] { throw Error(nerve::detail::str_cat("write_jpeg: ", path, ": ", err.message)); };
  if (!jpeg_try(err, [&] { jpeg_create_compress(&cinfo); })) fail();
  unsigned char* out = nullptr;
  unsigned long n = 0;
  struct Destroy {
    jpeg_compress_struct* c;
    unsigned char** out;
    ~Destroy() {
      jpeg_destroy_compress(c);
      std::free(*out);
    }
  } destroy{&cinfo, &out};
  const int64_t stride = hwc.shape()[1] * hwc.shape()[2];
  uint8_t* px = hwc.data<uint8_t>();
  if (!jpeg_try(err, [&] {
        jpeg_mem_dest(&cinfo, &out, &n);
        cinfo.image_width = static_cast<JDIMENSION>(hwc.shape()[1]);
        cinfo.image_height = static_cast<JDIMENSION>(hwc.shape()[0]);
        cinfo.input_components = static_cast<int>(hwc.shape()[2]);
        cinfo.in_color_space = hwc.shape()[2] == 1 ? JCS_GRAYSCALE : JCS_RGB;
        jpeg_set_defaults(&cinfo);
        jpeg_set_quality(&cinfo, quality, TRUE);
        jpeg_start_compress(&cinfo, TRUE);
        while (cinfo.next_scanline < cinfo.image_height) {
          JSAMPROW row = px + int64_t(cinfo.next_scanline) * stride;
          jpeg_write_scanlines(&cinfo, &row, 1);
        }
        jpeg_finish_compress(&cinfo);
      }))
    fail();
  nerve::detail::write_file_atomic(path, std::span<const uint8_t>(out, n), "write_jpeg");
}

// ------------------------------------------------------------------ ImageFolder
namespace {
bool is_image_file(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}
uint64_t seed_or_draw(std::optional<uint64_t> seed) { return seed ? *seed : generator()(); }
}  // namespace

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options)
    : options_(std::move(options)), seed_(seed_or_draw(options_.seed)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  NERVE_CHECK(fs::is_directory(root, ec), "ImageFolder: ", root, ": not a directory");
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  NERVE_CHECK(!ec, "ImageFolder: ", root, ": cannot list (", ec.message(), ")");
  std::sort(classes_.begin(), classes_.end());
  NERVE_CHECK(!classes_.empty(), "ImageFolder: ", root, ": no class folders (expected root/<class>/<image files>)");
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(fs::path(root) / classes_[c], ec))
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    for (auto& f : files) samples_.emplace_back(std::move(f), static_cast<int64_t>(c));
  }
  NERVE_CHECK(!samples_.empty(), "ImageFolder: ", root, ": no .png, .jpg or .jpeg files in the ", classes_.size(),
              " class folders");
  if (!options_.transform) options_.transform = transforms::ToTensor();
  draws_ = std::make_shared<detail::DrawCounts>(size());
}

Example ImageFolder::get(int64_t index) const {
  NERVE_CHECK(index >= 0 && index < size(), "ImageFolder: index ", index, " out of range [0, ", size(), ")");
  const auto& [path, target] = samples_[static_cast<size_t>(index)];
  SplitMix64 rng = draws_->next(seed_, index);
  return {options_.transform(read_image(path, options_.mode), rng), scalar_tensor(double(target), DType::i64)};
}

ImageTransformDataset::ImageTransformDataset(std::shared_ptr<const Dataset> base, transforms::Transform transform,
                                             std::optional<uint64_t> seed)
    : base_(std::move(base)), transform_(std::move(transform)), seed_(seed_or_draw(seed)) {
  NERVE_CHECK(base_ != nullptr && transform_, "ImageTransformDataset: needs a dataset and a transform");
  draws_ = std::make_shared<detail::DrawCounts>(base_->size());
}

Example ImageTransformDataset::get(int64_t index) const {
  NERVE_CHECK(index >= 0 && index < size(), "ImageTransformDataset: index ", index, " out of range [0, ", size(), ")");
  Example e = base_->get(index);
  SplitMix64 rng = draws_->next(seed_, index);
  e.data = transform_(e.data, rng);
  return e;
}

}  // namespace nerve::data
