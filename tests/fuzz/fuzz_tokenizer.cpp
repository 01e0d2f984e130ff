// libFuzzer target for the vocabulary-file parser (CharTokenizer::load): any input must load or throw
// nerve::Error; anything else (a crash, a sanitizer report, another exception) is a bug. A vocabulary that loads
// must be sorted and distinct, and survive save + load unchanged. Built by tools/fuzz.sh tokenizer.
#include <nerve/data/text.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
const std::string& scratch_path() {  // one file per fuzzing process (load reads from a path)
  static const std::string p = "/tmp/nerve_fuzz_tokenizer_" + std::to_string(getpid());
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = scratch_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  try {
    nerve::data::CharTokenizer tok = nerve::data::CharTokenizer::load(path);
    const std::string& v = tok.vocab();
    if (v.size() > 256) std::abort();
    for (size_t i = 1; i < v.size(); ++i)
      if (static_cast<unsigned char>(v[i - 1]) >= static_cast<unsigned char>(v[i])) std::abort();
    for (size_t i = 0; i < v.size(); ++i)
      if (tok.id(static_cast<unsigned char>(v[i])) != static_cast<int64_t>(i)) std::abort();
    tok.save(path);
    if (nerve::data::CharTokenizer::load(path).vocab() != v) std::abort();
  } catch (const nerve::Error&) {
  }
  return 0;
}
