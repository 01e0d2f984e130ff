// A character-level LSTM language model on the fortune cookie corpus, translated line by line from the PyTorch
// program bench/char_lstm_torch.py: Embedding(128) -> LSTM(256) -> Linear(vocab), cross-entropy, Adam 2e-3,
// windows of 64 bytes in batches of 32; it prints loss and perplexity, then generates text from a prompt.
//   char_lstm --steps 200 --threads 2 --json
//   char_lstm --steps 100 --profile      (time per op and per backward node; --trace t.json: a Chrome trace too)
//   char_lstm --steps 100 --save c.st; char_lstm --steps 200 --resume c.st   (= 200 steps straight, bit for bit)
//   char_lstm --load c.st --gen 500      (generate from the saved model, no training)
//   mpirun -np 2 char_lstm --stateful --batch 16   (each rank carries the state of its 16 of the job's 32 streams)
#include <sys/resource.h>

#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include <nerve/data/dataloader.h>
#include <nerve/data/text.h>
#include <nerve/nerve.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/generate.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/loss.h>
#include <nerve/nn/rnn.h>
#include <nerve/optim/adam.h>

#include "common/cli.h"

using namespace nerve;

constexpr int64_t kHidden = 256;

struct LSTMModel : nn::Module {
  LSTMModel(int64_t vocab, int64_t embed_dim = 128, int64_t hidden = kHidden) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab, embed_dim));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(nn::RNNOptions{
                                       .input_size = embed_dim, .hidden_size = hidden, .batch_first = true}));
    fc = register_module("fc", std::make_shared<nn::Linear>(hidden, vocab));
  }
  // x: (B, T) token ids -> logits (B, T, vocab) and the final LSTM state
  std::pair<Tensor, nn::LSTMState> forward(const Tensor& x, const std::optional<nn::LSTMState>& state) {
    auto [out, st] = lstm->forward(embed->forward(x), state);
    return {fc->forward(out), st};
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc;
};

struct Args {
  std::string data = "/usr/share/games/fortunes", prompt = "The ", trace, save, resume, load;
  int64_t steps = 200, epochs = 0, seed = 0, seq = 64, batch = 32, gen = 1000;
  int threads = std::min(2, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  bool json = false, stateful = false, profile = false, prompt_given = false, no_overlap = false;
  int64_t own_bucket_kb = 256;
};

static Args parse(int argc, char** argv) {
  Args a;
  examples::Cli cli("char_lstm", "A character-level LSTM language model: trains on a text corpus, then generates.");
  cli.add("--data", a.data, "text corpus: a file, or a directory of files")->existing_path();
  cli.integer("--steps", a.steps, "training steps (batches)", int64_t{1}, int64_t{1} << 40);
  cli.integer("--epochs", a.epochs, "full passes over the corpus instead of --steps (0: use --steps)", int64_t{0},
              int64_t{1000000});
  cli.threads(a.threads);
  cli.integer("--seed", a.seed, "seed of initialization, shuffling and sampling", int64_t{0},
              std::numeric_limits<int64_t>::max());
  cli.integer("--seq", a.seq, "characters per training window", int64_t{1}, int64_t{1} << 20);
  cli.integer("--batch", a.batch, "windows per batch", int64_t{1}, int64_t{1} << 20);
  cli.integer("--gen", a.gen, "characters to generate after training", int64_t{0}, int64_t{1} << 30);
  cli.add("--prompt", a.prompt, "text generation starts from");
  cli.flag("--json", a.json, "one line of JSON results on stdout");
  cli.flag("--no-overlap", a.no_overlap, "under mpirun: all-reduce the gradients after backward, not during it");
  cli.integer("--own-bucket-kb", a.own_bucket_kb, "under mpirun: gradients of at least this many KB are all-reduced in "
              "place, each in a bucket of its own (0: all share 25 MB buckets)", int64_t{0}, int64_t{1} << 30);
  cli.flag("--stateful", a.stateful, "truncated backpropagation through time over contiguous streams");
  cli.flag("--profile", a.profile, "print the time per op to stderr");
  cli.add("--trace", a.trace, "also write a Chrome trace of the profiled steps to this file");
  cli.add("--save", a.save, "write a training checkpoint (model, Adam, generator, step) to this file at the end");
  cli.add("--resume", a.resume, "resume training from this checkpoint (then train up to --steps in all)")
      ->existing_file();
  cli.add("--load", a.load, "load the model of this checkpoint and only generate (no training)")
      ->existing_file();
  cli.parse(argc, argv);
  a.prompt_given = cli.count("--prompt") > 0;
  return a;
}

// The prompt to generate from, checked before training rather than after it: --prompt must be made of bytes the
// corpus uses; the default "The " gives way to the corpus's first 4 bytes when the corpus lacks one of its bytes.
static std::string checked_prompt(const Args& a, const data::CharTokenizer& tok, const std::string& text) {
  NERVE_CHECK(!a.prompt.empty(), "char_lstm: --prompt is empty; generation needs at least one character");
  for (size_t i = 0; i < a.prompt.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(a.prompt[i]);
    if (tok.id(c) >= 0) continue;
    char byte[16];
    std::snprintf(byte, sizeof byte, std::isprint(c) ? "0x%02X '%c'" : "0x%02X", c, c);
    NERVE_CHECK(!a.prompt_given, "char_lstm: --prompt \"", a.prompt, "\" holds byte ", byte, " at offset ", i,
                ", which the corpus ", a.data, " never uses (its vocabulary has ", tok.vocab_size(),
                " bytes); use a prompt made of the corpus's characters");
    std::fprintf(stderr, "the corpus has no byte %s: the prompt is its first 4 bytes instead of \"%s\"\n", byte,
                 a.prompt.c_str());
    return text.substr(0, 4);
  }
  return a.prompt;
}

int main(int argc, char** argv) try {
  using clock = std::chrono::steady_clock;
  Args a = parse(argc, argv);
  if (!a.trace.empty()) check_writable(a.trace, "char_lstm: --trace");  // before the corpus is read and trained on
  set_num_threads(a.threads);
  manual_seed(static_cast<uint64_t>(a.seed));

  std::string text = data::read_text_corpus({a.data});
  data::CharTokenizer tok(text);
  const int64_t vocab = tok.vocab_size();
  a.prompt = checked_prompt(a, tok, text);
  const size_t corpus_bytes = text.size();
  // one byte per character, encoded once for both modes; the text itself is not needed any more
  const Tensor tokens = tok.encode(text, DType::u8);
  std::string().swap(text);
  auto dataset = std::make_shared<data::SequenceWindowDataset>(tokens, a.seq);
  // under mpirun -np N: each rank trains on its shard of every epoch's shuffled windows, --batch per rank
  const int world = dist::world_size(), rank = dist::rank();
  data::DataLoader loader(dataset, {.batch_size = a.batch, .shuffle = true, .drop_last = true,
                                    .seed = static_cast<uint64_t>(a.seed),
                                    .sampler = world > 1 ? dist::sampler({.seed = static_cast<uint64_t>(a.seed),
                                                                          .drop_last = true})
                                                         : nullptr});
  auto model = std::make_shared<LSTMModel>(vocab);
  optim::Adam opt(model->parameters(), {.lr = 2e-3});
  if (rank == 0) std::fprintf(stderr, "corpus %zu bytes, vocab %ld, %ld windows, %ld parameters\n", corpus_bytes, long(vocab),
               long(dataset->size()), long(model->num_parameters()));

  NERVE_CHECK(loader.size() > 0, "char_lstm: the corpus has ", dataset->size(), " windows, fewer than one batch of ",
              a.batch);
  // --stateful reads the corpus as a.batch streams (truncated BPTT) instead of shuffled windows; under mpirun -np N
  // the job reads N x a.batch streams and each rank its own a.batch of them (the rows one process with --batch
  // N x a.batch trains), carrying their hidden state from step to step
  auto streams = a.stateful ? std::make_optional(data::StreamBatches(tokens, world * a.batch, a.seq).shard(rank, world))
                            : std::nullopt;
  // --epochs E runs E full passes; otherwise --steps batches
  const int64_t per_epoch = streams ? streams->size() : loader.size();
  const int64_t total = a.epochs > 0 ? a.epochs * per_epoch : a.steps;
  int64_t step = 0;
  // --resume: the model, Adam, the generator and the step of a checkpoint that --save wrote; the shuffled loader
  // goes on from the same epoch and batch. --load: the model's weights only, no training (generate from it).
  NERVE_CHECK(!(a.stateful && !a.resume.empty()), "char_lstm: --resume works with shuffled windows, not --stateful "
              "(the carried LSTM state is not in the checkpoint)");
  io::TrainingState ckpt{.model = model.get(), .optimizer = &opt};
  if (!a.resume.empty()) {
    io::load_checkpoint(a.resume, ckpt);
    step = ckpt.step;
    loader.set_epoch(step / per_epoch);
  }
  if (!a.load.empty()) {
    io::TrainingState weights{.model = model.get(), .optimizer = nullptr, .rng = false};
    io::load_checkpoint(a.load, weights);
  }
  // gradients averaged over the ranks during backward (a world of one: no-op); rank 0's weights to every rank
  dist::DistributedDataParallel ddp(*model, {.overlap = !a.no_overlap, .own_bucket_bytes = a.own_bucket_kb * 1024});
  const int64_t train_until = a.load.empty() ? total : 0, first_step = step;
  double loss_v = NAN, t_train = 0;
  std::vector<double> recent;  // the last 20 losses: a less noisy figure than the last batch's
  std::optional<profiler::Profile> prof;  // --profile: time per op from step 10 (after warm-up) to the end
  auto train_step = [&](const data::Example& batch, std::optional<nn::LSTMState>& carried) {
    if ((a.profile || !a.trace.empty()) && step == std::min<int64_t>(10, total - 1))
      prof.emplace(profiler::ProfileOptions{.record_events = !a.trace.empty()});
    auto t0 = clock::now();
    auto [logits, state] = model->forward(batch.data, carried);
    Tensor loss = F::cross_entropy(logits.reshape({-1, vocab}), batch.target.reshape({-1}));
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (carried) carried = nn::LSTMState{state.h.detach(), state.c.detach()};  // truncated BPTT: keep the state
    loss_v = loss.item<float>();
    recent.push_back(loss_v);
    if (recent.size() > 20) recent.erase(recent.begin());
    t_train += std::chrono::duration<double>(clock::now() - t0).count();
    ++step;
    if (rank == 0 && (step % 50 == 0 || step == total))
      std::fprintf(stderr, "step %5ld  loss %.4f  ppl %7.2f  %8.0f tok/s\n", long(step), loss_v, std::exp(loss_v),
                   world * (step - first_step) * a.batch * a.seq / t_train);
  };
  if (a.stateful) {  // --stateful: a.batch contiguous streams read in order, the hidden state carried between batches
    std::optional<nn::LSTMState> state;
    for (int64_t i = 0; step < train_until; ++i) {
      if (i % streams->size() == 0)  // each pass over the streams starts from a zero state
        state = nn::LSTMState{zeros({1, a.batch, kHidden}), zeros({1, a.batch, kHidden})};
      train_step(streams->get(i % streams->size()), state);
    }
  } else {
    int64_t skip = step % per_epoch;  // resumed inside an epoch: its first batches were trained on already
    while (step < train_until) {
      std::optional<nn::LSTMState> none;
      for (auto& batch : loader) {
        if (skip > 0 && skip--) continue;
        if (step >= train_until) break;
        train_step(batch, none);
      }
    }
  }
  double mean_recent = 0;
  for (double l : recent) mean_recent += l / static_cast<double>(recent.size());
  if (world > 1) {  // the job's losses: every rank's (over batches of the same size) averaged over the ranks
    Tensor l = from_vector<double>({loss_v, mean_recent});
    dist::all_reduce(l, dist::ReduceOp::average);
    loss_v = l.data<double>()[0];
    mean_recent = l.data<double>()[1];
  }
  if (rank != 0) return 0;  // rank 0 alone saves, generates and reports (the weights are the same on every rank)
  if (!a.save.empty()) {  // --save: everything --resume needs to go on as if the run had not stopped
    ckpt.step = step;
    io::save_checkpoint(a.save, ckpt);
  }

  if (prof) {
    prof->stop();
    std::fprintf(stderr, "%s", prof->table(25).c_str());
    if (!a.trace.empty()) prof->export_chrome_trace(a.trace);
  }

  // generation: the prompt is fed once, then each character costs one LSTM step (the state is carried)
  model->eval();
  std::optional<nn::LSTMState> st;
  auto step_fn = [&](const Tensor& ids) {
    auto [logits, s] = model->forward(ids, st);
    st = s;
    return logits;
  };
  std::string sample = a.prompt;
  auto t0 = clock::now();
  nn::generate(step_fn, tok.encode(a.prompt).to_vector<int64_t>(),
               {.max_new_tokens = a.gen, .temperature = 0.8, .top_k = 10, .seed = static_cast<uint64_t>(a.seed)},
               [&](int64_t id) { sample += tok.vocab()[static_cast<size_t>(id)]; });
  double t_gen = std::chrono::duration<double>(clock::now() - t0).count();
  std::fprintf(stderr, "sample: %s\n", sample.substr(0, 300 + a.prompt.size()).c_str());

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  // the job's throughput: every rank trained (step - first_step) batches of its own
  const double tok_s = t_train > 0 ? world * (step - first_step) * a.batch * a.seq / t_train : 0.0;
  const double gen_s = a.gen / t_gen, rss = ru.ru_maxrss / 1024.0;
  using examples::json_number;  // NaN and inf are written as null: JSON has no NaN
  // under mpirun: the ranks, and the share of training time rank 0 spent waiting for the gradient all-reduce
  std::string dist_json;
  if (world > 1)
    dist_json = ", \"ranks\": " + std::to_string(world) + ", \"comm_wait_fraction\": " +
                json_number(ddp.stats().wait_seconds / t_train, 4) + ", \"overlap\": " + (a.no_overlap ? "false" : "true");
  if (a.json)
    std::printf("{\"impl\": \"nerve\", \"steps\": %ld, \"tokens_per_second\": %s, \"final_loss\": %s, "
                "\"mean_loss_last20\": %s, \"generate_chars_per_second\": %s, \"peak_rss_mib\": %.1f%s}\n",
                long(step), json_number(tok_s, 1).c_str(), json_number(loss_v, 6).c_str(),
                json_number(mean_recent, 6).c_str(), json_number(gen_s, 1).c_str(), rss, dist_json.c_str());
  else
    std::printf("tokens/s %.0f  final loss %.4f  generate %.0f chars/s  peak RSS %.0f MiB\n", tok_s, loss_v, gen_s, rss);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
