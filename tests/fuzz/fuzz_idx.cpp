// libFuzzer target for the IDX parser (raw and gzip): any input must parse or throw nerve::Error; anything else
// (a crash, a sanitizer report, another exception, a runaway allocation) is a bug. Built by tools/fuzz.sh idx.
#include <nerve/data/idx.h>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nerve::Tensor t = nerve::data::read_idx_from_memory({data, size}, "fuzz");
    bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    size_t header = 4 + 4 * static_cast<size_t>(t.dim());
    if (t.dim() < 1 || t.dim() > nerve::data::kIdxMaxDims) std::abort();
    // a raw u8 file is exactly its header and one byte per element
    if (!gzip && t.dtype() == nerve::DType::u8 && size != header + static_cast<size_t>(t.numel())) std::abort();
  } catch (const nerve::Error&) {
  }
  return 0;
}
