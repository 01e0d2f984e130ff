// A small GPT on the fortune cookie corpus, the same program as bench/gpt_torch.py: characters (or SentencePiece
// BPE subwords), context 128, 4 layers x 4 heads x width 256, AdamW 3e-4 (weight decay 0.1), batches of 32 random
// windows of the first 90% of the corpus; the validation loss is the mean over 20 fixed batches of the last 10%.
// Then it generates from a prompt with a KV cache (temperature, top-k, top-p), streaming to the terminal.
//   gpt --steps 200 --threads 2 --json
//   gpt --steps 500 --save g.st; gpt --load g.st --prompt "Q: " --gen 300 --top-p 0.9
//   gpt --tokenizer bpe --vocab-size 512 --steps 300
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <variant>

#include <nerve/data/text.h>
#include <nerve/data/tokenizer.h>
#include <nerve/nerve.h>
#include <nerve/nn/generate.h>
#include <nerve/optim/adam.h>
#include <nerve/optim/clip_grad.h>

#include "common/cli.h"
#include "gpt/gpt.h"

using namespace nerve;
using clock_type = std::chrono::steady_clock;

struct Args {
  std::string data = "/usr/share/games/fortunes", tokenizer = "char", save, load, prompt = "The ";
  int64_t steps = 200, batch = 32, seed = 0, gen = 200, top_k = 0, warmup = 0, vocab_size = 512, eval_batches = 20;
  int64_t context = 128, layers = 4, heads = 4, width = 256, ff = 1024;
  double temperature = 0.8, top_p = 1.0, clip = 0.0, dropout = 0.0, lr = 3e-4;
  int threads = std::min(2, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  bool json = false, profile = false, prompt_given = false;
};

static Args parse(int argc, char** argv) {
  Args a;
  examples::Cli cli("gpt", "A small GPT language model: trains on a text corpus, then generates with a KV cache.");
  const int64_t big = int64_t{1} << 30;
  cli.add("--data", a.data, "text corpus: a file, or a directory of files")->existing_path();
  cli.integer("--steps", a.steps, "training steps (batches)", int64_t{0}, big);
  cli.integer("--batch-size", a.batch, "windows per batch", int64_t{1}, int64_t{1} << 16);
  cli.threads(a.threads);
  cli.integer("--seed", a.seed, "seed of initialization, batches and sampling", int64_t{0},
              std::numeric_limits<int64_t>::max());
  cli.add("--tokenizer", a.tokenizer, "char (the corpus's bytes) or bpe (SentencePiece, trained on the training part)")
      ->one_of({"char", "bpe"});
  cli.integer("--vocab-size", a.vocab_size, "pieces of the bpe tokenizer", int64_t{260}, int64_t{1} << 16);
  cli.integer("--context", a.context, "tokens per window (learned positions)", int64_t{2}, int64_t{1} << 14);
  cli.integer("--layers", a.layers, "transformer blocks", int64_t{1}, int64_t{256});
  cli.integer("--heads", a.heads, "attention heads (must divide --width)", int64_t{1}, int64_t{1024});
  cli.integer("--width", a.width, "model width", int64_t{1}, int64_t{1} << 16);
  cli.integer("--ff", a.ff, "hidden size of the MLP", int64_t{1}, int64_t{1} << 18);
  cli.add("--lr", a.lr, "AdamW learning rate")->range(0.0, 10.0);
  cli.integer("--warmup", a.warmup, "steps of linear learning-rate warm-up (0: none)", int64_t{0}, big);
  cli.add("--clip", a.clip, "clip the gradients' global norm to this (0: no clipping)")->range(0.0, 1e9);
  cli.add("--dropout", a.dropout, "dropout on embeddings and residual branches")->range(0.0, 0.95);
  cli.integer("--eval-batches", a.eval_batches, "validation batches", int64_t{1}, int64_t{1} << 16);
  cli.add("--save", a.save, "write the model and its tokenizer to this file after training");
  cli.add("--load", a.load, "load a model saved with --save and only generate (no training)")->existing_file();
  cli.add("--prompt", a.prompt, "text generation starts from");
  cli.integer("--gen", a.gen, "tokens to generate", int64_t{0}, big);
  cli.add("--temperature", a.temperature, "sampling temperature (0: greedy)")->range(0.0, 100.0);
  cli.integer("--top-k", a.top_k, "sample among the k most likely tokens (0: all)", int64_t{0}, big);
  cli.add("--top-p", a.top_p, "nucleus sampling: the most likely tokens up to this mass")->range(1e-6, 1.0);
  cli.flag("--json", a.json, "one line of JSON results on stdout");
  cli.flag("--profile", a.profile, "print the time per op of the training steps after the first to stderr");
  cli.parse(argc, argv);
  a.prompt_given = cli.count("--prompt") > 0;
  return a;
}

// Characters or SentencePiece pieces behind one interface; the model file stores either as a string.
struct AnyTokenizer {
  std::variant<data::CharTokenizer, data::Tokenizer> tok;
  int64_t vocab_size() const {
    return std::visit([](const auto& t) { return t.vocab_size(); }, tok);
  }
  std::vector<int64_t> encode(const std::string& s) const {
    if (auto* c = std::get_if<data::CharTokenizer>(&tok)) return c->encode(s).to_vector<int64_t>();
    return std::get<data::Tokenizer>(tok).encode(s);
  }
  std::string decode(const std::vector<int64_t>& ids) const {
    return std::visit([&](const auto& t) { return t.decode(ids); }, tok);
  }
  std::string kind() const { return tok.index() == 0 ? "char" : "bpe"; }
  std::string serialized() const {
    if (auto* c = std::get_if<data::CharTokenizer>(&tok)) return c->vocab();
    return std::get<data::Tokenizer>(tok).serialized();
  }
  static AnyTokenizer from(const std::string& kind, const std::string& bytes) {
    if (kind == "char") return {data::CharTokenizer(bytes)};
    return {data::Tokenizer::from_serialized(bytes)};
  }
};

static std::string to_hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) h += d[c >> 4], h += d[c & 15];
  return h;
}
static std::string from_hex(const std::string& h, const std::string& file) {
  NERVE_CHECK(h.size() % 2 == 0 && h.find_first_not_of("0123456789abcdef") == std::string::npos, "gpt: ", file,
              ": the tokenizer metadata is not hex");
  std::string s;
  for (size_t i = 0; i < h.size(); i += 2) s += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return s;
}

// splitmix64 (Steele et al. 2014): the training windows' offsets, drawn alike by bench/gpt_torch.py
static uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Windows of T + 1 tokens at the offsets: inputs (B, T) and next-token targets (B, T), i64
static std::pair<Tensor, Tensor> batch_at(const std::vector<int32_t>& tokens, const std::vector<int64_t>& offsets,
                                          int64_t T) {
  const int64_t B = static_cast<int64_t>(offsets.size());
  std::vector<int64_t> x(static_cast<size_t>(B * T)), y(x.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      x[static_cast<size_t>(b * T + t)] = tokens[static_cast<size_t>(offsets[b] + t)];
      y[static_cast<size_t>(b * T + t)] = tokens[static_cast<size_t>(offsets[b] + t + 1)];
    }
  return {from_vector(x, {B, T}), from_vector(y, {B, T})};
}

// Mean loss over eval_batches batches of windows at evenly spaced offsets of the validation tokens
static double validation_loss(gpt::GPT& model, const std::vector<int32_t>& val, const Args& a) {
  NoGradGuard no_grad;
  model.eval();
  const int64_t T = a.context, windows = a.eval_batches * a.batch;
  const int64_t stride = (static_cast<int64_t>(val.size()) - T - 1) / windows;
  double total = 0;
  for (int64_t i = 0; i < a.eval_batches; ++i) {
    std::vector<int64_t> offsets;
    for (int64_t b = 0; b < a.batch; ++b) offsets.push_back((i * a.batch + b) * stride);
    auto [x, y] = batch_at(val, offsets, T);
    total += nn::F::cross_entropy(model.forward(x).reshape({-1, model.config().vocab}), y.reshape({-1})).item<float>();
  }
  model.train();
  return total / static_cast<double>(a.eval_batches);
}

int main(int argc, char** argv) try {
  Args a = parse(argc, argv);
  set_num_threads(a.threads);
  manual_seed(static_cast<uint64_t>(a.seed));
  std::shared_ptr<gpt::GPT> model;
  std::optional<AnyTokenizer> tok;
  double tok_s = 0, val_loss = NAN, train_loss = NAN;
  std::string corpus_start;  // the default prompt gives way to the corpus's first bytes when they lack one of its bytes
  int64_t step = 0;
  if (!a.load.empty()) {  // the config and the tokenizer come from the file's metadata
    io::Metadata meta = io::read_safetensors(a.load).metadata;
    NERVE_CHECK(meta.count("user.gpt.config") && meta.count("user.gpt.tokenizer"), "gpt: ", a.load,
                " is not a model saved by gpt --save (no gpt.config / gpt.tokenizer metadata)");
    gpt::Config c;
    std::istringstream(meta["user.gpt.config"]) >> c.vocab >> c.context >> c.layers >> c.heads >> c.width >> c.ff;
    tok = AnyTokenizer::from(meta["user.gpt.tokenizer"], from_hex(meta["user.gpt.tokenizer_data"], a.load));
    model = std::make_shared<gpt::GPT>(c);
    io::TrainingState st{.model = model.get(), .rng = false};
    io::load_checkpoint(a.load, st);
    a.context = c.context;
  } else {
    std::string text = data::read_text_corpus({a.data});
    corpus_start = text.substr(0, 4);
    const size_t split = text.size() * 9 / 10;  // the tokenizer learns from the training part alone
    if (a.tokenizer == "char")
      tok = AnyTokenizer{data::CharTokenizer(text)};
    else
      tok = AnyTokenizer{data::Tokenizer::train(std::string_view(text).substr(0, split),
                                                {.model_type = "bpe", .vocab_size = a.vocab_size})};
    std::vector<int64_t> ids64 = tok->encode(text);
    const std::vector<int32_t> ids(ids64.begin(), ids64.end());
    const size_t n_train = a.tokenizer == "char" ? split : ids.size() * 9 / 10;
    const std::vector<int32_t> train(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(n_train));
    const std::vector<int32_t> val(ids.begin() + static_cast<ptrdiff_t>(n_train), ids.end());
    const int64_t T = a.context;
    NERVE_CHECK(static_cast<int64_t>(train.size()) > T + 1 && static_cast<int64_t>(val.size()) > T + 1, "gpt: ",
                a.data, " has ", ids.size(), " tokens: too few for windows of ", T + 1,
                " tokens in both its first 90% and its last 10%");
    model = std::make_shared<gpt::GPT>(gpt::Config{.vocab = tok->vocab_size(), .context = T, .layers = a.layers,
                                                   .heads = a.heads, .width = a.width, .ff = a.ff,
                                                   .dropout = a.dropout});
    optim::AdamW opt(model->parameters(), {.lr = a.lr, .weight_decay = 0.1});
    std::fprintf(stderr, "corpus %zu bytes, %zu tokens (%s, vocab %ld), %ld parameters\n", text.size(), ids.size(),
                 a.tokenizer.c_str(), long(tok->vocab_size()), long(model->num_parameters()));
    uint64_t rng = static_cast<uint64_t>(a.seed);
    const uint64_t positions = static_cast<uint64_t>(train.size()) - static_cast<uint64_t>(T);
    double t_train = 0;
    std::optional<profiler::Profile> prof;
    for (step = 0; step < a.steps; ++step) {
      if (a.profile && step == std::min<int64_t>(1, a.steps - 1)) prof.emplace();
      std::vector<int64_t> offsets;
      for (int64_t b = 0; b < a.batch; ++b) offsets.push_back(static_cast<int64_t>(splitmix64(rng) % positions));
      auto [x, y] = batch_at(train, offsets, T);
      auto t0 = clock_type::now();
      if (a.warmup > 0) opt.set_lr(a.lr * std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(a.warmup)));
      Tensor loss = nn::F::cross_entropy(model->forward(x).reshape({-1, tok->vocab_size()}), y.reshape({-1}));
      opt.zero_grad();
      loss.backward();
      if (a.clip > 0) optim::clip_grad_norm_(model->parameters(), a.clip);
      opt.step();
      train_loss = loss.item<float>();
      t_train += std::chrono::duration<double>(clock_type::now() - t0).count();
      if ((step + 1) % 50 == 0 || step + 1 == a.steps)
        std::fprintf(stderr, "step %5ld  train loss %.4f  %8.0f tok/s\n", long(step + 1), train_loss,
                     static_cast<double>((step + 1) * a.batch * T) / t_train);
    }
    if (prof) {
      prof->stop();
      std::fprintf(stderr, "%s", prof->table(25).c_str());
    }
    tok_s = t_train > 0 ? static_cast<double>(step * a.batch * T) / t_train : 0.0;
    val_loss = validation_loss(*model, val, a);
    std::fprintf(stderr, "val loss %.4f after %ld steps (%ld x %ld tokens each); training %.0f tok/s\n", val_loss,
                 long(step), long(a.batch), long(T), tok_s);
    if (!a.save.empty()) {
      const gpt::Config& c = model->config();
      io::TrainingState st{.model = model.get(), .rng = false, .step = step};
      st.extra["gpt.config"] = std::to_string(c.vocab) + " " + std::to_string(c.context) + " " +
                               std::to_string(c.layers) + " " + std::to_string(c.heads) + " " +
                               std::to_string(c.width) + " " + std::to_string(c.ff);
      st.extra["gpt.tokenizer"] = tok->kind();
      st.extra["gpt.tokenizer_data"] = to_hex(tok->serialized());
      io::save_checkpoint(a.save, st);
    }
  }

  // generation: the prompt fills the KV cache once, then each token costs one row of attention per layer; when the
  // context is full, the cache restarts from the last half of the context
  model->eval();
  gpt::KVCache cache;
  std::vector<int64_t> history;
  try {
    history = tok->encode(a.prompt);
  } catch (const Error& e) {
    NERVE_CHECK(!a.prompt_given && !corpus_start.empty(), "gpt: --prompt \"", a.prompt, "\" cannot be encoded: ",
                e.what());
    std::fprintf(stderr, "the default prompt \"%s\" has a byte the corpus lacks: the prompt is its first 4 bytes\n",
                 a.prompt.c_str());
    a.prompt = corpus_start;
    history = tok->encode(a.prompt);
  }
  NERVE_CHECK(!history.empty(), "gpt: --prompt is empty; generation needs at least one token");
  if (static_cast<int64_t>(history.size()) > a.context)
    history.erase(history.begin(), history.end() - a.context);
  auto step_fn = [&](const Tensor& ids) {
    if (cache.len + ids.size(1) > a.context) {
      history.erase(history.begin(), history.end() - a.context / 2);
      cache.clear();
      return model->decode(from_vector(history, {1, static_cast<int64_t>(history.size())}), cache);
    }
    return model->decode(ids, cache);
  };
  FILE* out = a.json ? stderr : stdout;
  std::fputs(a.prompt.c_str(), out);
  std::vector<int64_t> generated;
  std::string shown;
  auto t0 = clock_type::now();
  nn::generate(step_fn, history,
               {.max_new_tokens = a.gen, .temperature = a.temperature, .top_k = a.top_k,
                .seed = static_cast<uint64_t>(a.seed), .top_p = a.top_p},
               [&](int64_t id) {
                 history.push_back(id), generated.push_back(id);
                 std::string text = tok->decode(generated);  // pieces may end inside a UTF-8 character
                 if (text.size() > shown.size() && text.compare(0, shown.size(), shown) == 0) {
                   std::fputs(text.c_str() + shown.size(), out);
                   std::fflush(out);
                   shown = text;
                 }
               });
  const double t_gen = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::fputs("\n", out);
  const double gen_s = a.gen > 0 && t_gen > 0 ? static_cast<double>(a.gen) / t_gen : 0.0;

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double rss = static_cast<double>(ru.ru_maxrss) / 1024.0;
  using examples::json_number;
  if (a.json)
    std::printf("{\"impl\": \"nerve\", \"steps\": %ld, \"vocab\": %ld, \"tokens_per_second\": %s, \"train_loss\": %s, "
                "\"val_loss\": %s, \"generate_tokens_per_second\": %s, \"peak_rss_mib\": %.1f}\n",
                long(step), long(tok->vocab_size()), json_number(tok_s, 1).c_str(), json_number(train_loss, 6).c_str(),
                json_number(val_loss, 6).c_str(), json_number(gen_s, 1).c_str(), rss);
  else
    std::printf("training %.0f tok/s  val loss %.4f  generation %.0f tok/s  peak RSS %.0f MiB\n", tok_s, val_loss,
                gen_s, rss);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
