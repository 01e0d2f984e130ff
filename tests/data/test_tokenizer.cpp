// data::Tokenizer (SentencePiece): BPE and unigram training on a text in memory, exact round trips, byte fallback
// on bytes the training text never had, save/load and the serialized proto, and errors.
#include <gtest/gtest.h>
#include <nerve/data/tokenizer.h>

#include <algorithm>

#include "data/test_util.h"

using namespace nerve;
using namespace nerve::data;
using nerve::test::error_of;
using nerve::test::TempDir;
using nerve::test::read_bytes;
using nerve::test::write_text;

namespace {

std::string corpus() {
  std::string text;
  const char* lines[] = {"the quick brown fox jumps over the lazy dog.", "A penny saved is a penny earned.",
                         "  indented line, with  two spaces", "There is no place like home; the home is there."};
  for (int i = 0; i < 60; ++i) text += std::string(lines[i % 4]) + "\n";
  return text;
}

const Tokenizer& bpe() {
  static const Tokenizer tok = Tokenizer::train(corpus(), {.model_type = "bpe", .vocab_size = 320});
  return tok;
}

}  // namespace

TEST(Tokenizer, BpeRoundTripAndMerges) {
  const Tokenizer& tok = bpe();
  EXPECT_EQ(tok.vocab_size(), 320);
  const std::string text = corpus();
  std::vector<int64_t> ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
  // merges: far fewer pieces than bytes; whitespace, newlines and leading spaces survive exactly
  EXPECT_LT(ids.size() * 4, text.size() * 3);
  for (std::string s : {"the lazy home\n\nthere", "  two  spaces ", "\n", "x"}) EXPECT_EQ(tok.decode(tok.encode(s)), s);
  EXPECT_TRUE(tok.encode("").empty());
  Tensor t = tok.encode("the fox", DType::i32);
  EXPECT_EQ(t.dtype(), DType::i32);
  std::vector<int32_t> v32 = t.to_vector<int32_t>();
  std::vector<int64_t> want = tok.encode("the fox");
  EXPECT_EQ(std::vector<int64_t>(v32.begin(), v32.end()), want);
}

// Bytes the training text never had (capital Z, control bytes, UTF-8 letters, 0xFF) encode as byte pieces, not
// <unk> (id 0), and decode back to the same bytes.
TEST(Tokenizer, ByteFallbackOnUnseenBytes) {
  const Tokenizer& tok = bpe();
  const std::string s = std::string("Zebra \x01\x7f caf\xc3\xa9 \xe2\x98\x83 ") + char(0) + "end";
  std::vector<int64_t> ids = tok.encode(s);
  EXPECT_EQ(tok.decode(ids), s);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 0) << "an unseen byte became <unk>";
  std::vector<int64_t> z = tok.encode("Z");
  ASSERT_EQ(z.size(), 1u);
  EXPECT_EQ(tok.piece(z[0]), "<0x5A>");
}

TEST(Tokenizer, UnigramTrainsAndRoundTrips) {
  Tokenizer tok = Tokenizer::train(corpus(), {.model_type = "unigram", .vocab_size = 300});
  const std::string s = corpus() + "Unseen \xf0\x9f\x98\x80 text";
  EXPECT_EQ(tok.decode(tok.encode(s)), s);
  EXPECT_LT(tok.encode(corpus()).size(), corpus().size());
}

TEST(Tokenizer, SaveLoadAndSerialized) {
  const Tokenizer& tok = bpe();
  TempDir dir;
  const std::string path = dir / "tok.model";
  tok.save(path);
  Tokenizer back = Tokenizer::load(path);
  Tokenizer copy = Tokenizer::from_serialized(tok.serialized());
  const std::string s = "the lazy dog, \xe2\x98\x83 and Zed\n";
  EXPECT_EQ(back.encode(s), tok.encode(s));
  EXPECT_EQ(copy.encode(s), tok.encode(s));
  EXPECT_EQ(back.vocab_size(), tok.vocab_size());
  EXPECT_EQ(back.serialized(), tok.serialized());
  for (int64_t id = 0; id < tok.vocab_size(); ++id) ASSERT_EQ(back.piece(id), tok.piece(id)) << id;
}

TEST(Tokenizer, Errors) {
  EXPECT_NE(error_of([] { Tokenizer::train(corpus(), {.model_type = "wordpiece"}); }).find("model_type"),
            std::string::npos);
  EXPECT_NE(error_of([] { Tokenizer::train("\n\n", {}); }).find("no characters"), std::string::npos);
  EXPECT_NE(error_of([] { Tokenizer::train(corpus(), {.vocab_size = 0}); }).find("vocab_size"), std::string::npos);
  // SentencePiece's own refusal (a vocabulary larger than the text allows) comes back as a nerve::Error
  EXPECT_NE(error_of([] { Tokenizer::train("ab\n", {.model_type = "bpe", .vocab_size = 100000}); })
                .find("Tokenizer::train: SentencePiece"),
            std::string::npos);
  const Tokenizer& tok = bpe();
  EXPECT_NE(error_of([&] { tok.decode({1, tok.vocab_size()}); }).find("outside the vocabulary [0, 320)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { tok.decode({-1}); }).find("id -1 at position 0"), std::string::npos);
  TempDir dir;
  write_text(dir / "junk.model", "this is not a protobuf \xff\xff\xff\xff");
  EXPECT_NE(error_of([&] { Tokenizer::load(dir / "junk.model"); }).find("junk.model"), std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::load(dir / "missing.model"); }).find("cannot open"),
            std::string::npos);
  EXPECT_NE(error_of([] { Tokenizer().encode("x"); }).find("empty"), std::string::npos);
  // truncated model files, and one with an empty piece (found by fuzz_sentencepiece: SentencePiece's trie builder
  // threw its own exception through the loader) are nerve::Errors
  const std::string proto = tok.serialized();
  for (size_t cut : {size_t{3}, proto.size() / 2, proto.size() - 5}) {
    write_text(dir / "cut.model", proto.substr(0, cut));
    EXPECT_NE(error_of([&] { Tokenizer::load(dir / "cut.model"); }).find("cut.model"), std::string::npos) << cut;
  }
  const std::vector<uint8_t> empty_piece =
      read_bytes(std::string(NERVE_TEST_DATA_DIR) + "/fuzz/corpus/sentencepiece/empty_piece.model");
  EXPECT_NE(error_of([&] {
              Tokenizer::from_serialized(std::string_view(reinterpret_cast<const char*>(empty_piece.data()), empty_piece.size()));
            }).find("not a valid SentencePiece model"),
            std::string::npos);
}
