// libFuzzer target for the safetensors reader (io::parse_safetensors, the parser behind load_safetensors): any
// input must load or throw nerve::Error. A file that loads must survive write + read with the same names, dtypes,
// shapes and bits. Built by tools/fuzz.sh safetensors; its seed corpus is tests/fuzz/corpus/safetensors.
#include <nerve/io/safetensors.h>

#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nerve::io::SafetensorsFile f = nerve::io::parse_safetensors({data, size}, "fuzz");
    nerve::io::SafetensorsFile g = nerve::io::parse_safetensors(nerve::io::safetensors_bytes(f.tensors, f.metadata));
    if (g.tensors.size() != f.tensors.size() || g.metadata != f.metadata) std::abort();
    for (size_t i = 0; i < f.tensors.size(); ++i) {
      const nerve::Tensor &a = f.tensors[i].second, &b = g.tensors[i].second;
      if (g.tensors[i].first != f.tensors[i].first || a.dtype() != b.dtype() || a.shape() != b.shape()) std::abort();
      const size_t n = static_cast<size_t>(a.numel()) * nerve::itemsize(a.dtype());
      if (n && std::memcmp(a.raw_data(), b.raw_data(), n) != 0) std::abort();
    }
  } catch (const nerve::Error&) {
  }
  return 0;
}
