// libFuzzer target for the image decoders (PNG through libpng, JPEG through libjpeg): any input must decode or throw
// nerve::Error; a crash, a sanitizer report, another exception or a runaway allocation is a bug. Built by
// tools/fuzz.sh image; seeds in tests/fuzz/corpus/image.
#include <nerve/data/image.h>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (auto mode : {nerve::data::ImageMode::rgb, nerve::data::ImageMode::unchanged}) {
    try {
      nerve::Tensor t = nerve::data::decode_image(data, size, "fuzz", mode);
      if (t.dim() != 3 || t.dtype() != nerve::DType::u8 || t.numel() > (int64_t{4} << 28)) std::abort();
      if (mode == nerve::data::ImageMode::rgb && t.shape()[0] != 3) std::abort();
    } catch (const nerve::Error&) {
    }
  }
  return 0;
}
