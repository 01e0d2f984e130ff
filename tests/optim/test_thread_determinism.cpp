// Results do not depend on the thread count: training steps of an MLP, an LSTM language model, convolutions and
// every optimizer on large odd-sized parameters give bit-identical parameters at 1, 2, 3, 4, 5 and 8 threads (chunk
// boundaries move with the thread count; a kernel's vector body and its remainder loop must round alike).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include <nerve/nerve.h>
#include <nerve/nn/embedding.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/loss.h>
#include <nerve/nn/rnn.h>
#include <nerve/optim/optim.h>

#include "backend/cpu/dnnl_conv.h"
#include "threads_guard.h"

using namespace nerve;
using nerve::testing::ThreadsGuard;

namespace {

constexpr int kThreadCounts[] = {1, 2, 3, 4, 5, 8};

// The raw bits of each tensor, in order (f32 compared as bytes: NaN payloads and -0 count too).
using Bits = std::vector<std::vector<unsigned char>>;
Bits bits_of(const std::vector<Tensor>& ts) {
  Bits out;
  for (const Tensor& t : ts) {
    Tensor c = t.contiguous();
    const auto* p = static_cast<const unsigned char*>(c.raw_data());
    out.emplace_back(p, p + c.numel() * static_cast<int64_t>(itemsize(c.dtype())));
  }
  return out;
}

// Index of the first differing element of tensor k (f32), for the failure message.
std::string first_difference(const Bits& a, const Bits& b) {
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] == b[k]) continue;
    if (a[k].size() != b[k].size()) return "tensor " + std::to_string(k) + " has another size";
    for (size_t i = 0; i < a[k].size(); i += 4)
      if (std::memcmp(&a[k][i], &b[k][i], 4) != 0)
        return "tensor " + std::to_string(k) + " element " + std::to_string(i / 4);
  }
  return "none";
}

// Runs `train` (which returns the tensors to compare) at each thread count and compares with 1 thread.
void expect_same_at_every_thread_count(const std::function<std::vector<Tensor>()>& train) {
  Bits ref;
  {
    ThreadsGuard g(1);
    ref = bits_of(train());
  }
  for (int threads : kThreadCounts) {
    if (threads == 1) continue;
    ThreadsGuard g(threads);
    Bits got = bits_of(train());
    EXPECT_TRUE(got == ref) << threads << " threads differ from 1 thread; first difference: "
                            << first_difference(ref, got);
  }
}

// One parameter of an odd size (not a multiple of any vector width; > 8 chunks of kParallelGrain) with seeded
// gradients, `steps` optimizer steps.
std::vector<Tensor> optimizer_run(const std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>& make,
                                  DType dtype = DType::f32) {
  constexpr int64_t n = 8 * kParallelGrain + 1237;
  manual_seed(7);
  Tensor p = randn({n}, dtype).requires_grad_();
  auto opt = make({p});
  for (int step = 0; step < 3; ++step) {
    p.set_grad(randn({n}, dtype));
    opt->step();
  }
  return {p};
}

}  // namespace

TEST(ThreadDeterminism, EveryOptimizer) {
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  const std::vector<std::pair<const char*, Make>> optimizers = {
      {"SGD", [](std::vector<Tensor> p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1}); }},
      {"SGD momentum wd",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1,
                                                                  .weight_decay = 1e-2});
       }},
      {"SGD nesterov",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
       }},
      {"Adam", [](std::vector<Tensor> p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 1e-2}); }},
      {"Adam wd amsgrad",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true});
       }},
      {"AdamW",
       [](std::vector<Tensor> p) { return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 1e-2}); }},
      {"AdamW amsgrad",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.lr = 1e-2, .amsgrad = true});
       }},
      {"RMSprop",
       [](std::vector<Tensor> p) { return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions{.lr = 1e-2}); }},
      {"RMSprop centered momentum wd",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::RMSprop>(
             p, optim::RMSpropOptions{.lr = 1e-2, .weight_decay = 1e-2, .momentum = 0.9, .centered = true});
       }},
      {"Adagrad",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions{.lr = 1e-2, .lr_decay = 1e-3,
                                                                          .weight_decay = 1e-2});
       }},
  };
  for (const auto& [name, make] : optimizers) {
    SCOPED_TRACE(name);
    expect_same_at_every_thread_count([&] { return optimizer_run(make); });
    expect_same_at_every_thread_count([&] { return optimizer_run(make, DType::f64); });
  }
}

TEST(ThreadDeterminism, MlpTrainingSteps) {
  expect_same_at_every_thread_count([] {
    manual_seed(3);
    nn::Linear fc1(784, 256), fc2(256, 10);
    std::vector<Tensor> params = fc1.parameters();
    for (const Tensor& p : fc2.parameters()) params.push_back(p);
    optim::Adam opt(params, {.lr = 1e-3});
    std::vector<Tensor> out;
    for (int step = 0; step < 3; ++step) {
      Tensor x = rand({96, 784});
      Tensor y = randint(0, 10, {96});
      Tensor loss = nn::functional::cross_entropy(fc2.forward(relu(fc1.forward(x))), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      out.push_back(loss.detach());
    }
    for (const Tensor& p : params) out.push_back(p.detach());
    return out;
  });
}

TEST(ThreadDeterminism, LstmTrainingSteps) {
  expect_same_at_every_thread_count([] {
    manual_seed(5);
    constexpr int64_t vocab = 61, batch = 48, seq = 12;
    nn::Embedding embed(vocab, 64);
    nn::LSTM lstm(nn::RNNOptions{.input_size = 64, .hidden_size = 160, .batch_first = true});
    nn::Linear fc(160, vocab);
    std::vector<Tensor> params = embed.parameters();
    for (const Tensor& p : lstm.parameters()) params.push_back(p);
    for (const Tensor& p : fc.parameters()) params.push_back(p);
    optim::Adam opt(params, {.lr = 2e-3});
    std::vector<Tensor> out;
    for (int step = 0; step < 2; ++step) {
      Tensor x = randint(0, vocab, {batch, seq});
      Tensor y = randint(0, vocab, {batch * seq});
      Tensor h = lstm.forward(embed.forward(x), std::nullopt).first;
      Tensor loss = nn::functional::cross_entropy(fc.forward(h).reshape({batch * seq, vocab}), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      out.push_back(loss.detach());
    }
    for (const Tensor& p : params) out.push_back(p.detach());
    return out;
  });
}

// A widening Linear (out >= 4 in, N >= 256: its weight gradient is computed as the transposed product and
// transposed back, src/ops/linalg.cpp) between two layers, so both its input and weight gradients are taken: the
// gradients are bit-identical at every thread count and equal g^T x computed by matmul.
TEST(ThreadDeterminism, WideningLinearWeightGradient) {
  auto run = [] {
    manual_seed(11);
    nn::Linear a(24, 40), wide(40, 168), b(168, 8);
    Tensor x = randn({300, 24});
    Tensor h = wide.forward(a.forward(x));
    sum(b.forward(gelu(h, "tanh")) * randn({300, 8})).backward();
    return std::vector<Tensor>{wide.weight.grad(), wide.bias.grad(), a.weight.grad()};
  };
  expect_same_at_every_thread_count(run);
  // against g^T x: the same forward with h's gradient captured by a hook-free route (h = a(x) @ W^T + bias)
  manual_seed(11);
  nn::Linear a(24, 40), wide(40, 168), b(168, 8);
  Tensor x = randn({300, 24});
  Tensor ax = a.forward(x).detach();
  Tensor h = (matmul(ax, transpose(wide.weight, 0, 1)) + wide.bias).detach().requires_grad_();
  sum(b.forward(gelu(h, "tanh")) * randn({300, 8})).backward();
  const Tensor expected = matmul(transpose(h.grad(), 0, 1), ax);  // (168, 40)
  const Tensor got = run()[0];
  ASSERT_EQ(got.shape(), (Shape{168, 40}));
  EXPECT_LT(max(abs(got - expected)).item<float>(), 1e-4f * (1.f + max(abs(expected)).item<float>()));
}

// Convolutions, on both paths (oneDNN in pieces of the batch, and im2col + GEMM): a plain, a depthwise strided and
// a dilated grouped conv2d, batch 10 (pieces of uneven sizes), input and parameter gradients and SGD steps.
TEST(ThreadDeterminism, ConvTrainingSteps) {
  for (bool dnnl : {true, false}) {
    SCOPED_TRACE(dnnl ? "oneDNN" : "im2col");
    nerve::cpu::set_dnnl_conv_enabled(dnnl);
    expect_same_at_every_thread_count([] {
      manual_seed(9);
      Tensor w1 = (randn({16, 3, 3, 3}) * 0.2).requires_grad_(), b1 = randn({16}).requires_grad_();
      Tensor w2 = (randn({16, 1, 3, 3}) * 0.3).requires_grad_(), b2 = randn({16}).requires_grad_();
      Tensor w3 = (randn({24, 4, 3, 3}) * 0.1).requires_grad_();
      std::vector<Tensor> params = {w1, b1, w2, b2, w3};
      optim::SGD opt(params, {.lr = 0.01, .momentum = 0.9});
      std::vector<Tensor> out;
      for (int step = 0; step < 2; ++step) {
        Tensor x = randn({10, 3, 32, 32}).requires_grad_();
        Tensor h = relu(conv2d(x, w1, b1, {1}, {1}));
        h = relu(conv2d(h, w2, b2, {2}, {1}, {1}, 16));
        h = conv2d(h, w3, Tensor(), {1}, ConvPadding("same"), {2}, 4);
        Tensor loss = mean(mul(h, h));
        opt.zero_grad();
        loss.backward();
        opt.step();
        out.push_back(loss.detach());
        out.push_back(x.grad());
      }
      for (const Tensor& p : params) out.push_back(p.detach());
      return out;
    });
  }
  nerve::cpu::set_dnnl_conv_enabled(true);
}
