// libFuzzer target for the PyTorch checkpoint reader (io::parse_torch: libzip, then the restricted unpickler, then
// the storages): any input must load or throw nerve::Error. Every tensor that loads must lie inside its storage,
// which the sum below reads end to end (ASan would catch a view past the end). Built by tools/fuzz.sh torch; its
// seed corpus is tests/fuzz/corpus/torch (files torch.save wrote).
#include <nerve/io/torch.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    for (const auto& [name, t] : nerve::io::parse_torch({data, size}, "fuzz")) {
      volatile double sink = 0;
      if (t.numel() > 0 && t.numel() < (1 << 20)) sink = sink + t.to(nerve::DType::f64).sum().item<double>();
    }
  } catch (const nerve::Error&) {
  }
  return 0;
}
