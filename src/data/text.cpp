// Text data: corpus reader (sorted directory walk), byte-level CharTokenizer with a strict save format, and the
// next-token window dataset for character language models.
#include "nerve/data/text.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "core/file_util.h"

namespace nerve::data {

namespace fs = std::filesystem;

namespace {

std::string show_byte(unsigned char c) {
  static const char* d = "0123456789ABCDEF";
  std::string s = {'0', 'x', d[c >> 4], d[c & 15]};
  if (c >= 0x20 && c < 0x7f) s += std::string(" '") + static_cast<char>(c) + "'";
  return s;
}

// Printable excerpt of a line for error messages.
std::string excerpt(std::string_view line) {
  std::string s;
  for (unsigned char c : line.substr(0, 40)) s += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c)) : "?";
  return "'" + s + (line.size() > 40 ? "...'" : "'");
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool skipped(const fs::path& p, const std::vector<std::string>& exts) {
  std::string ext = p.extension().string();
  return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

// Regular files under `dir` (not skipped), sorted by path.
std::vector<fs::path> list_dir(const fs::path& dir, const CorpusOptions& o, int64_t& n_skipped) {
  std::vector<fs::path> files;
  std::error_code ec;
  auto add = [&](const fs::directory_entry& e) {
    std::error_code ec2;
    if (!e.is_regular_file(ec2)) return;
    if (skipped(e.path(), o.skip_extensions))
      ++n_skipped;
    else
      files.push_back(e.path());
  };
  if (o.recursive) {
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) add(*it);
  } else {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) add(*it);
  }
  NERVE_CHECK(!ec, "text: ", dir.string(), ": cannot list directory (", ec.message(), ")");
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string read_text_corpus(const std::vector<std::string>& paths, const CorpusOptions& options) {
  NERVE_CHECK(!paths.empty(), "text: read_text_corpus needs at least one file or directory");
  std::vector<fs::path> files;
  int64_t n_skipped = 0;
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    NERVE_CHECK(fs::exists(st), "text: ", p, ": ", ec ? ec.message() : "no such file or directory");
    if (fs::is_directory(st)) {
      std::vector<fs::path> found = list_dir(p, options, n_skipped);
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  NERVE_CHECK(!files.empty(), "text: no files to read in ", join(paths), " (", n_skipped,
              " skipped for their extension: ", join(options.skip_extensions), ")");
  std::string text;
  uintmax_t total = 0;  // reserved up front: no doubling of a large corpus while it is read
  for (const fs::path& f : files) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(f, ec);
    if (!ec) total += size;
  }
  text.reserve(static_cast<size_t>(total));
  for (const fs::path& f : files) {
    std::vector<uint8_t> bytes = nerve::detail::read_file_bytes(f.string(), "text");
    text.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());  // (iterators: a temporary copy)
  }
  NERVE_CHECK(!text.empty(), "text: the corpus is empty (", files.size(), " files in ", join(paths), ", all empty)");
  return text;
}

// ---------------------------------------------------------------- CharTokenizer

CharTokenizer::CharTokenizer() { set_vocab({}); }

CharTokenizer::CharTokenizer(std::string_view text) {
  bool seen[256] = {};
  for (unsigned char c : text) seen[c] = true;
  std::string vocab;
  for (int c = 0; c < 256; ++c)
    if (seen[c]) vocab += static_cast<char>(c);
  set_vocab(std::move(vocab));
}

void CharTokenizer::set_vocab(std::string vocab) {
  vocab_ = std::move(vocab);
  std::fill(std::begin(ids_), std::end(ids_), int64_t{-1});
  for (size_t i = 0; i < vocab_.size(); ++i) ids_[static_cast<unsigned char>(vocab_[i])] = static_cast<int64_t>(i);
}

Tensor CharTokenizer::encode(std::string_view text, DType dtype) const {
  NERVE_CHECK(dtype == DType::i64 || dtype == DType::i32 || dtype == DType::u8,
              "CharTokenizer: encode into i64, i32 or u8, not ", dtype_name(dtype));
  Tensor out = empty({static_cast<int64_t>(text.size())}, dtype);
  auto fill = [&](auto* p) {
    for (size_t i = 0; i < text.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      const int64_t id = ids_[c];
      NERVE_CHECK(id >= 0, "CharTokenizer: byte ", show_byte(c), " at offset ", i, " is not in the vocabulary of ",
                  vocab_size(), " tokens (build the tokenizer from text that contains it)");
      p[i] = static_cast<std::remove_pointer_t<decltype(p)>>(id);  // ids < 256: every dtype holds them
    }
  };
  if (dtype == DType::i64) fill(out.data<int64_t>());
  else if (dtype == DType::i32) fill(out.data<int32_t>());
  else fill(out.data<uint8_t>());
  return out;
}

namespace {
// tokens kept as they are when u8, i32 or i64 (contiguous), else widened to i64
Tensor token_storage(const Tensor& tokens) {
  const DType d = tokens.dtype();
  return (d == DType::u8 || d == DType::i32 || d == DType::i64 ? tokens : tokens.to(DType::i64)).contiguous();
}
// dst[k] = src[k] for k < n, src in tokens' dtype
void widen(const Tensor& tokens, int64_t offset, int64_t n, int64_t* dst) {
  visit_dtype(tokens.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>) {
      const T* src = tokens.data<T>() + offset;
      for (int64_t k = 0; k < n; ++k) dst[k] = static_cast<int64_t>(src[k]);
    }
  });
}
}  // namespace

std::string CharTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string s(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    NERVE_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "CharTokenizer: id ", ids[i], " at position ", i,
                " is out of range, expected 0 to ", vocab_size() - 1);
    s[i] = vocab_[static_cast<size_t>(ids[i])];
  }
  return s;
}

std::string CharTokenizer::decode(const Tensor& ids) const {
  NERVE_CHECK(ids.defined() && !is_floating(ids.dtype()) && ids.dtype() != DType::b8,
              "CharTokenizer: decode expects an integer tensor of ids, got ",
              ids.defined() ? dtype_name(ids.dtype()) : "an undefined tensor");
  return decode(ids.to(DType::i64).contiguous().to_vector<int64_t>());
}

void CharTokenizer::save(const std::string& path) const {
  static const char* d = "0123456789abcdef";
  std::string s = "nerve-char-tokenizer 1\nvocab_size " + std::to_string(vocab_.size()) + "\n";
  for (unsigned char c : vocab_) s += {d[c >> 4], d[c & 15], '\n'};
  nerve::detail::write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), "CharTokenizer");
}

CharTokenizer CharTokenizer::load(const std::string& path) {
  std::vector<uint8_t> bytes = nerve::detail::read_file_bytes(path, "CharTokenizer");
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  auto fail = [&](size_t line_no, const std::string& expected) {
    NERVE_CHECK(false, "CharTokenizer: ", path, ": line ", line_no, ": expected ", expected, ", found ",
                line_no <= lines.size() ? excerpt(lines[line_no - 1]) : "the end of the file");
  };
  if (lines.empty() || lines[0] != "nerve-char-tokenizer 1")
    fail(1, "'nerve-char-tokenizer 1' (not a tokenizer file?)");
  std::string_view head = lines.size() > 1 ? lines[1] : std::string_view();
  std::string_view num = head.substr(std::min<size_t>(head.size(), 11));
  bool ok = head.substr(0, 11) == "vocab_size " && !num.empty() && num.size() <= 3 &&
            std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
  size_t n = ok ? std::stoul(std::string(num)) : 0;
  if (!ok || n > 256) fail(2, "'vocab_size N' with N from 0 to 256");
  std::string vocab;
  for (size_t i = 0; i < n; ++i) {
    size_t line_no = 3 + i;
    std::string_view l = line_no <= lines.size() ? lines[line_no - 1] : std::string_view();
    auto hexval = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    int hi = l.size() == 2 ? hexval(l[0]) : -1, lo = l.size() == 2 ? hexval(l[1]) : -1;
    if (hi < 0 || lo < 0)
      fail(line_no, "byte " + std::to_string(i) + " of " + std::to_string(n) + " as 2 lowercase hex digits");
    int c = hi * 16 + lo;
    if (!vocab.empty() && c <= static_cast<unsigned char>(vocab.back()))
      fail(line_no, "a byte greater than the previous line's (the vocabulary is sorted and distinct)");
    vocab += static_cast<char>(c);
  }
  if (lines.size() > 2 + n) fail(3 + n, "the end of the file after " + std::to_string(n) + " vocabulary lines");
  CharTokenizer tok;
  tok.set_vocab(std::move(vocab));
  return tok;
}

// ---------------------------------------------------------------- SequenceWindowDataset

SequenceWindowDataset::SequenceWindowDataset(const Tensor& tokens, int64_t seq_len, int64_t stride)
    : seq_len_(seq_len), stride_(stride == 0 ? seq_len : stride) {
  NERVE_CHECK(tokens.defined() && tokens.dim() == 1 && !is_floating(tokens.dtype()) && tokens.dtype() != DType::b8,
              "SequenceWindowDataset: expected a 1-D integer tensor of tokens, got ",
              tokens.defined() ? to_string(tokens.shape()) + " " + dtype_name(tokens.dtype()) : "an undefined tensor");
  int64_t n = tokens.numel();
  NERVE_CHECK(n > 0, "SequenceWindowDataset: the token sequence is empty (empty corpus?)");
  NERVE_CHECK(seq_len >= 1 && stride_ >= 1, "SequenceWindowDataset: seq_len ", seq_len, " and stride ", stride,
              " must be >= 1");
  NERVE_CHECK(seq_len < n, "SequenceWindowDataset: seq_len ", seq_len, " must be smaller than the number of tokens ", n,
              " (one window needs seq_len + 1 tokens: inputs and the next-token targets)");
  tokens_ = token_storage(tokens);
  size_ = (n - 1 - seq_len) / stride_ + 1;
}

Example SequenceWindowDataset::get(int64_t index) const {
  NERVE_CHECK(index >= 0 && index < size_, "SequenceWindowDataset: index ", index, " is out of range for ", size_,
              " windows");
  return {tokens_.narrow(0, index * stride_, seq_len_).to(DType::i64),
          tokens_.narrow(0, index * stride_ + 1, seq_len_).to(DType::i64)};
}

Example SequenceWindowDataset::get_batch(const std::vector<int64_t>& indices) const {
  NERVE_CHECK(!indices.empty(), "SequenceWindowDataset: get_batch needs at least one index");
  int64_t b = static_cast<int64_t>(indices.size());
  Tensor data = empty({b, seq_len_}, DType::i64), target = empty({b, seq_len_}, DType::i64);
  for (int64_t i = 0; i < b; ++i) {
    int64_t idx = indices[static_cast<size_t>(i)];
    NERVE_CHECK(idx >= 0 && idx < size_, "SequenceWindowDataset: index ", idx, " (batch position ", i,
                ") is out of range for ", size_, " windows");
    widen(tokens_, idx * stride_, seq_len_, data.data<int64_t>() + i * seq_len_);
    widen(tokens_, idx * stride_ + 1, seq_len_, target.data<int64_t>() + i * seq_len_);
  }
  return {data, target};
}

StreamBatches::StreamBatches(const Tensor& tokens, int64_t batch, int64_t seq_len) : batch_(batch), seq_len_(seq_len) {
  NERVE_CHECK(tokens.defined() && tokens.dim() == 1 && !is_floating(tokens.dtype()) && tokens.dtype() != DType::b8,
              "StreamBatches: expected a 1-D integer tensor of tokens, got ",
              tokens.defined() ? to_string(tokens.shape()) + " " + dtype_name(tokens.dtype()) : "an undefined tensor");
  NERVE_CHECK(batch >= 1 && seq_len >= 1, "StreamBatches: batch ", batch, " and seq_len ", seq_len, " must be >= 1");
  const int64_t n = tokens.numel();
  NERVE_CHECK(n > 0, "StreamBatches: the token sequence is empty (empty corpus?)");
  stream_len_ = n / batch;
  NERVE_CHECK(stream_len_ >= 2, "StreamBatches: ", n, " tokens in ", batch, " streams leave ", stream_len_,
              " tokens per stream; each needs at least 2 (an input and its target): use a smaller batch or a "
              "longer corpus");
  streams_ = token_storage(tokens.narrow(0, 0, batch * stream_len_)).reshape({batch, stream_len_});
  size_ = (stream_len_ - 1 + seq_len - 1) / seq_len;
}

Example StreamBatches::get(int64_t index) const {
  NERVE_CHECK(index >= 0 && index < size_, "StreamBatches: index ", index, " is out of range for ", size_,
              " batches");
  const int64_t start = index * seq_len_, len = std::min(seq_len_, stream_len_ - 1 - start);
  return {streams_.narrow(1, start, len).to(DType::i64).contiguous(),
          streams_.narrow(1, start + 1, len).to(DType::i64).contiguous()};
}

StreamBatches StreamBatches::shard(int64_t index, int64_t count) const {
  NERVE_CHECK(count >= 1 && index >= 0 && index < count, "StreamBatches::shard: expected 0 <= index < count, got "
              "index ", index, " and count ", count);
  NERVE_CHECK(batch_ % count == 0, "StreamBatches::shard: ", batch_, " streams do not split evenly over ", count,
              " processes (use a batch divisible by ", count, ")");
  StreamBatches s = *this;
  s.batch_ = batch_ / count;
  s.streams_ = streams_.narrow(0, index * s.batch_, s.batch_);  // rows of a contiguous (batch, L): contiguous
  return s;
}

}  // namespace nerve::data
