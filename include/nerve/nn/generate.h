// Autoregressive generation from a prompt: greedy or temperature + top-k + top-p sampling, streaming each token through
// a callback. The model is a step function that carries its own state (e.g. an LSTM's (h, c)), so the prompt is
// fed once and every new token costs one step.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve::nn {

/// Options of generate.
struct SamplingOptions {
  int64_t max_new_tokens = 200;
  /// Logits are divided by it before the softmax; <= 0 means greedy (argmax).
  double temperature = 1.0;
  /// Sample only among the k most likely tokens; 0 means all.
  int64_t top_k = 0;
  /// Seed of the sampler; unset: drawn from the global generator (so nerve::manual_seed fixes it).
  std::optional<uint64_t> seed = std::nullopt;
  /// Generation stops after this token (it is still emitted); -1: none.
  int64_t stop_token = -1;
  /// Nucleus sampling (Holtzman et al. 2020): only the most likely tokens whose probabilities (after temperature
  /// and top_k) add up to at least top_p; 1 means all.
  double top_p = 1.0;
};

/// Feeds token ids (1, n) i64 to the model, updating the state it carries, and returns logits whose last
/// row is the next-token distribution: (1, n, V), (n, V) or (V).
using StepFn = std::function<Tensor(const Tensor& ids)>;

/// The next token from one row of logits (V): argmax when temperature <= 0, else a draw from
/// softmax(logits / temperature) restricted to the top_k largest (0: all).
///   int64_t id = nn::sample_token(logits, 0.8, 10, rng);
int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, std::mt19937_64& rng);
/// The same, also restricted to the smallest set of most likely tokens whose probability reaches top_p (in (0, 1]).
///   int64_t id = nn::sample_token(logits, 0.8, 0, 0.9, rng);
int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, double top_p, std::mt19937_64& rng);

/// Runs step(prompt) once, then step(next token) for each new token, without recording gradients, on the threads of
/// set_num_threads (a token's products read every weight once: two threads read them about twice as fast; the
/// tokens are the same on any thread count). Each token is passed to on_token as soon as it is chosen; all of them
/// are returned.
///   std::optional<nn::LSTMState> st;
///   auto step = [&](const Tensor& ids) { auto [logits, s] = model->forward(ids, st); st = s; return logits; };
///   nn::generate(step, tok.encode("The ").to_vector<int64_t>(), {.max_new_tokens = 500, .temperature = 0.8,
///                .top_k = 10}, [&](int64_t id) { std::cout << tok.decode({id}) << std::flush; });
std::vector<int64_t> generate(const StepFn& step, const std::vector<int64_t>& prompt, const SamplingOptions& options,
                              const std::function<void(int64_t)>& on_token = {});

}  // namespace nerve::nn
