// Which fortune file does a fortune come from? A small BERT-style transformer encoder ([CLS] token, learned
// positions, padding masks, pre-norm blocks, classification from the [CLS] position) against a bag-of-words
// logistic regression, both trained here on the same seeded 80/20 split of 8 categories of the fortunes package;
// it prints both test accuracies. The encoder reads words (seen twice in training), bytes (--tokenizer char) or
// SentencePiece BPE pieces trained on the training split alone (--tokenizer bpe); a list runs one encoder per
// tokenizer on the same split.
//   text_classify --epochs 6 --threads 2
//   text_classify --tokenizer char,bpe --vocab-size 1000 --json
//   text_classify --categories computers,linux,startrek,zippy --per-class 200 --json
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>

#include <nerve/data/tokenizer.h>
#include <nerve/nerve.h>
#include <nerve/optim/adam.h>

#include "common/cli.h"

using namespace nerve;

struct Args {
  std::string data = "/usr/share/games/fortunes";
  std::string categories = "computers,definitions,linux,politics,science,songs-poems,startrek,zippy";
  std::string tokenizer = "word";
  int64_t vocab_size = 1000;
  int64_t per_class = 400, epochs = 6, batch = 32, max_len = 128, width = 128, layers = 2, heads = 4, seed = 0;
  int threads = std::min(2, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  bool json = false;
};

static Args parse(int argc, char** argv) {
  Args a;
  examples::Cli cli("text_classify", "Classifies fortunes by their file: a transformer encoder and a bag-of-words "
                                     "logistic regression on the same split.");
  cli.add("--data", a.data, "the fortunes directory (one file per category, fortunes separated by % lines)")
      ->existing_dir();
  cli.add("--categories", a.categories, "comma-separated file names: the classes");
  cli.integer("--per-class", a.per_class, "at most this many fortunes per class (a seeded choice)", int64_t{2},
              int64_t{1} << 20);
  cli.add("--tokenizer", a.tokenizer,
          "the encoder's tokens: word (words seen twice in training), char (bytes) or bpe (SentencePiece BPE "
          "trained on the training split); a comma-separated list trains one encoder per tokenizer");
  cli.integer("--vocab-size", a.vocab_size, "pieces of the bpe tokenizer (256 byte pieces and 3 specials included)",
              int64_t{260}, int64_t{1} << 16);
  cli.integer("--epochs", a.epochs, "passes of the encoder over the training set", int64_t{1}, int64_t{10000});
  cli.integer("--batch-size", a.batch, "fortunes per batch", int64_t{1}, int64_t{1} << 16);
  cli.integer("--max-len", a.max_len, "tokens per fortune, [CLS] included (longer ones are cut)", int64_t{2},
              int64_t{4096});
  cli.integer("--width", a.width, "encoder width", int64_t{1}, int64_t{4096});
  cli.integer("--layers", a.layers, "encoder blocks", int64_t{1}, int64_t{64});
  cli.integer("--heads", a.heads, "attention heads (must divide --width)", int64_t{1}, int64_t{256});
  cli.threads(a.threads);
  cli.integer("--seed", a.seed, "seed of the split, initialization and shuffling", int64_t{0},
              std::numeric_limits<int64_t>::max());
  cli.flag("--json", a.json, "one line of JSON results on stdout");
  cli.parse(argc, argv);
  return a;
}

struct Doc {
  std::string text;
  std::vector<std::string> words;
  int64_t label;
};

// Lower-case words: runs of letters and digits; every other non-space byte is a word of its own
static std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      w += static_cast<char>(std::tolower(c));
      continue;
    }
    if (!w.empty()) out.push_back(w), w.clear();
    if (!std::isspace(c)) out.emplace_back(1, static_cast<char>(c));
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

// The fortunes of one file: texts between lines holding a single %
static std::vector<std::string> read_fortunes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NERVE_CHECK(f.good(), "text_classify: cannot read ", path);
  std::vector<std::string> out;
  std::string line, cur;
  auto flush = [&] {
    if (cur.find_first_not_of(" \t\n") != std::string::npos) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(f, line)) {
    if (line == "%") flush();
    else cur += line + "\n";
  }
  flush();
  return out;
}

// Masked multi-head self-attention through the fused op: q, k, v (B, H, S, D); pad (B, 1, 1, S) holds 0 for tokens
// and -inf for padding (an additive mask read in place, never expanded), so no query attends to padding.
static Tensor masked_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pad) {
  return scaled_dot_product_attention(q, k, v, pad, 0.0, false);
}

/// A pre-norm encoder block: x + attention(LN(x)), then + MLP(LN(x)) with GELU; x (B, S, C).
class EncoderBlock : public nn::Module {
 public:
  EncoderBlock(int64_t width, int64_t heads) : heads_(heads) {
    ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(Shape{width}));
    qkv = register_module("qkv", std::make_shared<nn::Linear>(width, 3 * width));
    proj = register_module("proj", std::make_shared<nn::Linear>(width, width));
    ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(Shape{width}));
    fc = register_module("fc", std::make_shared<nn::Linear>(width, 2 * width));
    fc_proj = register_module("fc_proj", std::make_shared<nn::Linear>(2 * width, width));
  }
  Tensor run(const Tensor& x, const Tensor& pad) {
    const int64_t B = x.size(0), S = x.size(1), C = x.size(2), H = heads_;
    std::vector<Tensor> p = chunk(qkv->forward(ln_1->forward(x)), 3, -1);
    auto split = [&](const Tensor& t) { return transpose(reshape(t, {B, S, H, C / H}), 1, 2); };
    Tensor y = masked_attention(split(p[0]), split(p[1]), split(p[2]), pad);
    Tensor h = x + proj->forward(reshape(transpose(y, 1, 2), {B, S, C}));
    return h + fc_proj->forward(gelu(fc->forward(ln_2->forward(h)), "none"));
  }
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<nn::Linear> qkv, proj, fc, fc_proj;

 private:
  int64_t heads_;
};

/// Token + position embeddings, blocks, a final LayerNorm and a linear head on the [CLS] position (id 1, first).
class Encoder : public nn::Module {
 public:
  Encoder(int64_t vocab, int64_t max_len, int64_t width, int64_t layers, int64_t heads, int64_t classes) {
    NERVE_CHECK(width % heads == 0, "text_classify: --width ", width, " is not a multiple of --heads ", heads);
    tok = register_module("tok", std::make_shared<nn::Embedding>(vocab, width));
    pos = register_module("pos", std::make_shared<nn::Embedding>(max_len, width));
    for (int64_t i = 0; i < layers; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), std::make_shared<EncoderBlock>(width, heads)));
    ln = register_module("ln", std::make_shared<nn::LayerNorm>(Shape{width}));
    head = register_module("head", std::make_shared<nn::Linear>(width, classes));
    NoGradGuard no_grad;
    nn::init::normal_(tok->weight, 0.0, 0.02);
    nn::init::normal_(pos->weight, 0.0, 0.02);
  }
  /// ids (B, S) i64 with 0 for padding -> logits (B, classes)
  Tensor forward(const Tensor& ids) override {
    const int64_t B = ids.size(0), S = ids.size(1);
    Tensor pad = masked_fill(zeros({B, 1, 1, S}), eq(ids, zeros({1}, DType::i64)).reshape({B, 1, 1, S}),
                             -std::numeric_limits<double>::infinity());
    Tensor x = tok->forward(ids) + pos->forward(arange(static_cast<double>(S)));
    for (auto& b : blocks) x = b->run(x, pad);
    return head->forward(select(ln->forward(x), 1, 0));  // the [CLS] position
  }
  std::shared_ptr<nn::Embedding> tok, pos;
  std::vector<std::shared_ptr<EncoderBlock>> blocks;
  std::shared_ptr<nn::LayerNorm> ln;
  std::shared_ptr<nn::Linear> head;
};

static double accuracy(const Tensor& logits, const std::vector<int64_t>& labels) {
  std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>();
  int64_t ok = 0;
  for (size_t i = 0; i < pred.size(); ++i) ok += pred[i] == labels[i];
  return static_cast<double>(ok) / static_cast<double>(std::max<size_t>(1, pred.size()));
}

int main(int argc, char** argv) try {
  Args a = parse(argc, argv);
  set_num_threads(a.threads);
  std::vector<std::string> tokenizers;
  std::stringstream ts(a.tokenizer);
  for (std::string t; std::getline(ts, t, ',');) {
    NERVE_CHECK(t == "word" || t == "char" || t == "bpe", "text_classify: --tokenizer takes word, char or bpe (or a ",
                "comma-separated list of them), got \"", t, "\"");
    tokenizers.push_back(t);
  }
  NERVE_CHECK(!tokenizers.empty(), "text_classify: --tokenizer is empty");
  manual_seed(static_cast<uint64_t>(a.seed));
  std::mt19937_64 rng(static_cast<uint64_t>(a.seed));

  // the documents: up to per_class fortunes of each category (a seeded choice), then a seeded 80/20 split
  std::vector<std::string> classes;
  std::stringstream ss(a.categories);
  for (std::string c; std::getline(ss, c, ',');)
    if (!c.empty()) classes.push_back(c);
  NERVE_CHECK(classes.size() >= 2, "text_classify: --categories needs at least 2 names, got \"", a.categories, "\"");
  std::vector<Doc> docs;
  for (size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> f = read_fortunes((std::filesystem::path(a.data) / classes[c]).string());
    NERVE_CHECK(f.size() >= 2, "text_classify: ", classes[c], " has ", f.size(), " fortunes; a class needs >= 2");
    std::shuffle(f.begin(), f.end(), rng);
    f.resize(std::min<size_t>(f.size(), static_cast<size_t>(a.per_class)));
    for (auto& t : f) docs.push_back({t, words_of(t), static_cast<int64_t>(c)});
  }
  std::shuffle(docs.begin(), docs.end(), rng);
  const size_t n_train = docs.size() * 8 / 10;
  std::vector<Doc> train(docs.begin(), docs.begin() + static_cast<ptrdiff_t>(n_train));
  std::vector<Doc> test(docs.begin() + static_cast<ptrdiff_t>(n_train), docs.end());

  // the vocabulary: words seen at least twice in the training set; 0 = [PAD], 1 = [CLS], 2 = [UNK]
  std::map<std::string, int64_t> counts;
  for (auto& d : train)
    for (auto& w : d.words) ++counts[w];
  std::unordered_map<std::string, int64_t> vocab;
  for (auto& [w, n] : counts)
    if (n >= 2) vocab.emplace(w, static_cast<int64_t>(vocab.size()) + 3);
  const int64_t V = static_cast<int64_t>(vocab.size()) + 3, K = static_cast<int64_t>(classes.size());
  auto id = [&](const std::string& w) {
    auto it = vocab.find(w);
    return it == vocab.end() ? int64_t{2} : it->second;
  };
  std::vector<int64_t> y_train, y_test;
  for (auto& d : train) y_train.push_back(d.label);
  for (auto& d : test) y_test.push_back(d.label);
  std::fprintf(stderr, "%zu classes, %zu training and %zu test fortunes, vocabulary %ld words\n", classes.size(),
               train.size(), test.size(), long(V));

  // baseline: logistic regression on log(1 + count) features, L2-normalized rows, full-batch Adam
  auto bow = [&](const std::vector<Doc>& ds) {
    std::vector<float> x(ds.size() * static_cast<size_t>(V), 0.0f);
    for (size_t i = 0; i < ds.size(); ++i) {
      float* row = &x[i * static_cast<size_t>(V)];
      for (auto& w : ds[i].words) row[id(w)] += 1.0f;
      double norm = 0;
      for (int64_t j = 0; j < V; ++j) row[j] = std::log1p(row[j]), norm += double(row[j]) * row[j];
      for (int64_t j = 0; j < V && norm > 0; ++j) row[j] = static_cast<float>(row[j] / std::sqrt(norm));
    }
    return from_vector(x, {static_cast<int64_t>(ds.size()), V});
  };
  double bow_acc = 0;
  {
    Tensor xtr = bow(train), xte = bow(test), ytr = from_vector(y_train);
    auto lr_model = std::make_shared<nn::Linear>(V, K);
    optim::Adam opt(lr_model->parameters(), {.lr = 0.05, .weight_decay = 1e-5});
    for (int i = 0; i < 200; ++i) {
      Tensor loss = nn::F::cross_entropy(lr_model->forward(xtr), ytr);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    NoGradGuard no_grad;
    bow_acc = accuracy(lr_model->forward(xte), y_test);
    std::fprintf(stderr, "bag-of-words logistic regression: test accuracy %.4f\n", bow_acc);
  }

  // The encoder's token ids of every fortune: 0 = [PAD], 1 = [CLS], then the tokenizer's ids from 2 on.
  using Tokens = std::vector<std::vector<int64_t>>;
  auto tokenize = [&](const std::string& kind, int64_t& vocab) {
    Tokens tr, te;
    if (kind == "word") {  // the baseline's vocabulary: ids 2 ([UNK]) .. V - 1
      vocab = V;
      for (auto* ds : {&train, &test})
        for (auto& d : *ds) {
          std::vector<int64_t> ids;
          for (auto& w : d.words) ids.push_back(id(w));
          (ds == &train ? tr : te).push_back(std::move(ids));
        }
    } else if (kind == "char") {  // every byte: ids 2 .. 257
      vocab = 258;
      for (auto* ds : {&train, &test})
        for (auto& d : *ds) {
          std::vector<int64_t> ids;
          for (unsigned char c : d.text) ids.push_back(2 + c);
          (ds == &train ? tr : te).push_back(std::move(ids));
        }
    } else {  // bpe: SentencePiece trained on the training fortunes alone (byte fallback: every test text encodes)
      std::string corpus;
      for (auto& d : train) corpus += d.text;
      const data::Tokenizer tok =
          data::Tokenizer::train(corpus, {.model_type = "bpe", .vocab_size = a.vocab_size, .num_threads = a.threads});
      vocab = 2 + tok.vocab_size();
      for (auto* ds : {&train, &test})
        for (auto& d : *ds) {
          std::vector<int64_t> ids = tok.encode(d.text);
          for (auto& i : ids) i += 2;
          (ds == &train ? tr : te).push_back(std::move(ids));
        }
    }
    return std::pair{std::move(tr), std::move(te)};
  };

  // [CLS] + the first max_len - 1 token ids, padded with 0 to the longest fortune of the batch
  auto batch_ids = [&](const Tokens& ds, const std::vector<size_t>& idx) {
    size_t S = 1;
    for (size_t i : idx) S = std::max(S, std::min(ds[i].size() + 1, static_cast<size_t>(a.max_len)));
    std::vector<int64_t> ids(idx.size() * S, 0);
    for (size_t b = 0; b < idx.size(); ++b) {
      ids[b * S] = 1;
      for (size_t t = 1; t < S && t - 1 < ds[idx[b]].size(); ++t) ids[b * S + t] = ds[idx[b]][t - 1];
    }
    return from_vector(ids, {static_cast<int64_t>(idx.size()), static_cast<int64_t>(S)});
  };
  std::vector<double> enc_accs;
  for (const std::string& kind : tokenizers) {
    int64_t vocab = 0;
    auto [tr_tokens, te_tokens] = tokenize(kind, vocab);
    double mean_len = 0;
    for (auto& t : tr_tokens) mean_len += static_cast<double>(t.size());
    std::fprintf(stderr, "%s tokens: vocabulary %ld, %.1f tokens per training fortune\n", kind.c_str(), long(vocab),
                 mean_len / static_cast<double>(std::max<size_t>(1, tr_tokens.size())));
    manual_seed(static_cast<uint64_t>(a.seed));  // every tokenizer's encoder starts from the same seed
    std::mt19937_64 shuffle_rng(static_cast<uint64_t>(a.seed) + 1);
    auto model = std::make_shared<Encoder>(vocab, a.max_len, a.width, a.layers, a.heads, K);
    optim::AdamW opt(model->parameters(), {.lr = 1e-3, .weight_decay = 0.01});
    std::vector<size_t> order(train.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t e = 0; e < a.epochs; ++e) {
      std::shuffle(order.begin(), order.end(), shuffle_rng);
      double total = 0;
      int64_t steps = 0;
      for (size_t s = 0; s < order.size(); s += static_cast<size_t>(a.batch), ++steps) {
        std::vector<size_t> idx(order.begin() + static_cast<ptrdiff_t>(s),
                                order.begin() + static_cast<ptrdiff_t>(std::min(order.size(), s + size_t(a.batch))));
        std::vector<int64_t> labels;
        for (size_t i : idx) labels.push_back(train[i].label);
        Tensor loss = nn::F::cross_entropy(model->forward(batch_ids(tr_tokens, idx)), from_vector(labels));
        opt.zero_grad();
        loss.backward();
        opt.step();
        total += loss.item<float>();
      }
      std::fprintf(stderr, "%s encoder: epoch %ld  train loss %.4f  %.1f s\n", kind.c_str(), long(e + 1),
                   total / static_cast<double>(steps),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    model->eval();
    NoGradGuard no_grad;
    std::vector<Tensor> logits;
    for (size_t s = 0; s < test.size(); s += static_cast<size_t>(a.batch)) {
      std::vector<size_t> idx;
      for (size_t i = s; i < std::min(test.size(), s + static_cast<size_t>(a.batch)); ++i) idx.push_back(i);
      logits.push_back(model->forward(batch_ids(te_tokens, idx)));
    }
    enc_accs.push_back(accuracy(cat(logits, 0), y_test));
    std::fprintf(stderr, "transformer encoder (%s tokens): test accuracy %.4f\n", kind.c_str(), enc_accs.back());
  }
  const double enc_acc = enc_accs.front();
  std::string per_tokenizer, per_tokenizer_text;
  for (size_t i = 0; i < tokenizers.size(); ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s\"%s\": %.4f", i ? ", " : "", tokenizers[i].c_str(), enc_accs[i]);
    per_tokenizer += buf;
    std::snprintf(buf, sizeof buf, "%s%s tokens %.4f", i ? ", " : "", tokenizers[i].c_str(), enc_accs[i]);
    per_tokenizer_text += buf;
  }
  if (a.json)
    std::printf("{\"impl\": \"nerve\", \"classes\": %zu, \"train\": %zu, \"test\": %zu, \"encoder_accuracy\": %.4f, "
                "\"bow_accuracy\": %.4f, \"encoder_accuracy_by_tokenizer\": {%s}}\n", classes.size(), train.size(),
                test.size(), enc_acc, bow_acc, per_tokenizer.c_str());
  else
    std::printf("test accuracy: transformer encoder %s, bag-of-words logistic regression %.4f (%zu classes, chance "
                "%.4f)\n", per_tokenizer_text.c_str(), bow_acc, classes.size(), 1.0 / static_cast<double>(classes.size()));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
