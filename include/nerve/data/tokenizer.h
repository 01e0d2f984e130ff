// Subword tokenization with SentencePiece (Kudo & Richardson 2018; Debian's libsentencepiece): BPE or unigram models
// trained on a text in memory, byte fallback so that any bytes encode, exact round trips (no normalization), and
// the model kept as its serialized proto, which save/load and model files carry.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace nerve::data {

/// Options of Tokenizer::train (SentencePieceTrainer's flags of the same names).
struct TokenizerOptions {
  /// "bpe" or "unigram".
  std::string model_type = "bpe";
  /// Pieces in all, including <unk>, <s>, </s> and the 256 byte pieces of byte_fallback.
  int64_t vocab_size = 512;
  /// Bytes no piece covers become <0xNN> pieces instead of <unk>, so every text encodes and decodes exactly.
  bool byte_fallback = true;
  /// Lines longer than this many bytes are cut into pieces of this size for training.
  int64_t max_sentence_length = 4096;
  /// Training threads.
  int num_threads = 1;
};

/// A SentencePiece model: text <-> ids, with no normalization (decode(encode(s)) == s for any bytes when
/// byte_fallback is on). Newlines are a piece of their own.
///   auto tok = data::Tokenizer::train(text, {.model_type = "bpe", .vocab_size = 512});
///   std::vector<int64_t> ids = tok.encode("Hello");  std::string s = tok.decode(ids);
class Tokenizer {
 public:
  /// Trains on `text` (split into lines; each line a sentence). Errors when the text is empty or SentencePiece
  /// refuses the options (e.g. a vocab_size larger than the text allows), with its message.
  static Tokenizer train(std::string_view text, const TokenizerOptions& options = {});
  /// A model from its serialized proto (serialized() or a SentencePiece .model file's bytes).
  static Tokenizer from_serialized(std::string_view proto);
  /// Reads a SentencePiece .model file (save's output).
  static Tokenizer load(const std::string& path);
  /// Writes the serialized proto, atomically: a file spm_encode --model reads too.
  void save(const std::string& path) const;
  std::string serialized() const;

  std::vector<int64_t> encode(std::string_view text) const;
  /// encode as a (n) tensor of i32 or i64 ids.
  Tensor encode(std::string_view text, DType dtype) const;
  /// Ids outside [0, vocab_size) are errors.
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const;
  /// The piece of an id ("▁the", "<0x0A>", ...).
  std::string piece(int64_t id) const;

 private:
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace nerve::data
