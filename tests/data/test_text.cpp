// Text data: corpus reader (sorted walk, skipped extensions, errors), CharTokenizer (round trips, save/load and
// its parse errors), SequenceWindowDataset (shapes, values, errors) and a loader over it.
#include <gtest/gtest.h>
#include <nerve/data/dataloader.h>
#include <nerve/data/text.h>
#include <nerve/ops/ops.h>

#include "data/test_util.h"

using namespace nerve;
using namespace nerve::data;
using nerve::test::error_of;
using nerve::test::TempDir;
using nerve::test::write_text;

TEST(Corpus, SortedRecursiveWalkSkippingExtensions) {
  TempDir dir;
  write_text(dir / "b", "B");
  write_text(dir / "a", "A");
  write_text(dir / "a.dat", "index");
  write_text(dir / "a.u8", "dup");
  write_text(dir / "sub/c", "C");
  write_text(dir / "sub/deeper/d", "D");
  write_text(dir / "sub/deeper/d.dat", "x");
  std::error_code ec;
  std::filesystem::create_symlink(dir / "b", dir / "b.u8", ec);  // fortune's .u8 files are such links
  EXPECT_EQ(read_text_corpus({dir.path().string()}), "ABCD");
  EXPECT_EQ(read_text_corpus({dir.path().string()}, {.recursive = false}), "AB");
  EXPECT_EQ(read_text_corpus({dir.path().string()}, {.skip_extensions = {}}), "Aindexdup" + std::string("BB") + "CDx");
  // explicit files are read in the given order, whatever their extension
  EXPECT_EQ(read_text_corpus({dir / "sub/c", dir / "a.dat", dir / "a"}), "CindexA");
}

TEST(Corpus, Errors) {
  TempDir dir;
  std::string msg = error_of([&] { read_text_corpus({dir / "missing"}); });
  EXPECT_NE(msg.find("text: " + dir / "missing" + ": No such file or directory"), std::string::npos) << msg;
  write_text(dir / "only.dat", "x");
  msg = error_of([&] { read_text_corpus({dir.path().string()}); });
  EXPECT_NE(msg.find("no files to read in " + dir.path().string() + " (1 skipped for their extension: .dat, .u8)"),
            std::string::npos)
      << msg;
  write_text(dir / "empty", "");
  msg = error_of([&] { read_text_corpus({dir.path().string()}); });
  EXPECT_NE(msg.find("text: the corpus is empty (1 files"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { read_text_corpus({}); }).find("at least one"), std::string::npos);
}

TEST(CharTokenizer, VocabularyEncodeDecode) {
  CharTokenizer tok("hello, world\n");
  EXPECT_EQ(tok.vocab(), std::string("\n ,dehlorw"));
  EXPECT_EQ(tok.vocab_size(), 10);
  Tensor ids = tok.encode("world");
  EXPECT_EQ(ids.dtype(), DType::i64);
  EXPECT_EQ(ids.to_vector<int64_t>(), (std::vector<int64_t>{9, 7, 8, 6, 3}));
  EXPECT_EQ(tok.decode(ids), "world");
  EXPECT_EQ(tok.decode(ids.to(DType::i32).reshape({5, 1})), "world");
  EXPECT_EQ(tok.decode(std::vector<int64_t>{5, 4}), "he");
  EXPECT_EQ(tok.id('l'), 6);
  EXPECT_EQ(tok.id('z'), -1);
  std::string msg = error_of([&] { tok.encode("hey"); });
  EXPECT_NE(msg.find("CharTokenizer: byte 0x79 'y' at offset 2 is not in the vocabulary of 10 tokens"),
            std::string::npos)
      << msg;
  msg = error_of([&] { tok.decode(std::vector<int64_t>{1, 10}); });
  EXPECT_NE(msg.find("id 10 at position 1 is out of range, expected 0 to 9"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { tok.decode(ones({2})); }).find("expects an integer tensor"), std::string::npos);
  EXPECT_EQ(CharTokenizer().vocab_size(), 0);
  EXPECT_EQ(CharTokenizer().id('a'), -1);
}

TEST(CharTokenizer, AllBytesSaveLoadRoundTrip) {
  TempDir dir;
  std::string all;
  for (int c = 255; c >= 0; --c) all += static_cast<char>(c);
  CharTokenizer tok(all + all);
  EXPECT_EQ(tok.vocab_size(), 256);
  EXPECT_EQ(tok.decode(tok.encode(all)), all);
  tok.save(dir / "vocab.txt");
  CharTokenizer back = CharTokenizer::load(dir / "vocab.txt");
  EXPECT_EQ(back.vocab(), tok.vocab());
  EXPECT_EQ(back.encode(all).to_vector<int64_t>(), tok.encode(all).to_vector<int64_t>());
  CharTokenizer small("ab\r\n");
  small.save(dir / "vocab.txt");  // overwrite
  EXPECT_EQ(CharTokenizer::load(dir / "vocab.txt").vocab(), std::string("\n\rab"));
  std::vector<uint8_t> saved = test::read_bytes(dir / "vocab.txt");
  EXPECT_EQ(std::string(saved.begin(), saved.end()), "nerve-char-tokenizer 1\nvocab_size 4\n0a\n0d\n61\n62\n");
}

TEST(CharTokenizer, LoadErrors) {
  TempDir dir;
  std::string path = dir / "v.txt";
  auto load_error = [&](const std::string& content) {
    write_text(path, content);
    return error_of([&] { CharTokenizer::load(path); });
  };
  std::string head = "nerve-char-tokenizer 1\n";
  EXPECT_NE(load_error("").find("CharTokenizer: " + path + ": line 1: expected 'nerve-char-tokenizer 1'"),
            std::string::npos);
  EXPECT_NE(load_error("nerve-char-tokenizer 2\n").find("line 1: expected"), std::string::npos);
  EXPECT_NE(load_error(head).find("line 2: expected 'vocab_size N' with N from 0 to 256, found the end of the file"),
            std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size 300\n").find("line 2:"), std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size -1\n").find("line 2:"), std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size 2\n61\n")
                .find("line 4: expected byte 1 of 2 as 2 lowercase hex digits, "
                      "found the end of the file"),
            std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size 2\n61\nzz\n")
                .find("line 4: expected byte 1 of 2 as 2 lowercase hex digits, "
                      "found 'zz'"),
            std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size 2\n62\n61\n").find("line 4: expected a byte greater than the previous"),
            std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size 2\n61\n61\n").find("line 4:"), std::string::npos);
  EXPECT_NE(load_error(head + "vocab_size 1\n61\n62\n").find("line 4: expected the end of the file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { CharTokenizer::load(dir / "none"); }).find("cannot open"), std::string::npos);
  EXPECT_EQ(CharTokenizer::load((write_text(path, head + "vocab_size 0\n"), path)).vocab_size(), 0);
}

TEST(SequenceWindowDataset, NonOverlappingWindows) {
  Tensor tokens = arange(100, 123);  // 23 tokens
  SequenceWindowDataset ds(tokens, 5);
  EXPECT_EQ(ds.size(), 4);  // (23 - 1) / 5
  Example e = ds.get(1);
  EXPECT_EQ(e.data.to_vector<int64_t>(), (std::vector<int64_t>{105, 106, 107, 108, 109}));
  EXPECT_EQ(e.target.to_vector<int64_t>(), (std::vector<int64_t>{106, 107, 108, 109, 110}));
  Example last = ds.get(3);
  EXPECT_EQ(last.target.to_vector<int64_t>().back(), 120);
  Example b = ds.get_batch({3, 1});
  EXPECT_EQ(b.data.shape(), (Shape{2, 5}));
  EXPECT_EQ(b.target.shape(), (Shape{2, 5}));
  EXPECT_EQ(b.data.select(0, 1).to_vector<int64_t>(), e.data.to_vector<int64_t>());
  EXPECT_EQ(b.target.select(0, 0).to_vector<int64_t>(), last.target.to_vector<int64_t>());
  EXPECT_EQ(SequenceWindowDataset(arange(0, 21), 5).size(), 4);  // exactly 4 * 5 + 1 tokens
  EXPECT_EQ(SequenceWindowDataset(arange(0, 20), 5).size(), 3);
  EXPECT_EQ(SequenceWindowDataset(arange(0, 2), 1).size(), 1);
  SequenceWindowDataset overlap(arange(0, 10), 4, 2);  // windows start at 0, 2, 4
  EXPECT_EQ(overlap.size(), 3);
  EXPECT_EQ(overlap.get(2).target.to_vector<int64_t>(), (std::vector<int64_t>{5, 6, 7, 8}));
  EXPECT_NE(error_of([&] { ds.get(4); }).find("index 4 is out of range for 4 windows"), std::string::npos);
  EXPECT_NE(error_of([&] { ds.get_batch({0, -1}); }).find("index -1 (batch position 1)"), std::string::npos);
}

TEST(SequenceWindowDataset, Errors) {
  std::string msg = error_of([] { SequenceWindowDataset(zeros({0}, DType::i64), 4); });
  EXPECT_NE(msg.find("SequenceWindowDataset: the token sequence is empty"), std::string::npos) << msg;
  msg = error_of([] { SequenceWindowDataset(arange(0, 8), 8); });
  EXPECT_NE(msg.find("seq_len 8 must be smaller than the number of tokens 8"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { SequenceWindowDataset(arange(0, 8), 0); }).find("must be >= 1"), std::string::npos);
  EXPECT_NE(error_of([] { SequenceWindowDataset(ones({8}), 2); }).find("expected a 1-D integer tensor"),
            std::string::npos);
}

TEST(SequenceWindowDataset, LoaderOverEncodedCorpus) {
  std::string text = "The quick brown fox jumps over the lazy dog!";  // 44 bytes: 7 windows of 6
  CharTokenizer tok(text);
  SequenceWindowDataset ds(tok.encode(text), 6);
  DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .seed = 3});
  int64_t windows = 0;
  for (auto& batch : loader) {
    EXPECT_EQ(batch.data.size(1), 6);
    for (int64_t r = 0; r < batch.data.size(0); ++r) {
      std::string in = tok.decode(batch.data.select(0, r)), out = tok.decode(batch.target.select(0, r));
      EXPECT_EQ(in.substr(1), out.substr(0, 5));      // target is the input shifted by one
      EXPECT_EQ(text.find(in + out.back()) % 6, 0u);  // one of the non-overlapping windows
      ++windows;
    }
  }
  EXPECT_EQ(windows, 7);
}

TEST(StreamBatches, RowsAreContiguousStreamsThatContinueFromBatchToBatch) {
  // 23 tokens, 3 streams of 7 (2 left out), seq_len 4: batches of 4 and 2 steps
  StreamBatches sb(arange(0, 23, 1, DType::i64), 3, 4);
  EXPECT_EQ(sb.stream_length(), 7);
  ASSERT_EQ(sb.size(), 2);
  Example a = sb.get(0), b = sb.get(1);
  EXPECT_EQ(a.data.shape(), (Shape{3, 4}));
  EXPECT_EQ(b.data.shape(), (Shape{3, 2}));
  EXPECT_EQ(a.data.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 17}));
  EXPECT_EQ(a.target.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 8, 9, 10, 11, 15, 16, 17, 18}));
  EXPECT_EQ(b.data.to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 11, 12, 18, 19}));
  EXPECT_EQ(b.target.to_vector<int64_t>(), (std::vector<int64_t>{5, 6, 12, 13, 19, 20}));
  // every target is its input's successor within the stream, and no target crosses into the next stream
  StreamBatches exact(arange(0, 24, 1, DType::i32), 4, 5);  // streams of 6: one batch of 5
  ASSERT_EQ(exact.size(), 1);
  EXPECT_EQ(exact.get(0).target.to_vector<int64_t>().back(), 23);
  EXPECT_EQ(exact.get(0).data.dtype(), DType::i64);
}

TEST(StreamBatches, ShardsSplitTheRowsOfEveryBatch) {
  // 6 streams of 7 over 3 processes: process k gets rows 2k, 2k + 1 of every batch, the same batches
  StreamBatches all(arange(0, 44, 1, DType::i64), 6, 4);
  for (int64_t k = 0; k < 3; ++k) {
    StreamBatches s = all.shard(k, 3);
    EXPECT_EQ(s.batch(), 2);
    EXPECT_EQ(s.size(), all.size());
    EXPECT_EQ(s.stream_length(), all.stream_length());
    for (int64_t i = 0; i < all.size(); ++i) {
      Example a = all.get(i), e = s.get(i);
      EXPECT_EQ(e.data.to_vector<int64_t>(), a.data.narrow(0, 2 * k, 2).contiguous().to_vector<int64_t>());
      EXPECT_EQ(e.target.to_vector<int64_t>(), a.target.narrow(0, 2 * k, 2).contiguous().to_vector<int64_t>());
    }
  }
  EXPECT_EQ(all.shard(0, 1).get(1).data.to_vector<int64_t>(), all.get(1).data.to_vector<int64_t>());
  EXPECT_EQ(error_of([&] { all.shard(0, 4); }),
            "StreamBatches::shard: 6 streams do not split evenly over 4 processes (use a batch divisible by 4)");
  EXPECT_EQ(error_of([&] { all.shard(3, 3); }),
            "StreamBatches::shard: expected 0 <= index < count, got index 3 and count 3");
  EXPECT_EQ(error_of([&] { all.shard(0, 0); }),
            "StreamBatches::shard: expected 0 <= index < count, got index 0 and count 0");
}

TEST(StreamBatches, Errors) {
  EXPECT_EQ(error_of([] { StreamBatches(arange(0, 5, 1, DType::i64), 3, 4); }),
            "StreamBatches: 5 tokens in 3 streams leave 1 tokens per stream; each needs at least 2 (an input and its "
            "target): use a smaller batch or a longer corpus");
  EXPECT_EQ(error_of([] { StreamBatches(zeros({0}, DType::i64), 1, 4); }),
            "StreamBatches: the token sequence is empty (empty corpus?)");
  EXPECT_NE(error_of([] { StreamBatches(zeros({4, 2}), 1, 4); }).find("expected a 1-D integer tensor"),
            std::string::npos);
  EXPECT_EQ(error_of([] { StreamBatches(arange(0, 9, 1, DType::i64), 0, 4); }),
            "StreamBatches: batch 0 and seq_len 4 must be >= 1");
  StreamBatches sb(arange(0, 9, 1, DType::i64), 2, 4);
  EXPECT_EQ(error_of([&] { sb.get(1); }), "StreamBatches: index 1 is out of range for 1 batches");
}

// A corpus is kept one byte per character: encode(text, u8) and the datasets built on it keep u8 tokens and give
// the same i64 batches as from i64 tokens.
TEST(CharTokenizer, CompactTokensGiveTheSameBatches) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += static_cast<char>(" abcdefghij\n\xff"[(i * 7 + i / 13) % 13]);
  data::CharTokenizer tok(text);
  Tensor wide = tok.encode(text), narrow8 = tok.encode(text, DType::u8), mid = tok.encode(text, DType::i32);
  EXPECT_EQ(narrow8.dtype(), DType::u8);
  EXPECT_EQ(narrow8.to(DType::i64).to_vector<int64_t>(), wide.to_vector<int64_t>());
  EXPECT_EQ(mid.to(DType::i64).to_vector<int64_t>(), wide.to_vector<int64_t>());
  EXPECT_THROW(tok.encode(text, DType::f32), Error);
  data::SequenceWindowDataset a(wide, 16), b(narrow8, 16);
  EXPECT_EQ(b.tokens().dtype(), DType::u8);  // one byte per token in memory
  EXPECT_EQ(b.tokens().storage(), narrow8.storage());  // and not copied
  std::vector<int64_t> idx = {3, 0, 7};
  Example ea = a.get_batch(idx), eb = b.get_batch(idx);
  EXPECT_EQ(eb.data.dtype(), DType::i64);
  EXPECT_EQ(ea.data.to_vector<int64_t>(), eb.data.to_vector<int64_t>());
  EXPECT_EQ(ea.target.to_vector<int64_t>(), eb.target.to_vector<int64_t>());
  EXPECT_EQ(a.get(5).data.to_vector<int64_t>(), b.get(5).data.to_vector<int64_t>());
  EXPECT_EQ(b.get(5).target.dtype(), DType::i64);
  data::StreamBatches sa(wide, 4, 10), sb(narrow8, 4, 10);
  for (int64_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sb.get(i).data.dtype(), DType::i64);
    EXPECT_EQ(sa.get(i).data.to_vector<int64_t>(), sb.get(i).data.to_vector<int64_t>());
    EXPECT_EQ(sa.get(i).target.to_vector<int64_t>(), sb.get(i).target.to_vector<int64_t>());
  }
}
