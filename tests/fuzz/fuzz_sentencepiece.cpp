// libFuzzer target for data::Tokenizer::from_serialized (a SentencePiece model file, as Tokenizer::load and the GPT's
// model files read it): any input must load or throw nerve::Error, and a model that loads must encode and decode a
// short text. Built by tools/fuzz.sh sentencepiece; seeds in tests/fuzz/corpus/sentencepiece.
#include <nerve/data/tokenizer.h>

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nerve::data::Tokenizer t =
        nerve::data::Tokenizer::from_serialized(std::string_view(reinterpret_cast<const char*>(data), size));
    std::vector<int64_t> ids = t.encode("the lazy dog \xe2\x98\x83\n");
    t.decode(ids);
  } catch (const nerve::Error&) {
  }
  return 0;
}
