// data::Tokenizer on SentencePiece: training from a text in memory, encode/decode, the serialized model.
#include "nerve/data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "nerve/core/error.h"
#include "nerve/core/files.h"

namespace nerve::data {
namespace {

// The lines of a text, each at most max_len bytes, for SentencePieceTrainer
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  LineIterator(std::string_view text, size_t max_len) : text_(text), max_len_(max_len) { Next(); }
  bool done() const override { return done_; }
  void Next() override {
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string_view::npos) end = text_.size();
      end = std::min(end, pos_ + max_len_);
      line_.assign(text_.substr(pos_, end - pos_));
      pos_ = end < text_.size() && text_[end] == '\n' ? end + 1 : end;
      if (!line_.empty()) return;
    }
    done_ = true;
  }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::string_view text_;
  size_t max_len_, pos_ = 0;
  std::string line_;
  bool done_ = false;
};

}  // namespace

Tokenizer Tokenizer::train(std::string_view text, const TokenizerOptions& o) {
  NERVE_CHECK(o.model_type == "bpe" || o.model_type == "unigram", "Tokenizer::train: model_type must be \"bpe\" or ",
              "\"unigram\", got \"", o.model_type, "\"");
  NERVE_CHECK(o.vocab_size > 0 && o.vocab_size <= (int64_t{1} << 20), "Tokenizer::train: vocab_size must be in [1, ",
              int64_t{1} << 20, "], got ", o.vocab_size);
  NERVE_CHECK(o.max_sentence_length > 0 && o.max_sentence_length <= (int64_t{1} << 24),
              "Tokenizer::train: max_sentence_length must be in [1, 2^24], got ", o.max_sentence_length);
  NERVE_CHECK(o.num_threads >= 1 && o.num_threads <= 1024, "Tokenizer::train: num_threads must be in [1, 1024], got ",
              o.num_threads);
  NERVE_CHECK(text.find_first_not_of('\n') != std::string_view::npos,
              "Tokenizer::train: the text has no characters besides newlines (", text.size(), " bytes)");
  // identity normalization, no dummy prefix, whitespace kept as it is: decode(encode(s)) == s; "\n" is a piece
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", o.model_type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"byte_fallback", o.byte_fallback ? "true" : "false"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"split_digits", "false"},
      {"user_defined_symbols", "\n"},
      {"max_sentence_length", std::to_string(o.max_sentence_length)},
      {"num_threads", std::to_string(o.num_threads)},
      {"minloglevel", "2"},
  };
  LineIterator lines(text, static_cast<size_t>(o.max_sentence_length));
  std::string proto;
  auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &proto);
  NERVE_CHECK(status.ok(), "Tokenizer::train: SentencePiece (", o.model_type, ", vocab_size ", o.vocab_size,
              ") on ", text.size(), " bytes failed: ", status.ToString());
  return from_serialized(proto);
}

Tokenizer Tokenizer::from_serialized(std::string_view proto) {
  Tokenizer t;
  t.sp_ = std::make_shared<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status;
  try {  // SentencePiece's trie builder throws its own exceptions on some malformed vocabularies (an empty piece)
    status = t.sp_->LoadFromSerializedProto(absl::string_view(proto.data(), proto.size()));
  } catch (const std::exception& e) {
    NERVE_CHECK(false, "Tokenizer: ", proto.size(), " bytes are not a valid SentencePiece model (", e.what(), ")");
  }
  NERVE_CHECK(status.ok(), "Tokenizer: ", proto.size(), " bytes are not a SentencePiece model: ", status.ToString());
  return t;
}

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NERVE_CHECK(f.good(), "Tokenizer::load: cannot open ", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  try {
    return from_serialized(ss.str());
  } catch (const Error& e) {
    NERVE_CHECK(false, "Tokenizer::load: ", path, ": ", e.what());
  }
  return {};
}

void Tokenizer::save(const std::string& path) const {
  NERVE_CHECK(sp_, "Tokenizer::save: the tokenizer is empty (train or load one first)");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    NERVE_CHECK(f.good(), "Tokenizer::save: cannot write ", tmp);
    const std::string proto = serialized();
    f.write(proto.data(), static_cast<std::streamsize>(proto.size()));
    NERVE_CHECK(f.good(), "Tokenizer::save: writing ", tmp, " failed");
  }
  NERVE_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "Tokenizer::save: cannot rename ", tmp, " to ", path);
}

std::string Tokenizer::serialized() const {
  NERVE_CHECK(sp_, "Tokenizer: the tokenizer is empty (train or load one first)");
  return sp_->serialized_model_proto();
}

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  NERVE_CHECK(sp_, "Tokenizer::encode: the tokenizer is empty (train or load one first)");
  std::vector<int> ids;
  auto status = sp_->Encode(absl::string_view(text.data(), text.size()), &ids);
  NERVE_CHECK(status.ok(), "Tokenizer::encode: ", status.ToString());
  return {ids.begin(), ids.end()};
}

Tensor Tokenizer::encode(std::string_view text, DType dtype) const {
  NERVE_CHECK(dtype == DType::i64 || dtype == DType::i32, "Tokenizer::encode: ids are i32 or i64, got ",
              dtype_name(dtype));
  std::vector<int64_t> ids = encode(text);
  if (dtype == DType::i64) return from_vector(ids);
  return from_vector(std::vector<int32_t>(ids.begin(), ids.end()));
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  NERVE_CHECK(sp_, "Tokenizer::decode: the tokenizer is empty (train or load one first)");
  const int64_t n = vocab_size();
  std::vector<int> v;
  v.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    NERVE_CHECK(ids[i] >= 0 && ids[i] < n, "Tokenizer::decode: id ", ids[i], " at position ", i,
                " is outside the vocabulary [0, ", n, ")");
    v.push_back(static_cast<int>(ids[i]));
  }
  std::string out;
  auto status = sp_->Decode(v, &out);
  NERVE_CHECK(status.ok(), "Tokenizer::decode: ", status.ToString());
  return out;
}

int64_t Tokenizer::vocab_size() const { return sp_ ? sp_->GetPieceSize() : 0; }

std::string Tokenizer::piece(int64_t id) const {
  NERVE_CHECK(id >= 0 && id < vocab_size(), "Tokenizer::piece: id ", id, " is outside the vocabulary [0, ",
              vocab_size(), ")");
  return sp_->IdToPiece(static_cast<int>(id));
}

}  // namespace nerve::data
