// Token sampling (greedy, temperature, top-k, top-p) and the autoregressive generation loop.
#include "nerve/nn/generate.h"

#include <algorithm>
#include <cmath>

#include "nerve/autograd/grad_mode.h"
#include "nerve/core/parallel.h"
#include "nerve/core/rng.h"
#include "nerve/ops/ops.h"

namespace nerve::nn {

int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, std::mt19937_64& rng) {
  return sample_token(logits, temperature, top_k, 1.0, rng);
}

int64_t sample_token(const Tensor& logits, double temperature, int64_t top_k, double top_p, std::mt19937_64& rng) {
  NERVE_CHECK(logits.dim() == 1 && logits.numel() > 0 && is_floating(logits.dtype()),
              "sample_token: expected a non-empty 1-D floating tensor of logits, got ", to_string(logits.shape()), " ",
              dtype_name(logits.dtype()));
  NERVE_CHECK(top_k >= 0, "sample_token: top_k must be >= 0, got ", top_k);
  NERVE_CHECK(top_p > 0 && top_p <= 1, "sample_token: top_p must be in (0, 1], got ", top_p);
  std::vector<double> l = logits.to_vector<double>();
  const int64_t V = static_cast<int64_t>(l.size());
  if (temperature <= 0) return std::max_element(l.begin(), l.end()) - l.begin();
  // top-k: the k-th largest logit is the cut-off (ties at the cut-off are kept, as torch.topk + masking does)
  double cut = -INFINITY;
  if (top_k > 0 && top_k < V) {
    std::vector<double> s = l;
    std::nth_element(s.begin(), s.begin() + (top_k - 1), s.end(), std::greater<double>());
    cut = s[top_k - 1];
  }
  const double mx = *std::max_element(l.begin(), l.end());
  double total = 0;
  for (double& v : l) {
    v = v < cut ? 0.0 : std::exp((v - mx) / temperature);
    total += v;
  }
  if (top_p < 1) {  // nucleus: keep the most likely tokens until their mass reaches top_p (ties at the cut kept)
    std::vector<double> s = l;
    std::sort(s.begin(), s.end(), std::greater<double>());
    double mass = 0, cut_p = s[0];
    for (double p : s) {
      mass += p;
      cut_p = p;
      if (mass >= top_p * total * (1 - 1e-12)) break;  // a mass of exactly top_p suffices despite rounding
    }
    total = 0;
    for (double& v : l) {
      if (v < cut_p) v = 0.0;
      total += v;
    }
  }
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (int64_t i = 0; i < V; ++i) {
    if (u < l[i]) return i;
    u -= l[i];
  }
  for (int64_t i = V - 1; i >= 0; --i)  // rounding left u just above the last mass
    if (l[i] > 0) return i;
  return V - 1;
}

std::vector<int64_t> generate(const StepFn& step, const std::vector<int64_t>& prompt, const SamplingOptions& options,
                              const std::function<void(int64_t)>& on_token) {
  NERVE_CHECK(!prompt.empty(), "generate: the prompt needs at least one token");
  NERVE_CHECK(options.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got ", options.max_new_tokens);
  NoGradGuard no_grad;
  std::mt19937_64 rng(options.seed ? *options.seed : generator()());
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(options.max_new_tokens));
  Tensor ids = from_vector(prompt, {1, static_cast<int64_t>(prompt.size())});
  int64_t vocab = -1;
  for (int64_t i = 0; i < options.max_new_tokens; ++i) {
    Tensor logits = step(ids);
    NERVE_CHECK(logits.defined(), "generate: the step function returned an undefined tensor, expected logits");
    // one sequence is fed: logits (1, T, V) (batch first) or (1, V), the same V at every step
    const bool ok = (logits.dim() == 2 || logits.dim() == 3) && logits.shape()[0] == 1 && logits.numel() > 0;
    NERVE_CHECK(ok && (vocab < 0 || logits.shape().back() == vocab), "generate: the step function returned logits ",
                to_string(logits.shape()), " ", dtype_name(logits.dtype()), " for ids ", to_string(ids.shape()),
                "; expected (1, T, V) or (1, V)", vocab < 0 ? "" : " with V = ",
                vocab < 0 ? std::string() : std::to_string(vocab), " (the vocabulary of the first step)");
    vocab = logits.shape().back();
    Tensor rows = logits.reshape({-1, vocab});
    int64_t next = sample_token(rows.select(0, rows.shape()[0] - 1), options.temperature, options.top_k,
                                options.top_p, rng);
    out.push_back(next);
    if (on_token) on_token(next);
    if (next == options.stop_token) break;
    ids = from_vector(std::vector<int64_t>{next}, {1, 1});
  }
  return out;
}

}  // namespace nerve::nn
