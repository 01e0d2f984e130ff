// Text for character language models: a deterministic corpus reader, a byte-level CharTokenizer,
// SequenceWindowDataset cutting a token stream into (input, next-token target) windows, and StreamBatches for
// stateful (truncated-BPTT) training.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nerve/data/dataset.h"

namespace nerve::data {

/// Options of read_text_corpus.
struct CorpusOptions {
  /// Files whose extension is one of these are skipped (fortune's index files by default).
  std::vector<std::string> skip_extensions = {".dat", ".u8"};
  /// Walk directories recursively (else only their direct files).
  bool recursive = true;
};

/// The bytes of every file in `paths`, concatenated. A directory contributes its regular files (symlinks
/// followed, skip_extensions left out) in sorted path order; explicit files are always read, in the given order. Errors
/// when nothing is found, a path is missing or unreadable, or the corpus is empty.
///   std::string text = read_text_corpus({"/usr/share/games/fortunes"});
std::string read_text_corpus(const std::vector<std::string>& paths, const CorpusOptions& options = {});

/// Maps each distinct byte of a text to an id (vocabulary sorted by byte value), as char-rnn does.
///   CharTokenizer tok(text); Tensor ids = tok.encode("hello"); std::string s = tok.decode(ids);
class CharTokenizer {
 public:
  /// An empty vocabulary.
  CharTokenizer();
  /// Vocabulary = the distinct bytes of `text`, sorted.
  explicit CharTokenizer(std::string_view text);
  /// (text.size()) i64 ids; a byte outside the vocabulary is an error naming it and its offset.
  Tensor encode(std::string_view text) const { return encode(text, DType::i64); }
  /// The ids in an integer dtype: i64, i32, or u8 (one byte per character; a byte-level vocabulary always fits),
  /// which a large corpus is best kept in.  Tensor ids = tok.encode(text, DType::u8);
  Tensor encode(std::string_view text, DType dtype) const;
  /// Bytes of the ids (any integer dtype and shape, read in row-major order); ids outside [0, vocab_size) are errors.
  std::string decode(const Tensor& ids) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  /// The vocabulary bytes, by id.
  const std::string& vocab() const { return vocab_; }
  /// Id of byte c, or -1 when c is not in the vocabulary.
  int64_t id(unsigned char c) const { return ids_[c]; }

  /// Text file: a "nerve-char-tokenizer 1" line, a "vocab_size N" line, then one 2-hex-digit byte per line.
  /// Atomic (temporary file + rename).  tok.save("vocab.txt"); auto tok2 = CharTokenizer::load("vocab.txt");
  void save(const std::string& path) const;
  static CharTokenizer load(const std::string& path);

 private:
  void set_vocab(std::string vocab);
  std::string vocab_;
  int64_t ids_[256];  // byte -> id, -1 when absent
};

/// Non-overlapping next-token windows over a 1-D token sequence: item i is
///   data   = tokens[i*stride     : i*stride + seq_len]
///   target = tokens[i*stride + 1 : i*stride + seq_len + 1]
/// with stride = seq_len by default (tail tokens that do not fill a window are left out). Both are (seq_len) i64,
/// batches (B, seq_len). The tokens are kept in their own integer dtype (u8 from CharTokenizer::encode(text,
/// DType::u8): one byte per token) and widened to i64 batch by batch.
///   SequenceWindowDataset ds(tok.encode(text), 64);  // ds.size() == (n - 1) / 64
class SequenceWindowDataset : public Dataset {
 public:
  /// tokens: (n) integer tensor; needs n > seq_len. stride 0 means seq_len; a smaller stride overlaps windows.
  SequenceWindowDataset(const Tensor& tokens, int64_t seq_len, int64_t stride = 0);
  int64_t size() const override { return size_; }
  Example get(int64_t index) const override;
  Example get_batch(const std::vector<int64_t>& indices) const override;
  int64_t seq_len() const { return seq_len_; }
  const Tensor& tokens() const { return tokens_; }

 private:
  Tensor tokens_;  // (n) u8, i32 or i64, contiguous
  int64_t seq_len_, stride_, size_;
};

/// Batches for truncated backpropagation through time (stateful training, as PyTorch's word_language_model):
/// the token stream is cut into `batch` contiguous streams of L = n / batch tokens (the tail is left out), and
/// batch i holds, in row b, tokens [i*seq_len, i*seq_len + len) of stream b (len = seq_len, shorter for the last
/// batch), with the next-token targets. Row b of batch i+1 continues row b of batch i, so the model can carry
/// its hidden state (detached) from one batch to the next. data and target are (batch, len) i64 (batch first);
/// the streams are kept in the tokens' own integer dtype (u8 for a CharTokenizer's) and widened batch by batch.
///   StreamBatches sb(tok.encode(text), 32, 64);
///   std::optional<nn::LSTMState> st;
///   for (int64_t i = 0; i < sb.size(); ++i) {
///     Example e = sb.get(i);
///     auto [logits, s] = model->forward(e.data, st);
///     ...; st = nn::LSTMState{s.h.detach(), s.c.detach()};   // carry the state, cut the graph
///   }
class StreamBatches {
 public:
  /// tokens: (n) integer tensor with n >= 2 * batch (every stream needs an input and a target).
  StreamBatches(const Tensor& tokens, int64_t batch, int64_t seq_len);
  /// Batches per pass over the streams: ceil((L - 1) / seq_len).
  int64_t size() const { return size_; }
  Example get(int64_t index) const;
  int64_t batch() const { return batch_; }
  int64_t seq_len() const { return seq_len_; }
  /// Tokens per stream (L).
  int64_t stream_length() const { return stream_len_; }
  /// Process `index` of `count`'s share for data-parallel stateful training: the same batches restricted to rows
  /// [index * batch / count, (index + 1) * batch / count) (count must divide batch). The shards of count processes
  /// together hold exactly this object's rows, so N processes with shards of a batch-N*B StreamBatches train
  /// the rows one process trains with batch N*B; each process carries the hidden state of its own rows.
  ///   StreamBatches mine = StreamBatches(tokens, world * 32, 64).shard(rank, world);   // (32, 64) per process
  StreamBatches shard(int64_t index, int64_t count) const;

 private:
  Tensor streams_;  // (batch, L) u8, i32 or i64, contiguous
  int64_t batch_, seq_len_, stream_len_, size_;
};

}  // namespace nerve::data
